package tokens

import "sync"

// maxAncestorWalk bounds the parent walk of IsRevoked, so that a corrupt
// (cyclic) parent relation cannot loop. Real chains are at most
// MaxDelegationDepth+1 long.
const maxAncestorWalk = 16

// RevocationSet is an in-memory revocation set with cascade (PROTOCOL.md
// §3.3): a token is revoked if it or any ancestor is revoked, so revoking a
// token revokes every descendant, including descendants registered later.
// IsRevoked costs O(depth). It is safe for concurrent use; the zero value is
// not ready, use NewRevocationSet. Durability is the caller's business: load
// the registered tokens and revoked ids at start.
type RevocationSet struct {
	mu       sync.RWMutex
	parent   map[string]string   // tokenId -> parentTokenId ("" for roots)
	children map[string][]string // parentTokenId -> child tokenIds
	revoked  map[string]bool     // explicitly or cascade-revoked ids
}

// NewRevocationSet returns an empty set.
func NewRevocationSet() *RevocationSet {
	return &RevocationSet{
		parent:   map[string]string{},
		children: map[string][]string{},
		revoked:  map[string]bool{},
	}
}

// Register records the token's parent ("" for a root). Registering the same
// pair again is a no-op; a token's parent never changes once registered.
func (s *RevocationSet) Register(tokenID, parentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.parent[tokenID]; ok {
		return
	}
	s.parent[tokenID] = parentID
	if parentID != "" {
		s.children[parentID] = append(s.children[parentID], tokenID)
	}
}

// Revoke revokes id and, transitively, every registered descendant. It
// returns the ids newly revoked by this call (id first, then descendants in
// breadth-first order); revoking an already revoked token returns only
// descendants not yet marked. An unknown id is revoked too, so that a token
// registered later under that id (or below it) is revoked.
func (s *RevocationSet) Revoke(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	queue := []string{id}
	seen := map[string]bool{id: true}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if !s.revoked[t] {
			s.revoked[t] = true
			out = append(out, t)
		}
		for _, c := range s.children[t] {
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	return out
}

// IsRevoked reports whether id or any of its registered ancestors is revoked.
func (s *RevocationSet) IsRevoked(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := 0; i < maxAncestorWalk && id != ""; i++ {
		if s.revoked[id] {
			return true
		}
		id = s.parent[id]
	}
	return false
}

// Len reports the number of revoked ids (explicit and cascaded).
func (s *RevocationSet) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.revoked)
}

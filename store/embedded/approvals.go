package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// approvalRec is the stored form: the approval plus its version, which
// store.Approval keeps out of its JSON.
type approvalRec struct {
	store.Approval
	Ver int64 `json:"version"`
}

func normApproval(a store.Approval) store.Approval {
	if a.Votes == nil {
		a.Votes = []store.ApprovalVote{}
	}
	a.Params = nilIfEmpty(a.Params)
	a.Decision = nilIfEmpty(a.Decision)
	a.Extra = nilIfEmpty(a.Extra)
	return a
}

func loadApproval(b *bolt.Bucket, id []byte) (store.Approval, bool, error) {
	v := b.Get(id)
	if v == nil {
		return store.Approval{}, false, nil
	}
	var r approvalRec
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Approval{}, false, fmt.Errorf("decode approval %q: %w", id, err)
	}
	r.Approval.Version = r.Ver
	return normApproval(r.Approval), true, nil
}

func reqKey(agentID, requestID string) []byte { return append(lp(agentID), requestID...) }

func timeKey(a store.Approval) []byte { return append(ordered(a.CreatedAt), a.ApprovalID...) }

func stateKey(a store.Approval) []byte {
	return append(append(lp(a.State), ordered(a.CreatedAt)...), a.ApprovalID...)
}

func putApproval(tx *bolt.Tx, a store.Approval) error {
	if err := tx.Bucket(bApprovalTime).Put(timeKey(a), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bApprovalState).Put(stateKey(a), nil); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bApprovals), a.ApprovalID, approvalRec{Approval: a, Ver: a.Version})
}

// CreateApproval stores a new approval with Version 1 (the given Version is
// ignored) and returns it as stored. If an approval exists for (AgentID,
// RequestID) it returns that one and ErrExists; if only the ApprovalID is
// taken it returns the zero Approval and an error wrapping ErrExists.
func (s *Store) CreateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	if err := check.Approval(a); err != nil {
		return store.Approval{}, wrap("create approval", err)
	}
	a = normApproval(a)
	a.Version = 1
	var existing store.Approval
	err := s.update(ctx, func(tx *bolt.Tx) error {
		existing = store.Approval{} // fn may run again (group commit retry)
		approvals, byReq := tx.Bucket(bApprovals), tx.Bucket(bApprovalReq)
		rk := reqKey(a.AgentID, a.RequestID)
		if id := byReq.Get(rk); id != nil {
			old, ok, err := loadApproval(approvals, id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("approval index points to missing approval %q", id)
			}
			existing = old
			return store.ErrExists
		}
		if approvals.Get([]byte(a.ApprovalID)) != nil {
			return fmt.Errorf("approval id %q is taken by another request: %w", a.ApprovalID, store.ErrExists)
		}
		if err := byReq.Put(rk, []byte(a.ApprovalID)); err != nil {
			return err
		}
		return putApproval(tx, a)
	})
	if errors.Is(err, store.ErrExists) && existing.ApprovalID != "" {
		return existing, store.ErrExists
	}
	if err != nil {
		return store.Approval{}, wrap("create approval", err)
	}
	return a, nil
}

// GetApproval returns the approval with the given id, or ErrNotFound.
func (s *Store) GetApproval(ctx context.Context, id string) (store.Approval, error) {
	var out store.Approval
	err := s.view(ctx, func(tx *bolt.Tx) error {
		a, ok, err := loadApproval(tx.Bucket(bApprovals), []byte(id))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		out = a
		return nil
	})
	if err != nil {
		return store.Approval{}, wrap("get approval", err)
	}
	return out, nil
}

// UpdateApproval replaces the approval if its stored Version equals
// a.Version and returns it with Version a.Version+1; ErrConflict otherwise,
// ErrNotFound if it does not exist. AgentID and RequestID are the
// approval's identity and cannot change (a plain error).
func (s *Store) UpdateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	if err := check.Approval(a); err != nil {
		return store.Approval{}, wrap("update approval", err)
	}
	a = normApproval(a)
	next := a
	next.Version = a.Version + 1
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, ok, err := loadApproval(tx.Bucket(bApprovals), []byte(a.ApprovalID))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if old.Version != a.Version {
			return store.ErrConflict
		}
		if old.AgentID != a.AgentID || old.RequestID != a.RequestID {
			return errors.New("agentId and requestId of an approval cannot change")
		}
		if err := tx.Bucket(bApprovalTime).Delete(timeKey(old)); err != nil {
			return err
		}
		if err := tx.Bucket(bApprovalState).Delete(stateKey(old)); err != nil {
			return err
		}
		return putApproval(tx, next)
	})
	if err != nil {
		return store.Approval{}, wrap("update approval", err)
	}
	return next, nil
}

// ListApprovals returns approvals in state ("" = every state), newest
// CreatedAt first, ties by approval id descending; at most limit when
// limit > 0.
func (s *Store) ListApprovals(ctx context.Context, state string, limit int) ([]store.Approval, error) {
	out := []store.Approval{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var idx *bolt.Bucket
		var prefix []byte
		if state == "" {
			idx = tx.Bucket(bApprovalTime)
		} else {
			idx, prefix = tx.Bucket(bApprovalState), lp(state)
		}
		approvals := tx.Bucket(bApprovals)
		c := idx.Cursor()
		for k := lastWithPrefix(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if limit > 0 && len(out) >= limit {
				break
			}
			id := k[len(prefix)+8:]
			a, ok, err := loadApproval(approvals, id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("approval index points to missing approval %q", id)
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list approvals", err)
	}
	return out, nil
}

// lastWithPrefix positions c on the last key that starts with prefix (or
// on a key before it, which the caller's prefix check rejects).
func lastWithPrefix(c *bolt.Cursor, prefix []byte) []byte {
	succ := prefixSuccessor(prefix)
	if succ == nil {
		k, _ := c.Last()
		return k
	}
	k, _ := c.Seek(succ)
	if k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ = c.Prev()
	return k
}

// prefixSuccessor returns the smallest key greater than every key that
// starts with prefix, or nil if there is none (empty or all-0xff prefix).
func prefixSuccessor(prefix []byte) []byte {
	p := bytes.Clone(prefix)
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xff {
			p[i]++
			return p[:i+1]
		}
	}
	return nil
}

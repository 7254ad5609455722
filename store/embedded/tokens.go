package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

type tokenRec struct {
	Raw          string `json:"raw"`
	Issuer       string `json:"issuer"`
	Subject      string `json:"subject"`
	Parent       string `json:"parent,omitempty"`
	RegisteredAt int64  `json:"registeredAtUs"`
	RevokedAt    *int64 `json:"revokedAtUs,omitempty"`
}

func (r tokenRec) record(id string) store.TokenRecord {
	t := store.TokenRecord{
		TokenID: id, Raw: r.Raw, Issuer: r.Issuer, Subject: r.Subject,
		ParentTokenID: r.Parent, RegisteredAt: fromMicros(r.RegisteredAt),
	}
	if r.RevokedAt != nil {
		at := fromMicros(*r.RevokedAt)
		t.RevokedAt = &at
	}
	return t
}

func loadToken(b *bolt.Bucket, id []byte) (tokenRec, bool, error) {
	v := b.Get(id)
	if v == nil {
		return tokenRec{}, false, nil
	}
	var r tokenRec
	if err := json.Unmarshal(v, &r); err != nil {
		return tokenRec{}, false, fmt.Errorf("decode token %q: %w", id, err)
	}
	return r, true, nil
}

func revokedKey(us int64, id string) []byte {
	return append(ordered(us), id...)
}

// PutToken registers t. Registering the same bytes again is a no-op;
// other bytes under a registered id give ErrExists. A token whose parent is
// already revoked is stored revoked, with the parent's RevokedAt (so that a
// cascade can never be escaped by registering under a revoked token). A
// RevokedAt given by the caller is kept. A token stored revoked also revokes
// the tokens registered earlier with it as their parent.
func (s *Store) PutToken(ctx context.Context, t store.TokenRecord) error {
	if err := check.Token(t); err != nil {
		return wrap("put token", err)
	}
	return wrap("put token", s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bTokens)
		old, ok, err := loadToken(b, []byte(t.TokenID))
		if err != nil {
			return err
		}
		if ok {
			if old.Raw == t.Raw {
				return nil
			}
			return store.ErrExists
		}
		rec := tokenRec{
			Raw: t.Raw, Issuer: t.Issuer, Subject: t.Subject,
			Parent: t.ParentTokenID, RegisteredAt: micros(t.RegisteredAt),
		}
		if t.RevokedAt != nil {
			us := micros(*t.RevokedAt)
			rec.RevokedAt = &us
		} else if us, ok := revokedID(tx, t.TokenID, rec.Parent); ok {
			rec.RevokedAt = &us // its id (or its parent's) was revoked before it was registered
		}
		if rec.Parent != "" {
			parent, ok, err := loadToken(b, []byte(rec.Parent))
			if err != nil {
				return err
			}
			if ok && parent.RevokedAt != nil && rec.RevokedAt == nil {
				us := *parent.RevokedAt
				rec.RevokedAt = &us
			}
			if err := tx.Bucket(bTokenChildren).Put(append(lp(rec.Parent), t.TokenID...), nil); err != nil {
				return err
			}
		}
		if rec.RevokedAt != nil {
			if err := tx.Bucket(bTokenRevoked).Put(revokedKey(*rec.RevokedAt, t.TokenID), nil); err != nil {
				return err
			}
		}
		if err := putJSON(b, t.TokenID, rec); err != nil {
			return err
		}
		if rec.RevokedAt != nil {
			// Tokens registered before this one under its id follow it.
			_, err := cascade(tx, t.TokenID, *rec.RevokedAt)
			return err
		}
		return nil
	}))
}

// GetToken returns the token with the given id, or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (store.TokenRecord, error) {
	var out store.TokenRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, ok, err := loadToken(tx.Bucket(bTokens), []byte(id))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		out = r.record(id)
		return nil
	})
	if err != nil {
		return store.TokenRecord{}, wrap("get token", err)
	}
	return out, nil
}

// ListTokens returns the tokens matching f, ordered by token id (bytewise),
// at most f.Limit of them when f.Limit > 0. A parent filter uses the child
// index; subject and issuer filters scan.
func (s *Store) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.TokenRecord, error) {
	out := []store.TokenRecord{}
	full := func() bool { return f.Limit > 0 && len(out) >= f.Limit }
	consider := func(id []byte, r tokenRec) {
		if (f.Subject == "" || r.Subject == f.Subject) && (f.Issuer == "" || r.Issuer == f.Issuer) &&
			(f.ParentTokenID == "" || r.Parent == f.ParentTokenID) {
			out = append(out, r.record(string(id)))
		}
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bTokens)
		if f.ParentTokenID != "" {
			prefix := lp(f.ParentTokenID)
			c := tx.Bucket(bTokenChildren).Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && !full(); k, _ = c.Next() {
				id := k[len(prefix):]
				r, ok, err := loadToken(tokens, id)
				if err != nil {
					return err
				}
				if ok {
					consider(id, r)
				}
			}
			return nil
		}
		c := tokens.Cursor()
		for k, v := c.First(); k != nil && !full(); k, v = c.Next() {
			var r tokenRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode token %q: %w", k, err)
			}
			consider(k, r)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	return out, nil
}

// cascade revokes id and its registered descendants at us, breadth-first
// (children in id order), and returns the ids it newly revoked.
func cascade(tx *bolt.Tx, id string, us int64) ([]string, error) {
	tokens, children, revoked := tx.Bucket(bTokens), tx.Bucket(bTokenChildren), tx.Bucket(bTokenRevoked)
	out := []string{}
	queue := []string{id}
	seen := map[string]bool{id: true}
	for i := 0; i < len(queue); i++ {
		cur := queue[i]
		r, ok, err := loadToken(tokens, []byte(cur))
		if err != nil {
			return nil, err
		}
		if ok && r.RevokedAt == nil {
			r.RevokedAt = &us
			if err := putJSON(tokens, cur, r); err != nil {
				return nil, err
			}
			if err := revoked.Put(revokedKey(us, cur), nil); err != nil {
				return nil, err
			}
			out = append(out, cur)
		}
		prefix := lp(cur)
		c := children.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			child := string(k[len(prefix):])
			if !seen[child] {
				seen[child] = true
				queue = append(queue, child)
			}
		}
	}
	return out, nil
}

// revokedID returns the earliest time at which one of ids was revoked while
// not registered.
func revokedID(tx *bolt.Tx, ids ...string) (int64, bool) {
	var best int64
	found := false
	for _, id := range ids {
		if id == "" {
			continue
		}
		if v := tx.Bucket(bRevokedIDs).Get([]byte(id)); len(v) == 8 {
			us := int64(binary.BigEndian.Uint64(v))
			if !found || us < best {
				best, found = us, true
			}
		}
	}
	return best, found
}

// RevokeToken revokes id and every registered descendant in one
// transaction. It returns the ids it newly revoked: id first (if it was not
// already revoked), then descendants breadth-first, siblings in token-id
// order. An id that is not registered is recorded as revoked (bRevokedIDs
// and the revocation-time index) and returned alone, once. ErrNotFound only
// for an id that cannot be stored.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) ([]string, error) {
	if check.ID("id", id) != nil {
		return nil, wrap("revoke token", store.ErrNotFound)
	}
	us := micros(at)
	var out []string
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bTokens).Get([]byte(id)) == nil {
			out = []string{} // fn may run again: out is reassigned
			if tx.Bucket(bRevokedIDs).Get([]byte(id)) != nil {
				return nil
			}
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(us))
			if err := tx.Bucket(bRevokedIDs).Put([]byte(id), v[:]); err != nil {
				return err
			}
			if err := tx.Bucket(bTokenRevoked).Put(revokedKey(us, id), nil); err != nil {
				return err
			}
			out = []string{id}
			return nil
		}
		var err error
		out, err = cascade(tx, id, us) // fn may run again: out is reassigned
		return err
	})
	if err != nil {
		return nil, wrap("revoke token", err)
	}
	return out, nil
}

// RevokedTokens returns every revoked token id, ordered by id.
func (s *Store) RevokedTokens(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bTokenRevoked).ForEach(func(k, _ []byte) error {
			out = append(out, string(k[8:]))
			return nil
		})
	})
	if err != nil {
		return nil, wrap("revoked tokens", err)
	}
	slices.Sort(out)
	return out, nil
}

// RevokedSince implements store.RevocationFeed: ids revoked at or after
// since, oldest first, ties by id.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	out := []string{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bTokenRevoked).Cursor()
		for k, _ := c.Seek(ordered(micros(since))); k != nil; k, _ = c.Next() {
			out = append(out, string(k[8:]))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("revoked since", err)
	}
	return out, nil
}

// Package embedded is the single-node implementation of store.Store: one
// bbolt file in the gateway's data directory, no server.
//
// Every write runs in a bbolt read-write transaction, fsynced at commit, so
// a call that returned nil survives a crash. bbolt allows one writer at a
// time: writes are serialised, which makes the token cascade and the
// approval compare-and-set trivially atomic. One writer goroutine commits
// them in groups (group commit): the writes that arrive while a commit is
// syncing share the next transaction and its two fsyncs, each still seeing
// the writes before it. Reads run in parallel in read-only transactions.
//
// Layout (bucket: key → value); ids in composite keys are length-prefixed
// (lp: uvarint length, then the bytes) so that no id can forge another's
// key, and ord(x) is x as 8 big-endian bytes with the sign bit flipped, so
// that byte order is numeric order:
//
//	meta:            "schema" → "1"
//	roots:           publicKey → rootRec (JSON)
//	apikeys:         id → apiKeyRec (JSON, with the secret hash)
//	tokens:          tokenId → tokenRec (JSON, raw token as given)
//	token_children:  lp(parentId) ‖ childId → ∅
//	token_revoked:   ord(revokedAt µs) ‖ tokenId → ∅
//	approvals:       approvalId → approvalRec (JSON, with the version)
//	approval_req:    lp(agentId) ‖ requestId → approvalId
//	approval_time:   ord(createdAt) ‖ approvalId → ∅
//	approval_state:  lp(state) ‖ ord(createdAt) ‖ approvalId → ∅
//	estop:           "state" → store.EstopState (JSON)
//	agents:          agentId → store.Agent (JSON)
//	repetitions:     key → uses (8 bytes big-endian; store.Repetitions)
//
// bbolt calls take no context: ctx is checked before each read starts; a
// write whose ctx ends while it waits for its commit returns ctx's error,
// and the write may or may not have happened (as with any database).
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// SchemaVersion is the layout version written to the meta bucket. Open
// refuses files written by a newer layout.
const SchemaVersion = 1

// OpenTimeout bounds how long Open waits for the file lock held by another
// process (for example a second gateway on the same data dir).
const OpenTimeout = 2 * time.Second

var (
	bMeta          = []byte("meta")
	bRoots         = []byte("roots")
	bAPIKeys       = []byte("apikeys")
	bTokens        = []byte("tokens")
	bTokenChildren = []byte("token_children")
	bTokenRevoked  = []byte("token_revoked")
	bRevokedIDs    = []byte("revoked_ids") // id → revocation time (µs) of ids revoked while not registered
	bApprovals     = []byte("approvals")
	bApprovalReq   = []byte("approval_req")
	bApprovalTime  = []byte("approval_time")
	bApprovalState = []byte("approval_state")
	bEstop         = []byte("estop")
	bAgents        = []byte("agents")

	allBuckets = [][]byte{bMeta, bRoots, bAPIKeys, bTokens, bTokenChildren, bTokenRevoked, bRevokedIDs,
		bApprovals, bApprovalReq, bApprovalTime, bApprovalState, bEstop, bAgents, bRepetitions}

	keySchema = []byte("schema")
	keyEstop  = []byte("state")
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// Store is a store.Store on one bbolt file. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	writes chan *write // unbuffered: a write is either taken by the writer or not at all
	stop   chan struct{}
	done   chan struct{} // closed when the writer has exited
	once   sync.Once
}

// write is one caller's read-write transaction body.
//
// Group-commit contract for fn: it may run more than once (the group is
// rolled back and each write retried alone when one of them fails), so it
// must reset whatever it reports at its start; and it returns a store
// sentinel (ErrNotFound, ErrExists, ErrConflict) only before it has written
// anything, because such a refusal does not roll back the group.
type write struct {
	fn     func(*bolt.Tx) error
	result chan error // buffered 1
}

// ErrClosed is returned by writes on a closed Store.
var ErrClosed = errors.New("embedded store: closed")

var (
	_ store.Store          = (*Store)(nil)
	_ store.RevocationFeed = (*Store)(nil)
)

// Open opens (creating if needed, mode 0600) the store file at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      OpenTimeout,
		FreelistType: bolt.FreelistMapType,
		// The freelist is rebuilt at open instead of written on every
		// commit: one page write less per group commit.
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get(keySchema); v != nil {
			var n int
			if _, err := fmt.Sscan(string(v), &n); err != nil {
				return fmt.Errorf("bad schema version %q", v)
			}
			if n > SchemaVersion {
				return fmt.Errorf("schema version %d is newer than this binary's %d", n, SchemaVersion)
			}
		}
		return meta.Put(keySchema, fmt.Appendf(nil, "%d", SchemaVersion))
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("embedded store: init %s: %w", path, err)
	}
	s := &Store{db: db, writes: make(chan *write), stop: make(chan struct{}), done: make(chan struct{})}
	go s.writer()
	return s, nil
}

// Close stops the writer (after the group it is committing) and closes the
// file. Calls after Close return an error.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return s.db.Close()
}

func (s *Store) writer() {
	defer close(s.done)
	for {
		var group []*write
		select {
		case w := <-s.writes:
			group = append(group, w)
		case <-s.stop:
			return
		}
	collect:
		for len(group) < maxGroup {
			select {
			case w := <-s.writes:
				group = append(group, w)
			default:
				break collect
			}
		}
		s.commit(group)
	}
}

// refusal reports whether err is a sentinel a write returns before writing.
func refusal(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict)
}

// errGroupFailed rolls back a group in which one write failed.
var errGroupFailed = errors.New("group write failed")

// commit runs a group of writes in one transaction. Refusals are each
// write's own result; any other failure rolls the group back and every
// write is retried in its own transaction.
func (s *Store) commit(group []*write) {
	if len(group) == 1 {
		group[0].result <- s.db.Update(group[0].fn)
		return
	}
	results := make([]error, len(group))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, w := range group {
			err := w.fn(tx)
			if err != nil && !refusal(err) {
				return errGroupFailed
			}
			results[i] = err
		}
		return nil
	})
	if err != nil {
		for _, w := range group {
			w.result <- s.db.Update(w.fn)
		}
		return
	}
	for i, w := range group {
		w.result <- results[i]
	}
}

// Path returns the file's path.
func (s *Store) Path() string { return s.db.Path() }

// Ping runs an empty write through the group commit: it returns nil only
// after a read-write transaction committed (writing and syncing a meta
// page), so it fails when the file can no longer be written.
func (s *Store) Ping(ctx context.Context) error {
	return s.update(ctx, func(*bolt.Tx) error { return nil })
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// update runs fn in the writer's next group commit; see write for what fn
// must guarantee.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{fn: fn, result: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wrap turns an internal failure into a plain error for callers, keeping
// the store sentinels and context errors recognisable with errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("embedded store: %s: %w", op, err)
}

// ---- encoding helpers ----

// lp returns the uvarint length of b followed by b: a prefix that no other
// value's prefix can collide with.
func lp(b string) []byte {
	out := binary.AppendUvarint(make([]byte, 0, len(b)+2), uint64(len(b)))
	return append(out, b...)
}

// ordered returns x as 8 big-endian bytes whose byte order is x's numeric
// order (the sign bit flipped).
func ordered(x int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(x)^(1<<63))
}

func micros(t time.Time) int64 { return store.NormTime(t).UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

func getJSON(b *bolt.Bucket, key string, v any) error {
	raw := b.Get([]byte(key))
	if raw == nil {
		return store.ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %q: %w", key, err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

func deleteExisting(b *bolt.Bucket, key string) error {
	if b.Get([]byte(key)) == nil {
		return store.ErrNotFound
	}
	return b.Delete([]byte(key))
}

// ---- roots ----

type rootRec struct {
	Name    string `json:"name"`
	AddedAt int64  `json:"addedAtUs"`
}

// PutRoot adds r, or replaces the name of an existing root (its AddedAt
// stays the first one).
func (s *Store) PutRoot(ctx context.Context, r store.Root) error {
	if err := check.Root(r); err != nil {
		return wrap("put root", err)
	}
	return wrap("put root", s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bRoots)
		rec := rootRec{Name: r.Name, AddedAt: micros(r.AddedAt)}
		var old rootRec
		switch err := getJSON(b, r.PublicKey, &old); {
		case err == nil:
			rec.AddedAt = old.AddedAt
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return putJSON(b, r.PublicKey, rec)
	}))
}

// DeleteRoot removes a root; ErrNotFound if it is not registered.
func (s *Store) DeleteRoot(ctx context.Context, publicKey string) error {
	return wrap("delete root", s.update(ctx, func(tx *bolt.Tx) error {
		return deleteExisting(tx.Bucket(bRoots), publicKey)
	}))
}

// ListRoots returns every root ordered by public key.
func (s *Store) ListRoots(ctx context.Context) ([]store.Root, error) {
	out := []store.Root{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bRoots).ForEach(func(k, v []byte) error {
			var r rootRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode root %q: %w", k, err)
			}
			out = append(out, store.Root{PublicKey: string(k), Name: r.Name, AddedAt: fromMicros(r.AddedAt)})
			return nil
		})
	})
	if err != nil {
		return nil, wrap("list roots", err)
	}
	return out, nil
}

// ---- API keys ----

type apiKeyRec struct {
	SecretHash []byte   `json:"secretHash"`
	OperatorID string   `json:"operatorId"`
	Scopes     []string `json:"scopes"`
	CreatedAt  int64    `json:"createdAtUs"`
}

// PutAPIKey stores k; ErrExists if its id is taken.
func (s *Store) PutAPIKey(ctx context.Context, k store.APIKey) error {
	if err := check.APIKey(k); err != nil {
		return wrap("put api key", err)
	}
	return wrap("put api key", s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bAPIKeys)
		if b.Get([]byte(k.ID)) != nil {
			return store.ErrExists
		}
		return putJSON(b, k.ID, apiKeyRec{
			SecretHash: k.SecretHash, OperatorID: k.OperatorID,
			Scopes: k.Scopes, CreatedAt: micros(k.CreatedAt),
		})
	}))
}

func (r apiKeyRec) key(id string) store.APIKey {
	return store.APIKey{
		ID: id, SecretHash: nilIfEmpty(r.SecretHash), OperatorID: r.OperatorID,
		Scopes: nonNilStrings(r.Scopes), CreatedAt: fromMicros(r.CreatedAt),
	}
}

// GetAPIKey returns the key with the given id, or ErrNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	var r apiKeyRec
	err := s.view(ctx, func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bAPIKeys), id, &r) })
	if err != nil {
		return store.APIKey{}, wrap("get api key", err)
	}
	return r.key(id), nil
}

// DeleteAPIKey removes a key; ErrNotFound if it does not exist.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	return wrap("delete api key", s.update(ctx, func(tx *bolt.Tx) error {
		return deleteExisting(tx.Bucket(bAPIKeys), id)
	}))
}

// ListAPIKeys returns every key ordered by id.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	out := []store.APIKey{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bAPIKeys).ForEach(func(k, v []byte) error {
			var r apiKeyRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode api key %q: %w", k, err)
			}
			out = append(out, r.key(string(k)))
			return nil
		})
	})
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	return out, nil
}

// ---- estop ----

// GetEstop returns the stored breaker state, or {State: "armed"} if none
// was ever stored.
func (s *Store) GetEstop(ctx context.Context) (store.EstopState, error) {
	var st store.EstopState
	err := s.view(ctx, func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bEstop), string(keyEstop), &st) })
	if errors.Is(err, store.ErrNotFound) {
		return store.EstopState{State: "armed", Sources: []store.EstopSource{}}, nil
	}
	if err != nil {
		return store.EstopState{}, wrap("get estop", err)
	}
	if st.Sources == nil {
		st.Sources = []store.EstopSource{}
	}
	return st, nil
}

// PutEstop replaces the breaker state.
func (s *Store) PutEstop(ctx context.Context, st store.EstopState) error {
	if err := check.Estop(st); err != nil {
		return wrap("put estop", err)
	}
	return wrap("put estop", s.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bEstop), string(keyEstop), st)
	}))
}

// ---- agents ----

// PutAgent adds or replaces an agent.
func (s *Store) PutAgent(ctx context.Context, a store.Agent) error {
	if err := check.Agent(a); err != nil {
		return wrap("put agent", err)
	}
	return wrap("put agent", s.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bAgents), a.AgentID, a)
	}))
}

func normAgent(a store.Agent) store.Agent {
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(a.Capabilities) == 0 {
		a.Capabilities = nil
	}
	return a
}

// GetAgent returns the agent with the given id, or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	var a store.Agent
	err := s.view(ctx, func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bAgents), id, &a) })
	if err != nil {
		return store.Agent{}, wrap("get agent", err)
	}
	return normAgent(a), nil
}

// DeleteAgent removes an agent; ErrNotFound if it does not exist.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	return wrap("delete agent", s.update(ctx, func(tx *bolt.Tx) error {
		return deleteExisting(tx.Bucket(bAgents), id)
	}))
}

// ListAgents returns every agent ordered by id.
func (s *Store) ListAgents(ctx context.Context) ([]store.Agent, error) {
	out := []store.Agent{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bAgents).ForEach(func(k, v []byte) error {
			var a store.Agent
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode agent %q: %w", k, err)
			}
			out = append(out, normAgent(a))
			return nil
		})
	})
	if err != nil {
		return nil, wrap("list agents", err)
	}
	return out, nil
}

// markPrefix keeps marks apart from the meta bucket's other keys.
const markPrefix = "mark/"

// Mark returns the value last stored under name by PutMark (nil when there
// is none). Marks are small records that must travel with the store's own
// content: a copy of the file restored from a backup brings back the marks
// of that moment, never newer ones (the gateway keeps there the ledger
// position the store is known to reflect).
func (s *Store) Mark(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get([]byte(markPrefix + name)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// PutMark durably stores v under name (one group commit).
func (s *Store) PutMark(ctx context.Context, name string, v []byte) error {
	v = bytes.Clone(v)
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put([]byte(markPrefix+name), v)
	})
}

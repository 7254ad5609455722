package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/store"
)

// KeyRecheckInterval is how often the key of every open stream (approvals
// SSE and WebSocket, risk WebSocket) is read again from the store: a key
// deleted on another replica (the deletion reaches it only through the
// shared store) closes its streams here within this interval. A deletion on
// this replica closes them at once.
const KeyRecheckInterval = 250 * time.Millisecond

// errKeyGone ends a stream whose API key was deleted or no longer grants
// the stream's scope.
var errKeyGone = errors.New("the API key was deleted or lost the scope this stream needs")

// keyWatch tracks the open streams by API key id, so that deleting a key
// ends every stream it opened (PROTOCOL.md §4: a deleted key stops working
// everywhere at once, including votes on streams it opened). One goroutine
// re-reads each distinct key every KeyRecheckInterval while any stream is
// open; it stops when the last stream ends.
type keyWatch struct {
	mu      sync.Mutex
	streams map[string]map[*keyStream]struct{} // key id → open streams
	running bool
}

// keyStream is one open stream: cancel ends it with errKeyGone.
type keyStream struct {
	op     *Operator
	scope  string
	cancel context.CancelCauseFunc
}

// watchKey registers a stream opened by op (which needed scope) and returns
// a context ended (cause errKeyGone) when the key is deleted or loses
// scope, and the release to call when the stream ends.
func (s *Server) watchKey(parent context.Context, op *Operator, scope string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ks := &keyStream{op: op, scope: scope, cancel: cancel}
	w := &s.keys
	w.mu.Lock()
	if w.streams == nil {
		w.streams = map[string]map[*keyStream]struct{}{}
	}
	if w.streams[op.KeyID] == nil {
		w.streams[op.KeyID] = map[*keyStream]struct{}{}
	}
	w.streams[op.KeyID][ks] = struct{}{}
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go s.recheckKeys()
	}
	return ctx, func() {
		w.mu.Lock()
		delete(w.streams[op.KeyID], ks)
		if len(w.streams[op.KeyID]) == 0 {
			delete(w.streams, op.KeyID)
		}
		w.mu.Unlock()
		cancel(context.Canceled)
	}
}

// endKeyStreams ends every stream opened with key id (a deletion here).
func (s *Server) endKeyStreams(id string) {
	w := &s.keys
	w.mu.Lock()
	defer w.mu.Unlock()
	for ks := range w.streams[id] {
		ks.cancel(errKeyGone)
	}
}

// recheckKeys runs while streams are open: each tick it reads every
// distinct key once and ends the streams of a key that is gone, has another
// secret, or no longer grants a stream's scope. A store error ends nothing:
// streams only observe (votes re-check the key themselves, and fail while
// the store cannot answer), and the approvals stream carries e-stop events
// that must not be cut by a store outage.
func (s *Server) recheckKeys() {
	w := &s.keys
	t := time.NewTicker(KeyRecheckInterval)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.streams) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		ops := make(map[string]*Operator, len(w.streams))
		for id, set := range w.streams {
			for ks := range set {
				ops[id] = ks.op
				break
			}
		}
		w.mu.Unlock()
		for id, op := range ops {
			ctx, cancel := context.WithTimeout(context.Background(), KeyRecheckInterval)
			cur, err := s.currentOperator(ctx, op)
			cancel()
			if err != nil && !errors.Is(err, errKeyGone) {
				continue
			}
			w.mu.Lock()
			for ks := range w.streams[id] {
				if cur == nil || !cur.Has(ks.scope) {
					ks.cancel(errKeyGone)
				}
			}
			w.mu.Unlock()
		}
	}
}

// currentOperator reads op's key again: errKeyGone if it was deleted (or
// its id now holds another secret), else the operator with the key's
// current scopes. Other errors are store failures.
func (s *Server) currentOperator(ctx context.Context, op *Operator) (*Operator, error) {
	rec, err := s.Store.GetAPIKey(ctx, op.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errKeyGone
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(rec.SecretHash, op.secretHash) != 1 {
		return nil, errKeyGone
	}
	return &Operator{KeyID: rec.ID, OperatorID: rec.OperatorID, Scopes: rec.Scopes, secretHash: rec.SecretHash}, nil
}

// voteOperator is the check every vote on a stream makes: the key that
// opened the stream must still exist and grant approve.
func (s *Server) voteOperator(ctx context.Context, op *Operator) (*Operator, *codes.Error) {
	cur, err := s.currentOperator(ctx, op)
	if errors.Is(err, errKeyGone) {
		return nil, codes.New(codes.Unauthenticated, "the API key that opened this stream was deleted")
	}
	if err != nil {
		return nil, codes.New(codes.InternalError, "the API key could not be checked")
	}
	if !cur.Has("approve") {
		return nil, codes.New(codes.Forbidden, "the API key lacks scope approve")
	}
	return cur, nil
}

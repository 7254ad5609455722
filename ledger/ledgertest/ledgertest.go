// Package ledgertest is the contract test suite every ledger.Store passes
// (ledger/filestore and ledger/pgledger run it), plus test helpers: a
// settable clock and a fixed checkpoint signer.
package ledgertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// Clock is a settable clock, safe for concurrent use. The zero value reads
// 2026-11-23T20:00:00Z.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time and advances it by 1 µs (so consecutive
// entries get distinct timestamps).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		c.t = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	}
	c.t = c.t.Add(time.Microsecond)
	return c.t
}

// Set sets the clock (it may go backwards).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Options describe the store under test.
type Options struct {
	// Open returns a new, empty store reading clock. The suite closes it
	// (Close may be called twice).
	Open func(t *testing.T, clock func() time.Time) ledger.Store
	// Tamper, if set, corrupts entry seq in storage behind the store's back
	// (one flipped byte or an edited field) so Verify must report seq.
	Tamper func(t *testing.T, s ledger.Store, seq uint64)
}

// Signer returns a deterministic checkpoint signer for gateway "test-gw".
func Signer(t testing.TB) (ledger.CheckpointSigner, ed25519.PublicKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, 32))
	s, err := ledger.NewEd25519Signer("test-gw", "kid-test", priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv.Public().(ed25519.PublicKey)
}

func ev(typ, agent string, payload any) ledger.Event {
	return ledger.Event{EventType: typ, AgentID: agent, Payload: payload}
}

func mustAppend(t *testing.T, s ledger.Store, e ledger.Event) ledger.Entry {
	t.Helper()
	got, err := s.Append(context.Background(), e)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

func fill(t *testing.T, s ledger.Store, n int) []ledger.Entry {
	t.Helper()
	out := make([]ledger.Entry, 0, n)
	for i := 0; i < n; i++ {
		typ := "policy.evaluated"
		if i%5 == 4 {
			typ = "token.registered"
		}
		e := ev(typ, fmt.Sprintf("agent-%d", i%3), map[string]any{"i": i})
		if i%2 == 0 {
			e.TokenID = fmt.Sprintf("tok-%d", i)
		}
		out = append(out, mustAppend(t, s, e))
	}
	return out
}

func size(t *testing.T, s ledger.Store) uint64 {
	t.Helper()
	n, err := s.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Run runs the contract suite.
func Run(t *testing.T, o Options) {
	ctx := context.Background()
	open := func(t *testing.T) (ledger.Store, *Clock) {
		c := &Clock{}
		s := o.Open(t, c.Now)
		t.Cleanup(func() { s.Close() })
		return s, c
	}

	t.Run("append/first-entry", func(t *testing.T) {
		s, _ := open(t)
		if _, err := s.Head(ctx); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("Head of empty store: %v", err)
		}
		e := mustAppend(t, s, ev("policy.loaded", ledger.AgentSystem, map[string]any{"b": 1, "a": "x"}))
		if e.SequenceNumber != 1 || e.PreviousHash != ledger.ZeroHash || e.TokenID != "" {
			t.Fatalf("first entry %+v", e)
		}
		if e.Timestamp != "2026-11-23T20:00:00.000001Z" {
			t.Fatalf("timestamp %s not from the injected clock", e.Timestamp)
		}
		if string(e.Payload) != `{"a":"x","b":1}` {
			t.Fatalf("payload not canonical: %s", e.Payload)
		}
		if h, err := ledger.HashEntry(&e); err != nil || h != e.Hash {
			t.Fatalf("hash %s, recomputed %s (%v)", e.Hash, h, err)
		}
		head, err := s.Head(ctx)
		if err != nil || head.Hash != e.Hash {
			t.Fatalf("Head %+v %v", head, err)
		}
	})

	t.Run("append/chain-get-list", func(t *testing.T) {
		s, _ := open(t)
		es := fill(t, s, 40)
		if n := size(t, s); n != 40 {
			t.Fatalf("size %d", n)
		}
		if bad, err := ledger.VerifySlice(es, ledger.ZeroHash); err != nil {
			t.Fatalf("returned entries do not chain at %d: %v", bad, err)
		}
		for _, want := range es {
			got, err := s.Get(ctx, want.SequenceNumber)
			if err != nil || !equal(got, want) {
				t.Fatalf("Get(%d) = %+v, %v; want %+v", want.SequenceNumber, got, err, want)
			}
			got, err = s.GetByEventID(ctx, want.EventID)
			if err != nil || !equal(got, want) {
				t.Fatalf("GetByEventID(%s) = %+v, %v", want.EventID, got, err)
			}
		}
		for _, seq := range []uint64{0, 41, 1 << 40} {
			if _, err := s.Get(ctx, seq); !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("Get(%d): %v", seq, err)
			}
		}
		if _, err := s.GetByEventID(ctx, "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("unknown event id: %v", err)
		}
		if _, err := s.GetByEventID(ctx, "not-a-uuid"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("malformed event id: %v", err)
		}
		// Paging through everything.
		var all []ledger.Entry
		q := ledger.ListQuery{Limit: 7}
		for pages := 0; ; pages++ {
			page, next, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if next == nil {
				break
			}
			if pages > 10 || *next != page[len(page)-1].SequenceNumber {
				t.Fatalf("bad next %v", *next)
			}
			q.After = *next
		}
		if len(all) != 40 || all[39].SequenceNumber != 40 {
			t.Fatalf("paged %d entries", len(all))
		}
		page, next, err := s.List(ctx, ledger.ListQuery{EventType: "token.registered", AgentID: "agent-1"})
		if err != nil || next != nil {
			t.Fatalf("filtered list: %v next=%v", err, next)
		}
		for _, e := range page {
			if e.EventType != "token.registered" || e.AgentID != "agent-1" {
				t.Fatalf("filter leaked %+v", e)
			}
		}
		if len(page) != 3 { // i ≡ 4 (mod 5) and i ≡ 1 (mod 3), i < 40: 4, 19, 34
			t.Fatalf("filtered %d entries, want 3", len(page))
		}
		if page, next, err := s.List(ctx, ledger.ListQuery{After: 40}); err != nil || len(page) != 0 || next != nil {
			t.Fatalf("list past end: %v %v %v", page, next, err)
		}
		last, err := s.LastOfType(ctx, "token.registered")
		if err != nil || last.SequenceNumber != 40 {
			t.Fatalf("LastOfType = %d, %v", last.SequenceNumber, err)
		}
		if _, err := s.LastOfType(ctx, "nope"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("LastOfType(nope): %v", err)
		}
	})

	t.Run("append/rejects-invalid-without-consuming", func(t *testing.T) {
		s, _ := open(t)
		mustAppend(t, s, ev("a.b", "x", nil))
		for name, e := range map[string]ledger.Event{
			"no-type":       ev("", "x", nil),
			"no-agent":      ev("a.b", "", nil),
			"array-payload": ev("a.b", "x", []int{1}),
			"bad-event-id":  {EventID: "ABC", EventType: "a.b", AgentID: "x"},
		} {
			if _, err := s.Append(ctx, e); codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("%s: err %v", name, err)
			}
		}
		e := mustAppend(t, s, ev("a.b", "x", nil))
		if e.SequenceNumber != 2 {
			t.Fatalf("sequence %d after rejected appends, want 2", e.SequenceNumber)
		}
	})

	t.Run("append/duplicate-event-id", func(t *testing.T) {
		s, _ := open(t)
		id := "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f"
		e := mustAppend(t, s, ledger.Event{EventID: id, EventType: "a.b", AgentID: "x"})
		if e.EventID != id {
			t.Fatalf("event id %s", e.EventID)
		}
		if _, err := s.Append(ctx, ledger.Event{EventID: id, EventType: "a.b", AgentID: "x"}); !errors.Is(err, ledger.ErrDuplicateEvent) {
			t.Fatalf("duplicate: %v", err)
		}
		if n := size(t, s); n != 1 {
			t.Fatalf("size %d", n)
		}
	})

	t.Run("guard/abort-consumes-nothing", func(t *testing.T) {
		s, _ := open(t)
		mustAppend(t, s, ev("a.b", "x", nil))
		boom := errors.New("tripped")
		e := ev("policy.evaluated", "x", nil)
		e.Guard = func() error { return boom }
		if _, err := s.Append(ctx, e); !errors.Is(err, boom) {
			t.Fatalf("guard error not returned: %v", err)
		}
		e.Guard = func() error { panic("bad guard") }
		if _, err := s.Append(ctx, e); err == nil {
			t.Fatal("panicking guard allowed the append")
		}
		if got := mustAppend(t, s, ev("a.b", "x", nil)); got.SequenceNumber != 2 {
			t.Fatalf("sequence %d, want 2", got.SequenceNumber)
		}
	})

	t.Run("guard/no-allow-after-trip", func(t *testing.T) {
		// The e-stop shape: allows carry a guard that refuses once the trip
		// entry's own guard has flipped the flag at the serialisation point.
		s, _ := open(t)
		var tripped atomic.Bool
		var wg sync.WaitGroup
		var tripSeq atomic.Uint64
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 30; i++ {
					if g == 0 && i == 15 {
						e := ev("safety.estop.tripped", "system", nil)
						e.Guard = func() error { tripped.Store(true); return nil }
						got, err := s.Append(ctx, e)
						if err != nil {
							t.Error(err)
							return
						}
						tripSeq.Store(got.SequenceNumber)
						continue
					}
					e := ev("policy.evaluated", "x", map[string]any{"decision": "allow"})
					e.Guard = func() error {
						if tripped.Load() {
							return errors.New("ESTOP_ENGAGED")
						}
						return nil
					}
					_, _ = s.Append(ctx, e)
				}
			}(g)
		}
		wg.Wait()
		if tripSeq.Load() == 0 {
			t.Fatal("no trip entry")
		}
		all := listAll(t, s)
		for _, e := range all {
			if e.EventType == "policy.evaluated" && e.SequenceNumber > tripSeq.Load() {
				t.Fatalf("allow committed at %d after trip at %d", e.SequenceNumber, tripSeq.Load())
			}
		}
	})

	t.Run("concurrent/gap-free", func(t *testing.T) {
		s, _ := open(t)
		const G, N = 16, 25
		var mu sync.Mutex
		seen := map[uint64]string{}
		var wg sync.WaitGroup
		for g := 0; g < G; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < N; i++ {
					e, err := s.Append(ctx, ev("policy.evaluated", fmt.Sprintf("agent-%d", g), map[string]any{"i": i}))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if _, dup := seen[e.SequenceNumber]; dup {
						t.Errorf("sequence %d returned twice", e.SequenceNumber)
					}
					seen[e.SequenceNumber] = e.Hash
					mu.Unlock()
				}
			}(g)
		}
		wg.Wait()
		if len(seen) != G*N || size(t, s) != G*N {
			t.Fatalf("%d entries, size %d", len(seen), size(t, s))
		}
		for seq := uint64(1); seq <= G*N; seq++ {
			got, err := s.Get(ctx, seq)
			if err != nil || got.Hash != seen[seq] {
				t.Fatalf("seq %d: stored %s vs returned %s (%v)", seq, got.Hash, seen[seq], err)
			}
		}
		res, err := s.Verify(ctx, 0, 0)
		if err != nil || !res.Valid || res.Checked != G*N {
			t.Fatalf("Verify %+v %v", res, err)
		}
	})

	t.Run("concurrent/readers-during-appends", func(t *testing.T) {
		s, _ := open(t)
		fill(t, s, 5)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					if _, err := s.Append(ctx, ev("policy.evaluated", fmt.Sprintf("w%d", g), map[string]any{"i": i})); err != nil {
						t.Error(err)
						return
					}
				}
			}(g)
		}
		var rwg sync.WaitGroup
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := s.Size(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				res, err := s.Verify(ctx, 0, n)
				if err != nil || !res.Valid || res.Checked != n {
					t.Errorf("Verify(0,%d) during appends = %+v %v", n, res, err)
					return
				}
				root, err := s.TreeHash(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				last, err := s.Get(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				p, err := s.InclusionProof(ctx, n-1, n)
				if err != nil || ledger.VerifyInclusion(p, n, n-1, root, last.Hash) != nil {
					t.Errorf("inclusion of %d during appends: %v", n, err)
					return
				}
				var buf bytes.Buffer
				if err := s.Export(ctx, &buf, 0, n, nil); err != nil {
					t.Error(err)
					return
				}
				if rep, err := ledger.VerifyNDJSON(&buf, nil, nil); err != nil || !rep.Valid || rep.Checked != n || rep.Root != root {
					t.Errorf("export of %d during appends: %+v %v", n, rep, err)
					return
				}
			}
		}()
		wg.Wait()
		close(stop)
		rwg.Wait()
	})

	t.Run("batch/per-event-errors", func(t *testing.T) {
		s, _ := open(t)
		boom := errors.New("no")
		evs := []ledger.Event{ev("a.b", "x", nil), ev("a.b", "x", nil), ev("", "x", nil), ev("a.b", "x", nil)}
		evs[1].Guard = func() error { return boom }
		es, errs, err := s.AppendBatch(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] == nil || errs[3] != nil {
			t.Fatalf("errs %v", errs)
		}
		if es[0].SequenceNumber != 1 || es[3].SequenceNumber != 2 || es[3].PreviousHash != es[0].Hash {
			t.Fatalf("entries %+v", es)
		}
	})

	t.Run("append/timestamps-never-decrease", func(t *testing.T) {
		s, c := open(t)
		a := mustAppend(t, s, ev("a.b", "x", nil))
		c.Set(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		b := mustAppend(t, s, ev("a.b", "x", nil))
		if b.Timestamp < a.Timestamp {
			t.Fatalf("timestamp went backwards: %s < %s", b.Timestamp, a.Timestamp)
		}
	})

	t.Run("append/cancelled-context-writes-nothing", func(t *testing.T) {
		s, _ := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Append(cctx, ev("a.b", "x", nil)); err == nil {
			t.Fatal("append with cancelled ctx succeeded")
		}
		if n := size(t, s); n != 0 {
			t.Fatalf("size %d after cancelled append", n)
		}
	})

	t.Run("proofs/inclusion-and-consistency", func(t *testing.T) {
		s, _ := open(t)
		es := fill(t, s, 33)
		for _, n := range []uint64{1, 2, 7, 16, 33} {
			root, err := s.TreeHash(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			var b ledger.TreeBuilder
			for i := uint64(0); i < n; i++ {
				l, _ := ledger.EntryLeafHash(es[i].Hash)
				b.Append(l)
			}
			if b.Root() != root {
				t.Fatalf("TreeHash(%d) differs from the entries' root", n)
			}
			for i := uint64(0); i < n; i++ {
				p, err := s.InclusionProof(ctx, i, n)
				if err != nil {
					t.Fatal(err)
				}
				if err := ledger.VerifyInclusion(p, n, i, root, es[i].Hash); err != nil {
					t.Fatalf("inclusion %d in %d: %v", i, n, err)
				}
			}
			for from := uint64(1); from <= n; from++ {
				old, _ := s.TreeHash(ctx, from)
				p, err := s.ConsistencyProof(ctx, from, n)
				if err != nil {
					t.Fatal(err)
				}
				if err := ledger.VerifyConsistency(p, from, n, old, root); err != nil {
					t.Fatalf("consistency %d→%d: %v", from, n, err)
				}
			}
		}
		for name, f := range map[string]func() error{
			"inclusion/index-past-size": func() error { _, err := s.InclusionProof(ctx, 5, 5); return err },
			"inclusion/size-past-head":  func() error { _, err := s.InclusionProof(ctx, 0, 34); return err },
			"consistency/from-zero":     func() error { _, err := s.ConsistencyProof(ctx, 0, 3); return err },
			"consistency/backwards":     func() error { _, err := s.ConsistencyProof(ctx, 4, 3); return err },
			"treehash/past-head":        func() error { _, err := s.TreeHash(ctx, 34); return err },
		} {
			if err := f(); err == nil {
				t.Fatalf("%s: no error", name)
			}
		}
	})

	t.Run("export/verifies-offline", func(t *testing.T) {
		s, _ := open(t)
		fill(t, s, 25)
		var buf bytes.Buffer
		var lastDone, lastTotal uint64
		if err := s.Export(ctx, &buf, 0, 0, func(d, tot uint64) { lastDone, lastTotal = d, tot }); err != nil {
			t.Fatal(err)
		}
		if lastDone != 25 || lastTotal != 25 {
			t.Fatalf("progress %d/%d", lastDone, lastTotal)
		}
		v := ledger.NewChainVerifier(1, ledger.ZeroHash)
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			e, err := ledger.DecodeEntry(sc.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ledger.EncodeEntry(&e), sc.Bytes()) {
				t.Fatalf("export line is not canonical: %s", sc.Bytes())
			}
			if err := v.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
		root, _ := v.Root()
		want, _ := s.TreeHash(ctx, 25)
		if v.Checked() != 25 || root != want {
			t.Fatalf("checked %d, root match %v", v.Checked(), root == want)
		}
		var part bytes.Buffer
		if err := s.Export(ctx, &part, 10, 12, nil); err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(part.Bytes(), []byte("\n")); n != 3 {
			t.Fatalf("range export has %d lines", n)
		}
	})

	t.Run("verify/ranges", func(t *testing.T) {
		s, _ := open(t)
		fill(t, s, 20)
		for _, tc := range []struct{ from, to, checked uint64 }{{0, 0, 20}, {5, 10, 6}, {20, 20, 1}, {1, 100, 20}} {
			res, err := s.Verify(ctx, tc.from, tc.to)
			if err != nil || !res.Valid || res.Checked != tc.checked || res.FirstBadSequence != nil {
				t.Fatalf("Verify(%d,%d) = %+v %v", tc.from, tc.to, res, err)
			}
		}
	})

	t.Run("checkpoint/sign-record-verify", func(t *testing.T) {
		s, c := open(t)
		l := &ledger.Ledger{Store: s, Now: c.Now}
		signer, pub := Signer(t)
		if _, err := l.LatestCheckpoint(ctx); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("LatestCheckpoint on empty: %v", err)
		}
		fill(t, s, 10)
		cp, err := l.Checkpoint(ctx, signer)
		if err != nil {
			t.Fatal(err)
		}
		if cp.TreeSize != 10 || cp.KID != "kid-test" {
			t.Fatalf("checkpoint %+v", cp)
		}
		size, root, err := ledger.VerifyCheckpoint(cp, "sintgate/test-gw", pub)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := s.TreeHash(ctx, size); want != root {
			t.Fatal("checkpoint root is not the store's tree hash")
		}
		again, err := l.Checkpoint(ctx, signer)
		if err != nil || again.Note != cp.Note || sizeOf(t, s) != 11 {
			t.Fatalf("idle checkpoint wrote again: %v size %d", err, sizeOf(t, s))
		}
		latest, err := l.LatestCheckpoint(ctx)
		if err != nil || latest.Note != cp.Note {
			t.Fatalf("LatestCheckpoint %+v %v", latest, err)
		}
		fill(t, s, 3)
		cp2, err := l.Checkpoint(ctx, signer)
		if err != nil || cp2.TreeSize != 14 {
			t.Fatalf("second checkpoint %+v %v", cp2, err)
		}
		// The newer tree extends the older one.
		p, err := s.ConsistencyProof(ctx, cp.TreeSize, cp2.TreeSize)
		if err != nil {
			t.Fatal(err)
		}
		r1, _ := ledger.ParseHexHash(cp.RootHash)
		r2, _ := ledger.ParseHexHash(cp2.RootHash)
		if err := ledger.VerifyConsistency(p, cp.TreeSize, cp2.TreeSize, tlog.Hash(r1), tlog.Hash(r2)); err != nil {
			t.Fatal(err)
		}
		// A proof for the latest checkpoint's own entry needs a newer checkpoint.
		head, _ := s.Head(ctx)
		cov, err := l.CheckpointCovering(ctx, signer, head.SequenceNumber)
		if err != nil || cov.TreeSize < head.SequenceNumber {
			t.Fatalf("CheckpointCovering(%d) = %+v, %v", head.SequenceNumber, cov, err)
		}
		if p, err := s.InclusionProof(ctx, head.SequenceNumber-1, cov.TreeSize); err != nil {
			t.Fatal(err)
		} else {
			r, _ := ledger.ParseHexHash(cov.RootHash)
			if err := ledger.VerifyInclusion(p, cov.TreeSize, head.SequenceNumber-1, r, head.Hash); err != nil {
				t.Fatal(err)
			}
		}
		if again, err := l.CheckpointCovering(ctx, signer, 3); err != nil || again.Note != cov.Note {
			t.Fatalf("covered sequence re-signed: %v", err)
		}
		var payload ledger.Checkpoint
		last, _ := s.Head(ctx)
		if err := json.Unmarshal(last.Payload, &payload); err != nil || last.EventType != ledger.EventTypeCheckpoint || last.AgentID != "system" {
			t.Fatalf("checkpoint entry %+v %v", last, err)
		}
	})

	if o.Tamper != nil {
		t.Run("tamper/verify-reports-sequence", func(t *testing.T) {
			s, _ := open(t)
			fill(t, s, 30)
			o.Tamper(t, s, 17)
			res, err := s.Verify(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid || res.FirstBadSequence == nil || *res.FirstBadSequence != 17 {
				t.Fatalf("Verify after tampering 17 = %+v (%s)", res, res.Reason)
			}
			if res.Checked != 16 {
				t.Fatalf("checked %d, want 16", res.Checked)
			}
			res, err = s.Verify(ctx, 18, 30)
			if err != nil || !res.Valid {
				t.Fatalf("range after the tampered entry: %+v %v", res, err)
			}
		})
	}

	t.Run("close/then-unavailable", func(t *testing.T) {
		s, _ := open(t)
		mustAppend(t, s, ev("a.b", "x", nil))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, ev("a.b", "x", nil)); codes.Of(err) != codes.LedgerUnavailable {
			t.Fatalf("append after close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func sizeOf(t *testing.T, s ledger.Store) uint64 { return size(t, s) }

func listAll(t *testing.T, s ledger.Store) []ledger.Entry {
	t.Helper()
	var all []ledger.Entry
	q := ledger.ListQuery{Limit: ledger.MaxListLimit}
	for {
		page, next, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == nil {
			return all
		}
		q.After = *next
	}
}

func equal(a, b ledger.Entry) bool {
	return bytes.Equal(ledger.EncodeEntry(&a), ledger.EncodeEntry(&b))
}

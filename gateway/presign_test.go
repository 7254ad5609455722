package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/ledger"
)

// countingSigner counts signatures and reports each signed sequence.
type countingSigner struct {
	next   AttestSigner
	mu     sync.Mutex
	seqs   []uint64
	signed chan uint64 // buffered; may be nil
}

func (s *countingSigner) SignAttestation(c attest.Claims) (string, error) {
	att, err := s.next.SignAttestation(c)
	s.mu.Lock()
	s.seqs = append(s.seqs, c.LedgerSeq)
	s.mu.Unlock()
	if s.signed != nil {
		s.signed <- c.LedgerSeq
	}
	return att, err
}

func (s *countingSigner) signatures() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.seqs...)
}

// ledgerSeqOf reads the ledgerSeq claim of a compact JWS attestation.
func ledgerSeqOf(t *testing.T, att string) uint64 {
	t.Helper()
	parts := strings.Split(att, ".")
	if len(parts) != 3 {
		t.Fatalf("attestation %q is not a compact JWS", att)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		LedgerSeq uint64 `json:"ledgerSeq"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.LedgerSeq
}

// An allow's attestation is signed while its entry is being committed (the
// ledger announced the sequence), but the answer leaves only once the append
// has returned durable; a trip during that overlap still turns the allow into
// ESTOP_ENGAGED with no attestation; a trip before the serialisation point
// signs nothing at all.
func TestAttestationOverlapsTheCommit(t *testing.T) {
	tests := []struct {
		name string
		// during runs while the allow's entry is sequenced, its attestation
		// signed, and its commit not yet durable.
		during   func(t *testing.T, f *fixture)
		wantCode codes.Code
	}{
		{name: "answered after durable", wantCode: ""},
		{name: "trip during the overlap", wantCode: codes.EstopEngaged, during: func(t *testing.T, f *fixture) {
			if _, err := f.b.Trip(context.Background(), estop.Source{ID: "button", Kind: estop.KindAPI}, "test"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			cs := &countingSigner{next: f.p.Signer, signed: make(chan uint64, 4)}
			f.p.Signer = cs
			var durable atomic.Bool
			sequenced := make(chan uint64, 1)
			release := make(chan struct{})
			f.l.committing = func(e ledger.Entry) {
				if e.EventType != "policy.evaluated" {
					return
				}
				sequenced <- e.SequenceNumber
				<-release
				durable.Store(true)
			}
			type answer struct {
				r       Result
				durable bool
			}
			done := make(chan answer, 1)
			go func() {
				r := f.p.Intercept(context.Background(), f.input(nil))
				done <- answer{r, durable.Load()}
			}()
			var seq uint64
			select {
			case seq = <-sequenced:
			case <-time.After(20 * time.Second):
				t.Fatal("the allow never reached the ledger")
			}
			select {
			case s := <-cs.signed:
				if s != seq {
					t.Fatalf("signed for sequence %d during the commit of %d", s, seq)
				}
			case a := <-done:
				t.Fatalf("answered %d %s before its entry was durable", a.r.Status, a.r.Outcome.Code)
			case <-time.After(20 * time.Second):
				t.Fatal("the attestation was not signed while the entry was being committed")
			}
			// Whatever the signer does next, the answer must not leave
			// before the commit returns.
			select {
			case a := <-done:
				t.Fatalf("answered %d %s before its entry was durable", a.r.Status, a.r.Outcome.Code)
			case <-time.After(100 * time.Millisecond):
			}
			if tt.during != nil {
				tt.during(t, f)
			}
			close(release)
			var a answer
			select {
			case a = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("no answer after the commit")
			}
			if !a.durable {
				t.Fatal("answered before the entry was durable")
			}
			f.p.Drain()
			if got := cs.signatures(); len(got) != 1 || got[0] != seq {
				t.Fatalf("signatures for sequences %v, want one for %d", got, seq)
			}
			if tt.wantCode == "" {
				if a.r.Status != 200 || a.r.Body.Attestation == nil || a.r.Entry == nil || a.r.Entry.SequenceNumber != seq {
					t.Fatalf("answer %d %s, entry %v", a.r.Status, a.r.Outcome.Code, a.r.Entry)
				}
				if got := ledgerSeqOf(t, *a.r.Body.Attestation); got != seq {
					t.Fatalf("attestation for sequence %d, entry %d", got, seq)
				}
				return
			}
			if a.r.Outcome.Code != tt.wantCode || a.r.Body.Attestation != nil || a.r.Body.Envelope != nil {
				t.Fatalf("answer %d %s with attestation %v", a.r.Status, a.r.Outcome.Code, a.r.Body.Attestation != nil)
			}
			superseded := false
			for _, e := range f.l.all() {
				if e.EventType == "policy.superseded" && strings.Contains(string(e.Payload), `"sequence":`) {
					superseded = true
				}
			}
			if !superseded {
				t.Fatal("no policy.superseded entry for the allow answered ESTOP_ENGAGED")
			}
		})
	}

	t.Run("trip before the serialisation point signs nothing", func(t *testing.T) {
		f := newFixture(t)
		cs := &countingSigner{next: f.p.Signer}
		f.p.Signer = cs
		f.l.hold = make(chan struct{})
		f.l.waiting.Add(1)
		done := make(chan Result, 1)
		go func() { done <- f.p.Intercept(context.Background(), f.input(nil)) }()
		f.l.waiting.Wait()
		if _, err := f.b.Trip(context.Background(), estop.Source{ID: "button", Kind: estop.KindAPI}, "test"); err != nil {
			t.Fatal(err)
		}
		r := <-done
		close(f.l.hold)
		f.p.Drain()
		if r.Outcome.Code != codes.EstopEngaged || r.Body.Attestation != nil {
			t.Fatalf("answer %d %s", r.Status, r.Outcome.Code)
		}
		if got := cs.signatures(); len(got) != 0 {
			t.Fatalf("signed %v for a preempted allow", got)
		}
	})
}

// Whatever the ledger announces, the attestation carries the sequence of the
// entry the append returned, and exactly one is signed per allow when the
// announcement was right: a ledger without the hook (PostgreSQL) and a
// wrong announcement are both signed after the append.
func TestAttestationSequenceIsTheEntrys(t *testing.T) {
	tests := []struct {
		name      string
		announce  func(hook func(uint64), seq uint64)
		wantSigns int
		maxSigns  int // 0: wantSigns
	}{
		{name: "announced", announce: nil, wantSigns: 1},
		{name: "not announced", announce: func(func(uint64), uint64) {}, wantSigns: 1},
		{name: "announced twice", announce: func(h func(uint64), seq uint64) { h(seq); h(seq) }, wantSigns: 1},
		// Signed twice if the presigner signed for the wrong sequence before
		// the commit returned, once if the request took it back first.
		{name: "wrong sequence announced", announce: func(h func(uint64), seq uint64) { h(seq + 7) }, wantSigns: 1, maxSigns: 2},
		{name: "hook panics in the store", announce: func(h func(uint64), seq uint64) {
			ledger.RunSequenced(func(uint64) { panic("bad hook") }, seq)
		}, wantSigns: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			cs := &countingSigner{next: f.p.Signer}
			f.p.Signer = cs
			f.l.announce = tt.announce
			for i := range 3 {
				r := f.p.Intercept(context.Background(), f.input(nil))
				if r.Status != 200 || r.Body.Attestation == nil || r.Entry == nil {
					t.Fatalf("request %d: %d %s", i, r.Status, r.Outcome.Code)
				}
				if got := ledgerSeqOf(t, *r.Body.Attestation); got != r.Entry.SequenceNumber {
					t.Fatalf("request %d: attestation for sequence %d, entry %d", i, got, r.Entry.SequenceNumber)
				}
			}
			hi := max(tt.maxSigns, tt.wantSigns)
			if got := cs.signatures(); len(got) < 3*tt.wantSigns || len(got) > 3*hi {
				t.Fatalf("%d signatures for 3 allows, want %d to %d", len(got), 3*tt.wantSigns, 3*hi)
			}
		})
	}
}

// blockingSigner signs only once released.
type blockingSigner struct{ release chan struct{} }

func (s blockingSigner) SignAttestation(attest.Claims) (string, error) {
	<-s.release
	return "", errBoom
}

// With every presigner busy and the queue full, the hook starts nothing and
// the allow is signed after its commit: still answered, with the entry's
// sequence, never waiting for the queue.
func TestPresignQueueFull(t *testing.T) {
	presigners.once.Do(startPresigners)
	bs := blockingSigner{release: make(chan struct{})}
	var stuck []*presign
	// One per presigner to occupy it, then fill the queue.
	for i := range runtime.GOMAXPROCS(0) + presignQueue + 8 {
		ps := newPresign(bs, attest.Claims{})
		ps.sequenced(uint64(i + 1))
		if ps.state.Load() != presignIdle {
			stuck = append(stuck, ps)
		}
	}
	defer func() {
		close(bs.release)
		for _, ps := range stuck {
			select {
			case <-ps.done:
			case <-time.After(10 * time.Second):
				t.Error("a queued presign never ran")
				return
			}
		}
	}()
	if len(presigners.q) != presignQueue {
		t.Fatalf("queue holds %d, want it full (%d)", len(presigners.q), presignQueue)
	}
	f := newFixture(t)
	cs := &countingSigner{next: f.p.Signer}
	f.p.Signer = cs
	done := make(chan Result, 1)
	go func() { done <- f.p.Intercept(context.Background(), f.input(nil)) }()
	var r Result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the allow waited for the full presign queue")
	}
	if r.Status != 200 || r.Body.Attestation == nil || r.Entry == nil {
		t.Fatalf("answer %d %s", r.Status, r.Outcome.Code)
	}
	if got := ledgerSeqOf(t, *r.Body.Attestation); got != r.Entry.SequenceNumber {
		t.Fatalf("attestation for sequence %d, entry %d", got, r.Entry.SequenceNumber)
	}
	if got := cs.signatures(); len(got) != 1 {
		t.Fatalf("signatures %v, want one", got)
	}
}

// With every presigner busy, an allow whose signature still waits in the
// queue when its commit returns takes it back and signs itself rather than
// wait behind other signatures; the presigner later skips it.
func TestPresignTakenBackFromTheQueue(t *testing.T) {
	presigners.once.Do(startPresigners)
	bs := blockingSigner{release: make(chan struct{})}
	var busy []*presign
	for i := range runtime.GOMAXPROCS(0) {
		ps := newPresign(bs, attest.Claims{})
		ps.sequenced(uint64(i + 1))
		busy = append(busy, ps)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, ps := range busy {
		for ps.state.Load() != presignRunning {
			if time.Now().After(deadline) {
				t.Fatal("the presigners did not take the blocking signatures")
			}
			time.Sleep(time.Millisecond)
		}
	}
	defer func() {
		close(bs.release)
		for _, ps := range busy {
			<-ps.done
		}
	}()
	f := newFixture(t)
	cs := &countingSigner{next: f.p.Signer}
	f.p.Signer = cs
	done := make(chan Result, 1)
	go func() { done <- f.p.Intercept(context.Background(), f.input(nil)) }()
	var r Result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the allow waited behind busy presigners")
	}
	if r.Status != 200 || r.Body.Attestation == nil || r.Entry == nil {
		t.Fatalf("answer %d %s", r.Status, r.Outcome.Code)
	}
	if got := ledgerSeqOf(t, *r.Body.Attestation); got != r.Entry.SequenceNumber {
		t.Fatalf("attestation for sequence %d, entry %d", got, r.Entry.SequenceNumber)
	}
	if got := cs.signatures(); len(got) != 1 {
		t.Fatalf("signatures %v, want one", got)
	}
}

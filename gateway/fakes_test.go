package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/injection"
	"github.com/sintgate/sintgate/gateway/policy"
	"github.com/sintgate/sintgate/gateway/ratelimit"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// memLedger is a sequential in-memory ledger with the append contract of
// ledger.Store: Guard runs under the sequencing lock; a context cancelled
// before serialisation means "not written". hold, when set, blocks allow
// appends (those with a Guard) before serialisation until it is closed.
type memLedger struct {
	mu      sync.Mutex
	entries []ledger.Entry
	fail    error
	hold    chan struct{}
	waiting sync.WaitGroup
	// announce, when set, replaces the store's call of ev.Sequenced(seq)
	// at the serialisation point (nil: call it, as the embedded store does).
	announce func(hook func(uint64), seq uint64)
	// committing, when set, runs after an entry is sequenced and before
	// Append returns it, outside the lock: the group commit's write and
	// fdatasync, during which other appends (a trip's) proceed.
	committing func(e ledger.Entry)
}

func (l *memLedger) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	if ev.Guard != nil && l.hold != nil {
		l.waiting.Done()
		select {
		case <-l.hold:
		case <-ctx.Done():
			return ledger.Entry{}, codes.Wrap(codes.LedgerUnavailable, "append cancelled", context.Cause(ctx))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return ledger.Entry{}, l.fail
	}
	if err := ctx.Err(); err != nil {
		return ledger.Entry{}, codes.Wrap(codes.LedgerUnavailable, "append cancelled", context.Cause(ctx))
	}
	e, err := l.appendLocked(ev)
	if err == nil && l.committing != nil {
		l.mu.Unlock()
		l.committing(e)
		l.mu.Lock()
	}
	return e, err
}

// appendLocked appends one event (caller holds mu): a caller-chosen
// event id already recorded is ErrDuplicateEvent, as in the real stores.
func (l *memLedger) appendLocked(ev ledger.Event) (ledger.Entry, error) {
	id := ev.EventID
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	} else {
		for _, e := range l.entries {
			if e.EventID == id {
				return ledger.Entry{}, ledger.ErrDuplicateEvent
			}
		}
	}
	if ev.Guard != nil {
		if err := ev.Guard(); err != nil {
			return ledger.Entry{}, err
		}
	}
	payload, err := json.Marshal(ev.Payload)
	if err != nil {
		return ledger.Entry{}, err
	}
	e := ledger.Entry{EventID: id, SequenceNumber: uint64(len(l.entries) + 1),
		EventType: ev.EventType, AgentID: ev.AgentID, TokenID: ev.TokenID, Payload: payload, Hash: fmt.Sprintf("%064x", len(l.entries)+1)}
	l.entries = append(l.entries, e)
	if ev.Sequenced != nil {
		if l.announce != nil {
			l.announce(ev.Sequenced, e.SequenceNumber)
		} else {
			ledger.RunSequenced(ev.Sequenced, e.SequenceNumber)
		}
	}
	return e, nil
}

func (l *memLedger) GetByEventID(_ context.Context, id string) (ledger.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e.EventID == id {
			return e, nil
		}
	}
	return ledger.Entry{}, ledger.ErrNotFound
}

// batchLedger is memLedger with AppendBatch (one lock for the batch,
// per-event errors, all-or-nothing failure), like filestore and pgledger.
type batchLedger struct{ *memLedger }

func (l batchLedger) AppendBatch(ctx context.Context, evs []ledger.Event) ([]ledger.Entry, []error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return nil, nil, l.fail
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, codes.Wrap(codes.LedgerUnavailable, "append cancelled", context.Cause(ctx))
	}
	entries, errs := make([]ledger.Entry, len(evs)), make([]error, len(evs))
	for i, ev := range evs {
		entries[i], errs[i] = l.appendLocked(ev)
	}
	return entries, errs, nil
}

func (l *memLedger) all() []ledger.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ledger.Entry(nil), l.entries...)
}

// memLedger's recorder side for the breaker.
type breakerRecorder struct{ l *memLedger }

func (r breakerRecorder) RecordTrip(ctx context.Context, s estop.State, src estop.Source, reason string) error {
	_, err := r.l.Append(context.WithoutCancel(ctx), ledger.Event{EventType: "safety.estop.tripped", AgentID: "system", Payload: map[string]any{"epoch": s.Epoch}})
	return err
}

func (r breakerRecorder) RecordReset(ctx context.Context, s estop.State, operator, reason string) error {
	_, err := r.l.Append(context.WithoutCancel(ctx), ledger.Event{EventType: "safety.estop.reset", AgentID: "system", Payload: map[string]any{"epoch": s.Epoch}})
	return err
}

// fakeEscalator creates approvals in memory and records abandonments.
type fakeEscalator struct {
	mu        sync.Mutex
	abandoned []string
}

func (*fakeEscalator) Escalate(_ context.Context, r *Request, _ *Outcome, _ string, now time.Time) (Escalation, error) {
	id := uuid.Must(uuid.NewV7()).String()
	return Escalation{ApprovalID: id, ExpiresAtMs: now.Add(time.Minute).UnixMilli(), Created: true,
		Events: []ledger.Event{{EventType: "approval.requested", AgentID: r.AgentID, Payload: map[string]any{"approvalId": id}}}}, nil
}

func (e *fakeEscalator) Abandon(_ context.Context, esc Escalation, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.abandoned = append(e.abandoned, esc.ApprovalID)
}

const testPolicy = `version: 1
defaultTier: 4
rules:
  - resource: "ros:///cmd_vel"
    actions: [publish]
    tier: 2
  - resource: "ros:///arm/**"
    actions: [publish]
    tier: 3
`

// fixture is a pipeline over in-memory parts with a trusted root "root" and
// a registered depth-3 chain ending at agent "a3".
type fixture struct {
	p       *Pipeline
	l       *memLedger
	b       *estop.Breaker
	now     time.Time
	leafID  string
	tokens  tokens.MapLookup
	agent   string
	counter int
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := time.UnixMilli(1_763_928_000_000)
	pol, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	l := &memLedger{}
	b := estop.NewBreaker(estop.WithRecorder(breakerRecorder{l}), estop.WithClock(func() time.Time { return now }))
	key, err := attest.NewKey(make([]byte, 32), now)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := attest.NewKeyset("gw-test", key)
	if err != nil {
		t.Fatal(err)
	}
	// A depth-3 chain root → a1 → a2 → a3, velocity limit 1 m/s.
	nowMs := now.UnixMilli()
	rc := tokentest.Root("root", "a1", 1, nowMs)
	v := 1.0
	rc.Constraints.MaxVelocityMps = &v
	chain := []*tokens.Token{tokentest.Sign("root", rc)}
	for i, sub := range []string{"a2", "a3"} {
		c := tokentest.Child(chain[i], sub, 2+i)
		chain = append(chain, tokentest.Sign([]string{"a1", "a2"}[i], c))
	}
	// a0 → a1 is the root here, so the chain depth is 2; add one more.
	c := tokentest.Child(chain[2], "a4", 10)
	chain = append(chain, tokentest.Sign("a3", c))
	lookup := tokens.MapLookup{}
	for _, x := range chain {
		lookup[x.Claims.TokenID] = x.Raw
	}
	rev := tokens.NewRevocationSet()
	p := &Pipeline{
		GatewayID: "gw-test", Clock: func() time.Time { return now }, Breaker: b, Ledger: l,
		Replay: NewMemoryReplay(1 << 20), Circuits: NewCircuits(), Limiter: ratelimit.NewCounter(),
		Signer: KeysetSigner{Keys: ks}, Escalator: &fakeEscalator{}, VerifySig: tokens.VerifySig,
		Rejections: NewRejections(time.Second), Log: slog.New(slog.DiscardHandler),
	}
	p.SetState(&State{Policy: pol, Verifier: tokens.NewVerifier(1024), Roots: tokens.RootSet{tokentest.Pub("root"): true},
		Revocations: rev, Tokens: lookup, Scanner: injection.New()})
	return &fixture{p: p, l: l, b: b, now: now, leafID: chain[3].Claims.TokenID, tokens: lookup, agent: "a4"}
}

// input builds a signed intercept for the fixture's agent.
func (f *fixture) input(mutate func(m map[string]any)) Input {
	f.counter++
	m := map[string]any{
		"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub(f.agent),
		"timestamp": f.now.UnixMilli(), "tokenId": f.leafID, "resource": "ros:///cmd_vel", "action": "publish",
		"params": map[string]any{"linear": map[string]any{"x": 0.4, "y": 0, "z": 0}},
	}
	if mutate != nil {
		mutate(m)
	}
	body, _ := json.Marshal(m)
	sig := base64.RawURLEncoding.EncodeToString(edSign(f.agent, body))
	return Input{Body: body, Headers: AgentHeaders{AgentID: tokentest.Pub(f.agent), Timestamp: strconv.FormatInt(f.now.UnixMilli(), 10), Sig: sig}, Remote: "127.0.0.1"}
}

var errBoom = errors.New("disk on fire")

package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
)

// tripEscalator is fakeEscalator with a hook that trips the breaker at a
// chosen point of an escalation: before the approval is created (the trip's
// cancellation of pending approvals has already run) or after it was created
// and before its ledger batch.
type tripEscalator struct {
	fakeEscalator
	b      *estop.Breaker
	before bool // trip before creating, else after
}

func (e *tripEscalator) Escalate(ctx context.Context, r *Request, o *Outcome, ph string, now time.Time) (Escalation, error) {
	trip := func() { _, _ = e.b.Trip(context.Background(), estop.Source{ID: "op", Kind: estop.KindAPI}, "race") }
	if e.before {
		trip()
	}
	esc, err := e.fakeEscalator.Escalate(ctx, r, o, ph, now)
	if !e.before {
		trip()
	}
	return esc, err
}

// TestEscalationGuardedByTrip races an escalation with a trip
// deterministically: whether the trip lands between the decision and the
// approval's creation or between its creation and its ledger batch, the
// agent is answered ESTOP_ENGAGED, the approval is abandoned, and no
// approval.requested entry follows the trip entry (issue 17 item 2: an
// escalation is guarded like an allow).
func TestEscalationGuardedByTrip(t *testing.T) {
	tier3 := func(m map[string]any) { m["resource"] = "ros:///arm/j1" }
	for _, tc := range []struct {
		name   string
		before bool
		batch  bool
	}{
		{"trip-before-create", true, false},
		{"trip-after-create", false, false},
		{"trip-before-create/batch-ledger", true, true},
		{"trip-after-create/batch-ledger", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.batch {
				f.p.Ledger = batchLedger{f.l}
			}
			esc := &tripEscalator{b: f.b, before: tc.before}
			f.p.Escalator = esc
			res := f.p.Intercept(context.Background(), f.input(tier3))
			if res.Status != 403 || res.Outcome.Code != codes.EstopEngaged || res.Body.ApprovalID != nil {
				t.Fatalf("answer %d %s approval %v; want 403 ESTOP_ENGAGED without an approval", res.Status, res.Outcome.Code, res.Body.ApprovalID)
			}
			if !f.b.Tripped() {
				t.Fatal("the hook did not trip")
			}
			esc.mu.Lock()
			abandoned := len(esc.abandoned)
			esc.mu.Unlock()
			if abandoned != 1 {
				t.Fatalf("abandoned %d approvals, want the one created", abandoned)
			}
			f.p.Drain()
			tripped := false
			for _, e := range f.l.all() {
				switch {
				case e.EventType == "safety.estop.tripped":
					tripped = true
				case tripped && e.EventType == "approval.requested":
					t.Fatalf("approval.requested #%d after the trip entry", e.SequenceNumber)
				}
			}
			if !tripped {
				t.Fatal("no trip entry")
			}
		})
	}
}

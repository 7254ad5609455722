package gpio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/client"
)

// seqEstop answers each poll with the next scripted answer.
type seqEstop struct {
	answers chan func() (client.EstopState, error)
}

func (s seqEstop) ReadEstop(ctx context.Context) (client.EstopState, error) {
	select {
	case f := <-s.answers:
		return f()
	case <-ctx.Done():
		return client.EstopState{}, ctx.Err()
	}
}

// TestFaultHaltLatches: an unreachable gateway halts the pins, and an armed
// answer afterwards (a gateway back, or restarted on its data directory)
// does not resume them: only the local Reset (or an operator trip and
// reset) does.
func TestFaultHaltLatches(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := seqEstop{answers: make(chan func() (client.EstopState, error))}
	done := make(chan error, 1)
	go func() { done <- f.b.WatchEstop(ctx, r, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	armed := func() (client.EstopState, error) { return client.EstopState{State: "armed", Epoch: 1}, nil }
	r.answers <- armed
	_ = f.grip.Out(pgpio.High) // a command in effect
	r.answers <- func() (client.EstopState, error) { return client.EstopState{}, errors.New("connection refused") }
	r.answers <- armed
	r.answers <- armed // the previous armed poll was applied
	if !f.b.Halted() || f.grip.Read() != pgpio.Low {
		t.Fatalf("halted=%v gripper=%v after a lost gateway came back: want still halted and inert", f.b.Halted(), f.grip.Read())
	}
	if !f.b.Reset() {
		t.Fatal("Reset found no fault")
	}
	r.answers <- armed
	r.answers <- armed
	if f.b.Halted() {
		t.Fatal("still halted after the reset and an armed poll")
	}
	if f.grip.Read() != pgpio.Low {
		t.Fatal("the reset moved the gripper")
	}
}

// denier denies every intercept.
type denier struct{}

func (denier) AgentID() string { return "" }
func (denier) Intercept(context.Context, api.InterceptRequest) (*api.Decision, int, error) {
	code, reason := "PHYSICS_CONSTRAINT", "too fast"
	return &api.Decision{Decision: "deny", Code: &code, Reason: &reason}, 200, nil
}
func (denier) AwaitApproval(context.Context, string) (*api.Decision, int, error) {
	return nil, 0, errors.New("no approvals")
}

// TestDenyStopsActuator: a denied command on a motion actuator (the
// default) drives its pin inert: the previous command does not go on.
func TestDenyStopsActuator(t *testing.T) {
	f := newFixture(t)
	_ = f.fan.PWM(pgpio.DutyHalf, 1000) // running
	_ = f.grip.Out(pgpio.High)
	if err := f.b.Set(context.Background(), denier{}, "tok", gripper, []byte(`{"value":true}`)); err == nil {
		t.Fatal("a deny was applied")
	}
	if f.grip.Read() != pgpio.Low {
		t.Fatal("the deny left the gripper driven")
	}
}

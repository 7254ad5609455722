package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestOpenCircuitSuspendsEveryChainThroughTheAgent: the fixture's chain is
// root → a1 → a2 → a3 → a4 (a4 requests). Opening the circuit of any holder
// in the chain denies a4 CIRCUIT_OPEN (stage 4, recorded); closing it
// restores the allow. An agent outside the chain changes nothing.
func TestOpenCircuitSuspendsEveryChainThroughTheAgent(t *testing.T) {
	for _, tc := range []struct {
		name, open string
		want       codes.Code
		stage      int
	}{
		{name: "none", open: "", want: ""},
		{name: "unrelated-agent", open: "someone-else", want: ""},
		{name: "root-holder", open: "a1", want: codes.CircuitOpen, stage: 4},
		{name: "middle-holder", open: "a2", want: codes.CircuitOpen, stage: 4},
		{name: "parent-of-the-leaf", open: "a3", want: codes.CircuitOpen, stage: 4},
		{name: "the-requester", open: "a4", want: codes.CircuitOpen, stage: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.open != "" {
				f.p.Circuits.Open(tokentest.Pub(tc.open), "test", time.Now())
			}
			r := f.p.Intercept(context.Background(), f.input(nil))
			if r.Outcome.Code != tc.want || (tc.want != "" && (r.Status != 403 || r.Outcome.Stage != tc.stage || r.Entry == nil)) {
				t.Fatalf("circuit of %q open: %d %s stage %d ledgered %v, want %q stage %d", tc.open, r.Status, r.Outcome.Code, r.Outcome.Stage, r.Entry != nil, tc.want, tc.stage)
			}
			if tc.open == "" {
				return
			}
			f.p.Circuits.Close(tokentest.Pub(tc.open))
			if r := f.p.Intercept(context.Background(), f.input(nil)); r.Status != 200 {
				t.Fatalf("after closing the circuit of %q: %d %s", tc.open, r.Status, r.Outcome.Code)
			}
		})
	}
}

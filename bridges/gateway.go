package bridges

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
)

// Decider asks the gateway for decisions as the bridge's agent identity.
// *client.Agent implements it.
type Decider interface {
	AgentID() string
	Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error)
	AwaitApproval(ctx context.Context, approvalID string) (*api.Decision, int, error)
}

// AttestationVerifier verifies decision attestations. *attest.JWKSCache
// implements it.
type AttestationVerifier interface {
	Verify(ctx context.Context, token string, now time.Time, want attest.Expect) (*attest.Claims, error)
}

// EstopReader reads the gateway's e-stop state (GET /v1/estop).
// OperatorEstop implements it.
type EstopReader interface {
	ReadEstop(ctx context.Context) (client.EstopState, error)
}

// OperatorEstop reads GET /v1/estop with an operator API key (scope read
// is enough).
type OperatorEstop struct{ Op *client.Operator }

// ReadEstop implements EstopReader.
func (o OperatorEstop) ReadEstop(ctx context.Context) (client.EstopState, error) {
	var st client.EstopState
	err := o.Op.Do(ctx, http.MethodGet, "/v1/estop", nil, &st)
	return st, err
}

// EstopWatch reads the e-stop polls of one bridge: it turns each poll's
// answer into what the bridge must do, failing closed. Safe for concurrent
// use; the zero value is ready.
type EstopWatch struct {
	mu        sync.Mutex
	lastEpoch uint64
}

// PollAction is what one e-stop poll asks of a bridge: latch with Latch as
// the reason when it is not empty, then clear the latch when Unlatch is set.
type PollAction struct {
	Latch   string
	Unlatch bool
}

// Read interprets one poll (st and the error of reading it). An error, a
// tripped breaker and any state other than "armed" latch; only an explicit
// "armed" unlatches, after a latch when the breaker epoch grew since the
// previous poll (a trip and a reset both happened between two polls: the
// actuators still get their safe stop). The first poll only records the
// epoch.
func (w *EstopWatch) Read(st client.EstopState, err error) PollAction {
	switch {
	case err != nil:
		return PollAction{Latch: "gateway unreachable: " + err.Error()}
	case st.State == "tripped":
		w.noteEpoch(st.Epoch)
		return PollAction{Latch: "e-stop tripped: " + st.Reason}
	case st.State != "armed":
		// A 200 with {} or a state this bridge does not know is not armed.
		return PollAction{Latch: fmt.Sprintf("e-stop state %q is not armed", st.State)}
	}
	a := PollAction{Unlatch: true}
	if w.noteEpoch(st.Epoch) {
		a.Latch = "e-stop tripped and reset between polls"
	}
	return a
}

// noteEpoch records the breaker epoch and reports whether it grew.
func (w *EstopWatch) noteEpoch(e uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	grew := w.lastEpoch != 0 && e > w.lastEpoch
	if e > w.lastEpoch {
		w.lastEpoch = e
	}
	return grew
}

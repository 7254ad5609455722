package bridges

import (
	"context"
	"net/http"
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

// OperatorEstop reads GET /v1/estop with an operator API key and streams
// the pushed e-stop events (EstopSubscriber); scope read is enough for both.
type OperatorEstop struct {
	Op *client.Operator
	// StreamIdle bounds the silence of the pushed stream; 0 means
	// DefaultStreamIdle.
	StreamIdle time.Duration
}

// ReadEstop implements EstopReader.
func (o OperatorEstop) ReadEstop(ctx context.Context) (client.EstopState, error) {
	var st client.EstopState
	err := o.Op.Do(ctx, http.MethodGet, "/v1/estop", nil, &st)
	return st, err
}

package mqttbridge

import (
	"context"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway/attest"
)

type nopDecider struct{}

func (nopDecider) AgentID() string { return "" }
func (nopDecider) Intercept(context.Context, api.InterceptRequest) (*api.Decision, int, error) {
	return nil, 0, context.Canceled
}
func (nopDecider) AwaitApproval(context.Context, string) (*api.Decision, int, error) {
	return nil, 0, context.Canceled
}

type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, string, time.Time, attest.Expect) (*attest.Claims, error) {
	return nil, context.Canceled
}

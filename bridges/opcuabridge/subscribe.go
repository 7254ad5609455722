package opcuabridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/sintgate/sintgate/codes"
)

// Subscription limits.
const (
	// MaxSubscriptions bounds the subscriptions streaming at once; one more
	// is refused RATE_LIMIT_EXCEEDED.
	MaxSubscriptions = 16
	// SubscribeInterval is the publishing interval asked of the controller.
	SubscribeInterval = 100 * time.Millisecond
)

// Subscribe gates a subscription to a variable (the node named
// "<ns>/<path>") with an intercept, action subscribe and params {}; on an
// allow whose attestation verifies, it monitors the node's value on the
// controller and calls emit with each data change, the current value
// first. It returns when ctx ends, emit fails, the subscription fails, the
// allow's attestation expires (30 s by default, 60 at most: the agent
// subscribes again and is gated again, so a revoked token or a changed
// policy applies), or the bridge latches (a trip, a lost gateway or controller: the gateway
// decides nothing while tripped, so nothing is streamed either). The
// Outcome says why: "subscription-ended" with the reason, or the deny or
// refusal of the request (emit was then never called).
func (b *Bridge) Subscribe(ctx context.Context, name string, emit func(json.RawMessage) error) Outcome {
	if emit == nil {
		return refused("", codes.MalformedRequest, "subscribe needs a receiver")
	}
	return b.do(ctx, ActionSubscribe, name, nil, nil, emit)
}

// stream carries out an allowed, attested subscription until it ends.
func (b *Bridge) stream(ctx context.Context, n *node, out Outcome, gen uint64, exp time.Time, emit func(json.RawMessage) error) Outcome {
	fail := func(code codes.Code, reason string) Outcome {
		b.refused.Add(1)
		out.Outcome, out.Code, out.Reason = "refused", string(code), reason
		return out
	}
	select {
	case b.subs <- struct{}{}:
		defer func() { <-b.subs }()
	default:
		return fail(codes.RateLimitExceeded, "too many subscriptions streaming")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notify := make(chan *opcua.PublishNotificationData, 16)
	mctx, mcancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	sub, err := b.ctrl.monitor(mctx, n.id, SubscribeInterval, notify)
	mcancel()
	if err != nil {
		return fail(codes.InternalError, "controller: subscribe: "+err.Error())
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout)
		_ = sub.Cancel(cctx)
		ccancel()
	}()
	end := func(reason string) Outcome {
		out.Outcome, out.Reason = "subscription-ended", reason
		return out
	}
	check := time.NewTicker(50 * time.Millisecond)
	defer check.Stop()
	expired := time.NewTimer(exp.Sub(b.cfg.Now()))
	defer expired.Stop()
	for {
		select {
		case <-ctx.Done():
			return end("the subscriber left")
		case <-expired.C:
			return end("the attestation expired: subscribe again")
		case <-check.C:
			b.mu.Lock()
			latched, changed, why := b.latched, b.gen != gen, b.latchReason
			b.mu.Unlock()
			if latched || changed {
				out.Code = string(codes.EstopEngaged)
				return end("the bridge latched: " + why)
			}
		case pn := <-notify:
			if pn.Error != nil {
				out.Code = string(codes.InternalError)
				return end("controller: " + pn.Error.Error())
			}
			dc, ok := pn.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, item := range dc.MonitoredItems {
				if item == nil || item.Value == nil {
					continue
				}
				if err := emit(JSONValue(item.Value.Value)); err != nil {
					return end("the subscriber left: " + err.Error())
				}
				b.read.Add(1)
			}
		}
	}
}

package topicbridge

import (
	"context"
	"net/http/httptrace"
	"time"
)

// Timing is what Config.Observe learns of one message the core forwarded on
// an allow: where its time went inside the bridge.
type Timing struct {
	Topic     string // agent topic
	RequestID string
	// Start is when the core began handling the message (after the
	// transport handed it over).
	Start time.Time
	// Gateway is the intercept's HTTP exchange as the bridge measured it:
	// from the HTTP client asking for a connection (the request built and
	// signed) to the first byte of the gateway's answer. It is Call when the
	// Decider made no HTTP request the core could trace.
	Gateway time.Duration
	// Call is the whole Decider.Intercept call: the request's encoding and
	// signature, the HTTP exchange, the answer's decoding.
	Call time.Duration
	// BeforeHTTP is the part of Call before the exchange (Call start →
	// connection asked for); Call − BeforeHTTP − Gateway is the part after
	// it. Zero when the Decider made no HTTP request the core could trace.
	BeforeHTTP time.Duration
	// Published is when the actuator publish returned.
	Published time.Time
}

// msgTiming collects one message's Timing while the core handles it; nil
// when Config.Observe is not set (nothing is measured).
type msgTiming struct {
	t         Timing
	connAt    time.Time // httptrace GetConn
	firstByte time.Time // httptrace GotFirstResponseByte
}

// trace returns ctx with an HTTP client trace that records the exchange's
// start and the answer's first byte into m.
func (m *msgTiming) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) {
			if m.connAt.IsZero() {
				m.connAt = time.Now()
			}
		},
		GotFirstResponseByte: func() { m.firstByte = time.Now() },
	})
}

// called records the Decider call that started at t0 and returned now.
func (m *msgTiming) called(t0 time.Time) {
	m.t.Call = time.Since(t0)
	m.t.Gateway = m.t.Call
	if !m.connAt.IsZero() && m.firstByte.After(m.connAt) {
		m.t.Gateway = m.firstByte.Sub(m.connAt)
		m.t.BeforeHTTP = m.connAt.Sub(t0)
	}
}

package redisx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/store"
)

// Change types on the registry bus.
const (
	ChangeRevoke = "revoke" // IDs: every token id newly revoked (descendants included)
	ChangeRoots  = "roots"  // the trusted roots changed: reload them
	ChangeTokens = "tokens" // IDs: tokens registered
	// ChangeAgents: IDs are agents whose record (circuit) changed: re-read
	// their circuit.
	ChangeAgents = "agents"
	// ChangeApprovals: IDs are approvals that changed: re-read their
	// standing approval (granted or revoked).
	ChangeApprovals = "approvals"
)

// Limits of a Change accepted by ParseChange.
const (
	MaxChangeBytes = 4 << 20
	MaxChangeIDs   = 65_536
)

// Change is one registry change announced by a replica after it is durable
// in PostgreSQL (the source of truth; the bus only shortens the delay).
type Change struct {
	Type   string   `json:"type"`
	Origin string   `json:"origin"`
	IDs    []string `json:"ids,omitempty"`
}

// ErrBadChange is returned by ParseChange for a malformed message.
var ErrBadChange = errors.New("redisx: malformed change message")

// ParseChange decodes and checks a bus message: known type, bounded size,
// ids non-empty and at most store.MaxIDBytes, no unknown fields.
func ParseChange(b []byte) (Change, error) {
	var c Change
	if len(b) > MaxChangeBytes {
		return c, fmt.Errorf("%w: %d bytes", ErrBadChange, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Change{}, fmt.Errorf("%w: %v", ErrBadChange, err)
	}
	if dec.More() {
		return Change{}, fmt.Errorf("%w: trailing data", ErrBadChange)
	}
	switch c.Type {
	case ChangeRevoke, ChangeRoots, ChangeTokens, ChangeAgents, ChangeApprovals:
	default:
		return Change{}, fmt.Errorf("%w: type %q", ErrBadChange, c.Type)
	}
	if c.Origin == "" || len(c.Origin) > store.MaxIDBytes {
		return Change{}, fmt.Errorf("%w: origin", ErrBadChange)
	}
	if len(c.IDs) > MaxChangeIDs {
		return Change{}, fmt.Errorf("%w: %d ids", ErrBadChange, len(c.IDs))
	}
	for _, id := range c.IDs {
		if id == "" || len(id) > store.MaxIDBytes {
			return Change{}, fmt.Errorf("%w: id of %d bytes", ErrBadChange, len(id))
		}
	}
	return c, nil
}

// Delivery is one event from the bus: a change, or a gap (the subscription
// broke; changes may have been missed and the receiver must catch up from
// PostgreSQL).
type Delivery struct {
	Change Change
	Gap    bool
}

// Bus is the registry change bus of one fleet (Redis pub/sub channel
// "<prefix>registry").
type Bus struct {
	c       redis.UniversalClient
	channel string
}

// NewBus returns the bus under prefix.
func NewBus(c redis.UniversalClient, prefix string) *Bus {
	return &Bus{c: c, channel: prefix + "registry"}
}

// Publish announces a change.
func (b *Bus) Publish(ctx context.Context, c Change) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.c.Publish(ctx, b.channel, raw).Err()
}

// Subscribe delivers changes until ctx ends (the channel is closed then). It
// returns once the subscription is confirmed. A receive error is delivered as
// a gap, then receiving resumes (go-redis reconnects and resubscribes) after
// a 100 ms pause. Malformed messages are dropped.
func (b *Bus) Subscribe(ctx context.Context) (<-chan Delivery, error) {
	ps := b.c.Subscribe(ctx, b.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, err
	}
	out := make(chan Delivery, 256)
	stop := make(chan struct{})
	go func() { // a blocked Receive does not watch ctx: closing ps ends it
		select {
		case <-ctx.Done():
		case <-stop:
		}
		_ = ps.Close()
	}()
	go func() {
		defer close(out)
		defer close(stop)
		send := func(d Delivery) bool {
			select {
			case out <- d:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for ctx.Err() == nil {
			v, err := ps.Receive(ctx)
			if err != nil {
				if ctx.Err() != nil || !send(Delivery{Gap: true}) {
					return
				}
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
				continue
			}
			switch m := v.(type) {
			case *redis.Message:
				c, err := ParseChange([]byte(m.Payload))
				if err != nil {
					continue
				}
				if !send(Delivery{Change: c}) {
					return
				}
			case *redis.Subscription:
				// A resubscription after a reconnect: messages in between were lost.
				if m.Kind == "subscribe" && !send(Delivery{Gap: true}) {
					return
				}
			}
		}
	}()
	return out, nil
}

package replica

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis pub/sub channel of e-stop messages.
const DefaultChannel = "sintgate:estop"

// RedisBus is a Bus over Redis pub/sub.
type RedisBus struct {
	Client  *redis.Client
	Channel string // DefaultChannel if empty
}

func (r RedisBus) channel() string {
	if r.Channel == "" {
		return DefaultChannel
	}
	return r.Channel
}

// Publish implements Bus.
func (r RedisBus) Publish(ctx context.Context, msg []byte) error {
	return r.Client.Publish(ctx, r.channel(), msg).Err()
}

// Subscribe implements Bus. It returns once the subscription is confirmed.
// Any receive error is reported as a gap (go-redis reconnects and
// resubscribes on the next receive).
func (r RedisBus) Subscribe(ctx context.Context) (<-chan Delivery, error) {
	ps := r.Client.Subscribe(ctx, r.channel())
	if _, err := ps.Receive(ctx); err != nil { // the subscribe confirmation
		ps.Close()
		return nil, err
	}
	out := make(chan Delivery, 64)
	go func() {
		defer close(out)
		defer ps.Close()
		broken := false
		for ctx.Err() == nil {
			v, err := ps.Receive(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				broken = true
				select {
				case out <- Delivery{Gap: true}:
				case <-ctx.Done():
					return
				}
				select { // do not spin while Redis is down
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
				continue
			}
			if broken {
				// The receive that reconnected re-sent SUBSCRIBE; any
				// reply now (its confirmation, or a message) means the
				// subscription is back.
				broken = false
				select {
				case out <- Delivery{Resumed: true}:
				case <-ctx.Done():
					return
				}
			}
			if m, ok := v.(*redis.Message); ok {
				select {
				case out <- Delivery{Msg: []byte(m.Payload)}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

package redisx

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// NoEviction is the only maxmemory-policy a fleet's Redis may have: under
// any other policy Redis may drop keys when it is full, and an evicted
// replay key lets a replay through, an evicted rate window resets a limit
// (volatile-* policies evict exactly such keys: they all have a TTL).
const NoEviction = "noeviction"

// EvictionError reports a Redis whose maxmemory-policy may evict keys.
type EvictionError struct{ Policy string }

func (e *EvictionError) Error() string {
	return fmt.Sprintf("redis maxmemory-policy is %q: Redis may evict replay and rate-limit keys (set maxmemory-policy %s)", e.Policy, NoEviction)
}

// ErrPolicyUnreadable means Redis refused CONFIG GET maxmemory-policy
// (managed services disable or rename CONFIG): the policy is unknown.
var ErrPolicyUnreadable = errors.New("redis refused CONFIG GET maxmemory-policy: the eviction policy cannot be checked")

// CheckNoEviction asks Redis for its maxmemory-policy and returns nil for
// noeviction, an *EvictionError for any other policy, an error wrapping
// ErrPolicyUnreadable when Redis answered the command with an error reply
// (CONFIG disabled, renamed or not permitted), and the transport error
// when Redis could not be reached.
func CheckNoEviction(ctx context.Context, c redis.Cmdable) error {
	m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	var rerr redis.Error
	switch {
	case errors.As(err, &rerr) && !errors.Is(err, redis.Nil):
		return fmt.Errorf("%w: %v", ErrPolicyUnreadable, err)
	case err != nil:
		return err
	}
	p, ok := m["maxmemory-policy"]
	if !ok {
		return fmt.Errorf("%w: no maxmemory-policy in the answer", ErrPolicyUnreadable)
	}
	if p != NoEviction {
		return &EvictionError{Policy: p}
	}
	return nil
}

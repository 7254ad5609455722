package fastddspeer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// LatencyStats summarises one-way latencies (publisher's write to the
// subscriber's take, both read from CLOCK_REALTIME on this machine).
type LatencyStats struct {
	N             int
	P50, P99, Max time.Duration
}

func (s LatencyStats) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", s.N, s.P50, s.P99, s.Max)
}

// Summarise computes the percentiles of d (nearest rank); d is sorted in place.
func Summarise(d []time.Duration) LatencyStats {
	if len(d) == 0 {
		return LatencyStats{}
	}
	slices.Sort(d)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.999999) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return LatencyStats{N: len(d), P50: rank(0.50), P99: rank(0.99), Max: d[len(d)-1]}
}

// MeasureLatency publishes msg n times at the given period on pub and
// takes each copy from sub, which must receive every message in order
// (directly, or through a bridge that lets each one through). It returns
// the write → take latencies' summary. Both must already be matched.
func MeasureLatency(ctx context.Context, pub *Publisher, sub *Subscriber, msg []byte, n int, period time.Duration) (LatencyStats, error) {
	trips, err := MeasureTrips(ctx, pub, sub, msg, n, period)
	if err != nil {
		return LatencyStats{}, err
	}
	lat := make([]time.Duration, len(trips))
	for i, t := range trips {
		lat[i] = t.Latency()
	}
	return Summarise(lat), nil
}

// Trip is one message's write (the publisher's stamp) and take (the
// subscriber's), both CLOCK_REALTIME.
type Trip struct{ Sent, Received time.Time }

// Latency is the trip's write → take latency.
func (t Trip) Latency() time.Duration { return t.Received.Sub(t.Sent) }

// MeasureTrips is MeasureLatency's measurement: the n trips, in publishing
// order.
func MeasureTrips(ctx context.Context, pub *Publisher, sub *Subscriber, msg []byte, n int, period time.Duration) ([]Trip, error) {
	if n <= 0 {
		return nil, errors.New("fastddspeer: n must be positive")
	}
	lat := make([]Trip, 0, n)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		sent, err := pub.PublishAt(ctx, msg)
		if err != nil {
			return nil, err
		}
		r, err := sub.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("message %d of %d: %w", i+1, n, err)
		}
		lat = append(lat, Trip{Sent: sent, Received: r.At})
	}
	return lat, nil
}

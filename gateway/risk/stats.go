package risk

import (
	"slices"
	"sync"
	"time"
)

// Stats aggregates decisions per second by decision and tier over the
// last hour (one bucket per second, a ring of 3600) and keeps the last
// LatencySamples decision latencies for percentiles. It is safe for
// concurrent use; the zero Stats is ready.
type Stats struct {
	mu      sync.Mutex
	buckets [statsSeconds]bucket
	lat     []int64 // µs, ring
	latNext int
}

const statsSeconds = 3600

// LatencySamples is the number of recent latencies kept for percentiles.
const LatencySamples = 4096

// decisions indexes bucket counts: allow, deny, escalate.
var decisions = [3]string{"allow", "deny", "escalate"}

type bucket struct {
	sec    int64        // unix second this bucket holds
	counts [3][6]uint64 // [decision][tier]
}

func decisionIndex(d string) int {
	switch d {
	case "allow":
		return 0
	case "escalate":
		return 2
	}
	return 1
}

// Add counts one decision at e.At with its latency.
func (s *Stats) Add(e *Event) {
	sec := e.At / 1000
	tier := e.Tier
	if tier < 0 || tier > 5 {
		tier = 0
	}
	s.mu.Lock()
	b := &s.buckets[sec%statsSeconds]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.counts[decisionIndex(e.Decision)][tier]++
	if len(s.lat) < LatencySamples {
		s.lat = append(s.lat, e.LatencyUs)
	} else {
		s.lat[s.latNext] = e.LatencyUs
		s.latNext = (s.latNext + 1) % LatencySamples
	}
	s.mu.Unlock()
}

// Window is the rate of decisions over one window.
type Window struct {
	Seconds    int                           `json:"seconds"`
	Total      uint64                        `json:"total"`
	PerSecond  float64                       `json:"perSecond"`
	ByDecision map[string]float64            `json:"byDecision"` // per second
	ByTier     map[string]float64            `json:"byTier"`     // per second, "0" = unknown
	Matrix     map[string]map[string]float64 `json:"byDecisionAndTier"`
}

// Snapshot is the dashboard's view of the decision traffic.
type Snapshot struct {
	Minute Window `json:"1m"`
	Hour   Window `json:"1h"`
	P50Us  int64  `json:"p50Us"`
	P99Us  int64  `json:"p99Us"`
	// Samples is the number of latencies the percentiles come from.
	Samples int `json:"samples"`
}

// Snapshot returns the rates of the last minute and hour ending at now
// (the current, partial second excluded) and the latency percentiles.
func (s *Stats) Snapshot(now time.Time) Snapshot {
	nowSec := now.Unix()
	s.mu.Lock()
	var m, h [3][6]uint64
	for i := range s.buckets {
		b := &s.buckets[i]
		age := nowSec - b.sec
		if age < 1 || age > statsSeconds {
			continue
		}
		for d := range 3 {
			for t := range 6 {
				h[d][t] += b.counts[d][t]
				if age <= 60 {
					m[d][t] += b.counts[d][t]
				}
			}
		}
	}
	lat := slices.Clone(s.lat)
	s.mu.Unlock()
	out := Snapshot{Minute: window(m, 60), Hour: window(h, statsSeconds), Samples: len(lat)}
	if len(lat) > 0 {
		slices.Sort(lat)
		out.P50Us = lat[(len(lat)-1)*50/100]
		out.P99Us = lat[(len(lat)-1)*99/100]
	}
	return out
}

func window(c [3][6]uint64, secs int) Window {
	w := Window{Seconds: secs, ByDecision: map[string]float64{}, ByTier: map[string]float64{}, Matrix: map[string]map[string]float64{}}
	for d := range 3 {
		row := map[string]float64{}
		var dt uint64
		for t := range 6 {
			n := c[d][t]
			dt += n
			if n > 0 {
				row[tierName(t)] = float64(n) / float64(secs)
			}
			w.ByTier[tierName(t)] += float64(n) / float64(secs)
		}
		w.Total += dt
		w.ByDecision[decisions[d]] = float64(dt) / float64(secs)
		w.Matrix[decisions[d]] = row
	}
	for k, v := range w.ByTier {
		if v == 0 {
			delete(w.ByTier, k)
		}
	}
	w.PerSecond = float64(w.Total) / float64(secs)
	return w
}

func tierName(t int) string { return string(rune('0' + t)) }

package rosbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/codes"
)

// MaxEnvelopeBytes bounds an envelope document.
const MaxEnvelopeBytes = 16 << 10

// Envelope is the part of a decision's effective limits (PROTOCOL.md §3
// constraint names) the bridge clamps to. A nil limit is unconstrained.
// Other constraint names are accepted and ignored.
type Envelope struct {
	MaxVelocityMps        *float64 `json:"maxVelocityMps"`
	MaxAngularVelocityRps *float64 `json:"maxAngularVelocityRps"`
}

// ParseEnvelope parses an envelope JSON object. Empty input and null are the
// unconstrained envelope. A limit that is not a finite number ≥ 0 is a
// MALFORMED_REQUEST error (the bridge then refuses to actuate).
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return e, nil
	}
	if len(b) > MaxEnvelopeBytes {
		return e, codes.New(codes.MalformedRequest, "envelope too large")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return e, codes.Wrap(codes.MalformedRequest, "envelope is not a JSON object", err)
	}
	for name, dst := range map[string]**float64{
		"maxVelocityMps":        &e.MaxVelocityMps,
		"maxAngularVelocityRps": &e.MaxAngularVelocityRps,
	} {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return Envelope{}, codes.New(codes.MalformedRequest, fmt.Sprintf("envelope %s is not a finite number ≥ 0", name))
		}
		*dst = &f
	}
	return e, nil
}

// Clamp scales m down in place so that it stays inside e and reports whether
// it changed anything. Twist: the linear vector's norm is scaled to at most
// MaxVelocityMps and the angular vector's to MaxAngularVelocityRps (the
// direction is kept). JointTrajectory: each point's velocity vector is
// scaled to norm ≤ MaxAngularVelocityRps (the gateway's angular source for
// trajectories). Other types are not changed.
func Clamp(m msgs.Message, e Envelope) bool {
	switch v := m.(type) {
	case *msgs.Twist:
		a := clampVec(&v.Linear, e.MaxVelocityMps)
		b := clampVec(&v.Angular, e.MaxAngularVelocityRps)
		return a || b
	case *msgs.JointTrajectory:
		changed := false
		for i := range v.Points {
			if clampSlice(v.Points[i].Velocities, e.MaxAngularVelocityRps) {
				changed = true
			}
		}
		return changed
	}
	return false
}

func clampVec(v *msgs.Vector3, limit *float64) bool {
	s := []float64{v.X, v.Y, v.Z}
	if !clampSlice(s, limit) {
		return false
	}
	v.X, v.Y, v.Z = s[0], s[1], s[2]
	return true
}

// clampSlice scales s to norm ≤ *limit. A non-finite component zeroes s
// (fail safe: no motion rather than an undefined one).
func clampSlice(s []float64, limit *float64) bool {
	if limit == nil || len(s) == 0 {
		return false
	}
	n := norm(s)
	if n <= *limit {
		return false
	}
	k := *limit / n
	for i := range s {
		if math.IsNaN(n) || math.IsInf(n, 0) {
			s[i] = 0
			continue
		}
		// Rounding may leave the norm a hair above the limit; shave it.
		s[i] = math.Nextafter(s[i]*k, 0)
	}
	return true
}

// norm is the Euclidean norm of s without overflow for finite inputs
// (NaN or +Inf if a component is not finite).
func norm(s []float64) float64 {
	var m float64
	for _, x := range s {
		if math.IsNaN(x) {
			return math.NaN()
		}
		m = math.Max(m, math.Abs(x))
	}
	if m == 0 || math.IsInf(m, 0) {
		return m
	}
	var sum float64
	for _, x := range s {
		sum += (x / m) * (x / m)
	}
	return m * math.Sqrt(sum)
}

// Norm is the Euclidean norm of a Vector3.
func Norm(v msgs.Vector3) float64 { return norm([]float64{v.X, v.Y, v.Z}) }

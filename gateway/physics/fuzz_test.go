package physics

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

// FuzzCheck: any JSON params never panic, yield one of the three codes, and
// adding a context never turns a deny into an allow.
func FuzzCheck(f *testing.F) {
	for _, tc := range checkCases {
		f.Add([]byte(tc.params), 0.5, 5.0, 5.0)
	}
	f.Fuzz(func(t *testing.T, data []byte, cv, px, py float64) {
		if len(data) > 1<<14 {
			return
		}
		var params any
		if json.Unmarshal(data, &params) != nil {
			return
		}
		r := Check(params, nil, allLimits)
		switch r.Code {
		case "":
		case codes.PhysicsConstraint:
			if r.Quantity == "" || r.Reason == "" {
				t.Fatalf("deny without quantity/reason: %+v", r)
			}
			if r.Quantity != Geofence && !(r.Value > r.Limit) {
				t.Fatalf("deny with value %v ≤ limit %v", r.Value, r.Limit)
			}
		case codes.MalformedRequest:
		default:
			t.Fatalf("unexpected code %q", r.Code)
		}
		if math.IsNaN(cv) || math.IsNaN(px) || math.IsNaN(py) {
			return
		}
		with := Check(params, &Context{CurrentVelocityMps: &cv, CurrentPosition: &Point{px, py}}, allLimits)
		if !r.OK() && with.OK() {
			t.Fatalf("context turned %+v into allow", r)
		}
	})
}

package physics_test

import (
	"encoding/json"
	"fmt"

	"github.com/sintgate/sintgate/gateway/physics"
)

func ExampleCheck() {
	maxV := 0.5
	lim := physics.Limits{MaxVelocityMps: &maxV, Geofence: [][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 10}}}
	var params any
	_ = json.Unmarshal([]byte(`{"linear":{"x":1.2,"y":0,"z":0},"angular":{"z":0.1}}`), &params)
	r := physics.Check(params, nil, lim)
	fmt.Println(r.Code, r.Quantity, r.Severe)
	fmt.Println(r.Reason)
	// Output:
	// PHYSICS_CONSTRAINT maxVelocityMps true
	// linear velocity 1.2 m/s (from params.linear) exceeds maxVelocityMps 0.5
}

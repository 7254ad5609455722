package rosbridge_test

import (
	"fmt"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/rosbridge"
)

// A route and what happens to an allowed Twist on the way to the actuator:
// it is clamped to the envelope signed in the attestation.
func ExampleClamp() {
	r, _ := rosbridge.ParseRoute("/agent/cmd_vel=/cmd_vel")
	fmt.Println(r.Agent, "→", r.Actuator, "as", r.Resource())

	env, _ := rosbridge.ParseEnvelope([]byte(`{"maxVelocityMps":0.5,"maxAngularVelocityRps":1}`))
	m := &msgs.Twist{Linear: msgs.Vector3{X: 0.6, Y: 0.8}, Angular: msgs.Vector3{Z: 0.2}}
	changed := rosbridge.Clamp(m, env)
	fmt.Printf("clamped=%v linear=(%.3f, %.3f) angular.z=%.1f\n", changed, m.Linear.X, m.Linear.Y, m.Angular.Z)
	// Output:
	// /agent/cmd_vel → /cmd_vel as ros:///cmd_vel
	// clamped=true linear=(0.300, 0.400) angular.z=0.2
}

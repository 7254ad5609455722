package policy

import "testing"

// TestDefaultPolicyROS2: the ROS 2 bridge's resources (ros2:///<topic>)
// get the ROS 1 tiers: sensors 1, planning 2, motion 3 (+1 with a person
// present), configuration 4, safety 5, and an unknown command topic the
// default tier 4.
func TestDefaultPolicyROS2(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		res, action string
		human       bool
		want        int
	}{
		{"ros2:///scan", "subscribe", false, 1},
		{"ros2:///camera/color/image_raw", "subscribe", false, 1},
		{"ros2:///robot1/joint_states", "read", false, 1},
		{"ros2:///some/topic", "subscribe", false, 2},
		{"ros2:///planning/request", "publish", false, 2},
		{"ros2:///cmd_vel", "publish", false, 3},
		{"ros2:///cmd_vel", "publish", true, 4},
		{"ros2:///robot1/cmd_vel", "publish", false, 3},
		{"ros2:///goal_pose", "publish", false, 3},
		{"ros2:///arm_controller/joint_trajectory", "publish", false, 3},
		{"ros2:///forward_position_controller/commands", "publish", false, 3},
		{"ros2:///gripper/command", "publish", false, 3},
		{"ros2:///some/param", "set", false, 4},
		{"ros2:///unknown/command", "publish", false, 4},
		{"ros2:///safety/enable", "publish", false, 5},
		{"ros2:///base/safety_controller/reset", "publish", false, 5},
		{"ros2:///estop/reset", "publish", false, 5},
		{"ros2:///base/speed_limit", "publish", false, 5},
	} {
		t.Run(tc.res+"/"+tc.action, func(t *testing.T) {
			if got := p.Tier(tc.res, tc.action, tc.human, false); got != tc.want {
				t.Errorf("Tier(%s %s human=%v) = %d, want %d", tc.res, tc.action, tc.human, got, tc.want)
			}
		})
	}
}

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sintgate/sintgate/internal/keyfile"
)

func TestCommandFlags(t *testing.T) {
	stderr = io.Discard
	dir := t.TempDir()
	k, err := keyfile.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, k); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string // ROS_DOMAIN_ID
		args []string
		code int
	}{
		{"ok/help", "", []string{"--help"}, 0},
		{"usage/unknown-flag", "", []string{"--nope"}, 2},
		{"usage/extra-argument", "", []string{"cmd_vel"}, 2},
		{"usage/bad-route", "", []string{"--route", "/cmd_vel"}, 2},
		{"usage/unknown-type", "", []string{"--route", "/a=/b:sensor_msgs/msg/Image"}, 2},
		{"usage/bad-qos", "", []string{"--qos", "/cmd_vel=fast"}, 2},
		{"usage/domain-out-of-range", "", []string{"--domain", "233"}, 2},
		{"usage/bad-ros-domain-id", "abc", []string{"--agent-key", keyPath, "--token-id", "x"}, 2},
		{"usage/ros-domain-id-out-of-range", "300", []string{"--agent-key", keyPath, "--token-id", "x"}, 2},
		{"usage/array-route-without-mapping", "", []string{"--route", "/agent/c=/fwd/commands:std_msgs/msg/Float64MultiArray",
			"--agent-key", keyPath, "--token-id", "x"}, 2},
		{"usage/pose-route-declared-non-physical", "", []string{"--route", "/agent/g=/goal_pose:geometry_msgs/msg/PoseStamped",
			"--non-physical", "/goal_pose"}, 2},
		{"usage/safe-stop-of-the-wrong-shape", "", []string{"--safe-stop", `/cmd_vel={"data":0}`}, 2},
		{"usage/no-agent-key", "", []string{"--token-id", "x"}, 2},
		{"usage/no-token", "", []string{"--agent-key", keyPath}, 2},
		{"error/missing-key-file", "", []string{"--agent-key", filepath.Join(dir, "none"), "--token-id", "x"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ROS_DOMAIN_ID", tc.env)
			if tc.env == "" {
				os.Unsetenv("ROS_DOMAIN_ID")
			}
			code, err := run(context.Background(), tc.args)
			if code != tc.code {
				t.Fatalf("run(%q) = %d, %v; want %d", tc.args, code, err, tc.code)
			}
		})
	}
}

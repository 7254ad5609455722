package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sintgate/sintgate/internal/keyfile"
)

func TestRunFlags(t *testing.T) {
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
	tokPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokPath, []byte("a.b.c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"ok/help", []string{"--help"}, 0},
		{"usage/unknown-flag", []string{"--nope"}, 2},
		{"usage/bad-route", []string{"--route", "/cmd_vel"}, 2},
		{"usage/safe-stop-without-route", []string{"--safe-stop", "/other={}"}, 2},
		{"usage/joint-state-route-without-mapping", []string{"--route", "/agent/j=/joint_group/command:sensor_msgs/JointState",
			"--agent-key", keyPath, "--token-id", "x", "--master", "http://127.0.0.1:1/"}, 2},
		{"usage/map-unknown-unit", []string{"--route", "/agent/j=/joint_group/command:sensor_msgs/JointState",
			"--map", `/joint_group/command={"path":"/velocity/*","quantity":"angularVelocity","unit":"furlong/s"}`}, 2},
		{"error/joint-state-route-mapped-starts", []string{"--route", "/agent/j=/joint_group/command:sensor_msgs/JointState",
			"--map", `/joint_group/command={"path":"/velocity/*","quantity":"angularVelocity","unit":"rad/s"}`,
			"--agent-key", keyPath, "--token-id", "x", "--master", "http://127.0.0.1:1/"}, 1},
		{"error/bool-route-non-physical-starts", []string{"--route", "/agent/lamp=/lamp:std_msgs/Bool", "--non-physical", "/lamp",
			"--agent-key", keyPath, "--token-id", "x", "--master", "http://127.0.0.1:1/"}, 1},
		{"usage/no-agent-key", []string{"--token-id", "x"}, 2},
		{"usage/no-token", []string{"--agent-key", keyPath}, 2},
		{"usage/both-tokens", []string{"--agent-key", keyPath, "--token-id", "x", "--token-file", tokPath}, 2},
		{"error/missing-key-file", []string{"--agent-key", filepath.Join(dir, "none"), "--token-id", "x"}, 1},
		{"error/master-unreachable", []string{"--agent-key", keyPath, "--token-id", "x", "--master", "http://127.0.0.1:1/"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := run(context.Background(), tc.args)
			if code != tc.code {
				t.Fatalf("run(%q) = %d, %v; want %d", tc.args, code, err, tc.code)
			}
		})
	}
}

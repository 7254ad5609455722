package ros_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
)

// A bridge in a few lines: subscribe to /cmd_vel, turn each Twist into the
// JSON params of an intercept, and (once the gateway allowed it) publish
// it on the robot's topic. The fake master stands in for rosmaster.
func Example() {
	master := rosmastertest.Start()
	defer master.Close()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	node, err := ros.NewNode(ctx, ros.NodeConfig{Name: "/sint_bridge", MasterURI: master.URI(), Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer node.Close(ctx)
	robot, err := node.Publisher(ctx, "/robot/cmd_vel", msgs.TwistType, false)
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	_, err = node.Subscribe(ctx, "/cmd_vel", msgs.TwistType, func(m msgs.Message) {
		params, _ := json.Marshal(msgs.ToJSON(m))
		fmt.Printf("intercept ros:///cmd_vel publish %s\n", params)
		// ... POST /v1/intercept, verify the attestation, then:
		_ = robot.Publish(ctx, m)
		close(done)
	})
	if err != nil {
		panic(err)
	}

	// An agent's node publishes a command.
	agent, err := ros.NewNode(ctx, ros.NodeConfig{Name: "/agent", MasterURI: master.URI(), Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer agent.Close(ctx)
	cmd, err := agent.Publisher(ctx, "/cmd_vel", msgs.TwistType, true)
	if err != nil {
		panic(err)
	}
	_ = cmd.Publish(ctx, &msgs.Twist{Linear: msgs.Vector3{X: 0.2}, Angular: msgs.Vector3{Z: 0.1}})
	<-done
	// Output:
	// intercept ros:///cmd_vel publish {"angular":{"x":0,"y":0,"z":0.1},"linear":{"x":0.2,"y":0,"z":0}}
}

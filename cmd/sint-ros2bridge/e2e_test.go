//go:build cgo

package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestCommandEndToEnd runs the command's run() against an in-process
// gateway, with the agent writer and the actuator reader on another DDS
// participant of the domain named by ROS_DOMAIN_ID and ROS_LOCALHOST_ONLY=1:
// an allowed Twist arrives, a too-fast one is denied (the zero Twist
// arrives instead), and SIGINT (ctx cancel) leaves a zero Twist.
func TestCommandEndToEnd(t *testing.T) {
	stderr = io.Discard
	g := apptest.Start(t, "../../bridges/ros2bridge/testdata/policy.yaml")
	g.Admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil)
	p := fmt.Sprintf("/c%d", os.Getpid())
	c := tokentest.Root("root", "cmd2agent", 777, time.Now().UnixMilli())
	c.Resource, c.Actions = "ros2://"+p+"/**", []string{"publish"}
	v := 1.0
	c.Constraints = tokens.Constraints{MaxVelocityMps: &v}
	if st := g.Admin("POST", "/v1/tokens", map[string]string{"token": tokentest.Sign("root", c).Raw}, nil); st != 201 {
		t.Fatalf("token: %d", st)
	}
	dir := t.TempDir()
	priv := tokentest.Key("cmd2agent")
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, &keyfile.Key{Public: priv.Public().(ed25519.PublicKey), Private: priv}); err != nil {
		t.Fatal(err)
	}
	domain := 20 + os.Getpid()%200
	t.Setenv("ROS_DOMAIN_ID", strconv.Itoa(domain))
	t.Setenv("ROS_LOCALHOST_ONLY", "1")

	tp, err := dds.NewParticipant(dds.Config{Domain: domain, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	agent, err := tp.Writer(dds.ROSTopic(p+"/agent/cmd_vel"), msgs.TwistType.DDSName(), dds.QoS{})
	if err != nil {
		t.Fatal(err)
	}
	act, err := tp.Reader(dds.ROSTopic(p+"/cmd_vel"), msgs.TwistType.DDSName(), dds.QoS{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		code, err := run(rctx, []string{"--url", g.URL, "--agent-key", keyPath, "--token-id", c.TokenID,
			"--route", p + "/agent/cmd_vel=" + p + "/cmd_vel", "--decisions-topic", p + "/sint/decisions", "--stop-resend", "-1s"})
		if err != nil {
			t.Log(err)
		}
		done <- code
	}()
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := agent.WaitMatched(wctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := act.WaitMatched(wctx, 1); err != nil {
		t.Fatal(err)
	}
	next := func() *msgs.Twist {
		tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
		defer tcancel()
		s, err := act.Take(tctx)
		if err != nil {
			return nil
		}
		m, err := msgs.Decode(msgs.TwistType, s.Data)
		if err != nil {
			t.Fatal(err)
		}
		return m.(*msgs.Twist)
	}
	_ = agent.Write(msgs.Encode(&msgs.Twist{Linear: msgs.Vector3{X: 1.5}})) // too fast: denied
	if got := next(); got == nil || *got != (msgs.Twist{}) {
		t.Fatalf("got %+v after the deny, want the zero Twist", got)
	}
	ok := &msgs.Twist{Linear: msgs.Vector3{X: 0.5}}
	_ = agent.Write(msgs.Encode(ok))
	if got := next(); got == nil || *got != *ok {
		t.Fatalf("got %+v, want %+v", got, ok)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := next(); got == nil || *got != (msgs.Twist{}) {
		t.Fatalf("after stop got %+v, want the zero Twist", got)
	}
}

package testenv_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/sintgate/sintgate/internal/testenv"
)

// masterCall calls a ROS master XML-RPC method and checks the
// [code, statusMessage, value] convention, returning value.
func masterCall(t *testing.T, c *xmlrpc.Client, method string, args ...any) any {
	t.Helper()
	var res []any
	if err := c.Call(method, args, &res); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if len(res) != 3 {
		t.Fatalf("%s: reply %v is not [code, msg, value]", method, res)
	}
	if code, _ := res[0].(int64); code != 1 {
		t.Fatalf("%s: code %v, message %v", method, res[0], res[1])
	}
	return res[2]
}

// publishersOf returns the nodes getSystemState lists as publishers of topic.
func publishersOf(t *testing.T, c *xmlrpc.Client, caller, topic string) []string {
	t.Helper()
	state, ok := masterCall(t, c, "getSystemState", caller).([]any)
	if !ok || len(state) != 3 {
		t.Fatalf("getSystemState: unexpected value %v", state)
	}
	pubs, _ := state[0].([]any)
	for _, p := range pubs {
		pair, _ := p.([]any)
		if len(pair) == 2 && pair[0] == topic {
			var nodes []string
			list, _ := pair[1].([]any)
			for _, n := range list {
				s, _ := n.(string)
				nodes = append(nodes, s)
			}
			return nodes
		}
	}
	return nil
}

// TestROSHarness proves the ROS 1 master: XML-RPC getSystemState, a
// registration written and read back, and a rostopic pub/echo round trip
// through real ROS nodes on the system python.
func TestROSHarness(t *testing.T) {
	master := testenv.ROSMaster(t)
	c, err := xmlrpc.NewClient(master, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	caller := "/sint_testenv_" + suffix

	t.Run("xmlrpc/getSystemState", func(t *testing.T) {
		state, ok := masterCall(t, c, "getSystemState", caller).([]any)
		if !ok || len(state) != 3 {
			t.Fatalf("getSystemState value %v: want [publishers, subscribers, services]", state)
		}
		uri, _ := masterCall(t, c, "getUri", caller).(string)
		if !strings.HasPrefix(uri, "http://") {
			t.Fatalf("getUri = %q", uri)
		}
	})

	t.Run("xmlrpc/register-publisher-roundtrip", func(t *testing.T) {
		topic := "/sint_testenv/registered_" + suffix
		masterCall(t, c, "registerPublisher", caller, topic, "std_msgs/String", "http://127.0.0.1:9/")
		if got := publishersOf(t, c, caller, topic); len(got) != 1 || got[0] != caller {
			t.Fatalf("publishers of %s = %v, want [%s]", topic, got, caller)
		}
		masterCall(t, c, "unregisterPublisher", caller, topic, "http://127.0.0.1:9/")
		if got := publishersOf(t, c, caller, topic); len(got) != 0 {
			t.Fatalf("publishers of %s after unregister = %v, want none", topic, got)
		}
	})

	t.Run("rostopic/pub-echo-roundtrip", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		topic := "/sint_testenv/chatter_" + suffix
		echo := testenv.ROSCommand(ctx, t, "rostopic", "echo", "-n", "1", topic)
		var out, errOut bytes.Buffer
		echo.Stdout, echo.Stderr = &out, &errOut
		if err := echo.Start(); err != nil {
			t.Fatalf("start rostopic echo: %v", err)
		}
		// pub -1 latches its one message for a few seconds, so the echo
		// receives it even though it subscribes after the publisher appears.
		pub := testenv.ROSCommand(ctx, t, "rostopic", "pub", "-1", topic, "std_msgs/String", "data: hello-"+suffix)
		if b, err := pub.CombinedOutput(); err != nil {
			t.Fatalf("rostopic pub: %v\n%s", err, b)
		}
		if err := echo.Wait(); err != nil {
			t.Fatalf("rostopic echo: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
		}
		if want := `data: "hello-` + suffix + `"`; !strings.Contains(out.String(), want) {
			t.Fatalf("rostopic echo printed %q, want it to contain %q", out.String(), want)
		}
	})
}

package ros_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
	"github.com/sintgate/sintgate/bridges/ros/tcpros"
	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
	"github.com/sintgate/sintgate/internal/testenv"
)

// These tests run against the real ROS master of `scripts/services.sh up
// ros` (SINT_TEST_ROS_MASTER) and the real rostopic/rosnode tools. The
// master is shared, so every test uses topics and node names of its own.

var seq atomic.Int64

func unique(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

func newNode(t testing.TB, ctx context.Context, master string) *ros.Node {
	t.Helper()
	n, err := ros.NewNode(ctx, ros.NodeConfig{Name: unique("/sint_test"), MasterURI: master, Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rosTool runs a ROS command line tool and returns its combined output.
func rosTool(t *testing.T, ctx context.Context, tool string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := testenv.ROSCommand(ctx, t, tool, args...)
	if cmd == nil {
		t.Skip("ROS tools unavailable")
	}
	return cmd
}

// TestGoPublisherToRostopicEcho publishes each message type from Go and
// checks that `rostopic echo -n 1` (rospy, decoding with the real message
// classes) prints the fields.
func TestGoPublisherToRostopicEcho(t *testing.T) {
	master := testenv.ROSMaster(t)
	hdr := msgs.Header{Seq: 7, Stamp: msgs.Time{Sec: 1700000000, Nsec: 5}, FrameID: "base_link"}
	cases := []struct {
		name string
		typ  msgs.Type
		msg  msgs.Message
		want []string
	}{
		{"twist", msgs.TwistType, &msgs.Twist{Linear: msgs.Vector3{X: 1.5, Y: -2.25}, Angular: msgs.Vector3{Z: 0.75}},
			[]string{"linear:", "x: 1.5", "y: -2.25", "angular:", "z: 0.75"}},
		{"string", msgs.StringType, &msgs.String{Data: "stop now"}, []string{`data: "stop now"`}},
		{"bool", msgs.BoolType, &msgs.Bool{Data: true}, []string{"data: True"}},
		{"joint_state", msgs.JointStateType, &msgs.JointState{Header: hdr, Name: []string{"j1", "j2"},
			Position: []float64{0.5, -1.25}}, []string{"frame_id: \"base_link\"", "secs: 1700000000", "- j1\n  - j2", "position: [0.5, -1.25]"}},
		{"joint_trajectory", msgs.JointTrajectoryType, &msgs.JointTrajectory{Header: hdr, JointNames: []string{"shoulder", "elbow"},
			Points: []msgs.JointTrajectoryPoint{{Positions: []float64{0.25, 1}, TimeFromStart: msgs.Duration{Sec: 2, Nsec: 500}}}},
			[]string{"- shoulder\n  - elbow", "positions: [0.25, 1.0]", "secs: 2", "nsecs:       500"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			n := newNode(t, ctx, master)
			topic := "/" + unique(tc.name)
			pub, err := n.Publisher(ctx, topic, tc.typ, false)
			if err != nil {
				t.Fatal(err)
			}
			cmd := rosTool(t, ctx, "rostopic", "echo", "-n", "1", topic)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			if err := pub.WaitForSubscribers(ctx, 1); err != nil {
				t.Fatalf("rostopic echo never connected: %v\n%s", err, out.String())
			}
			// rostopic may connect before its callback is ready: publish
			// until it has printed one message and exited.
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for done := false; !done; {
				if err := pub.Publish(ctx, tc.msg); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-exited:
					if err != nil {
						t.Fatalf("rostopic echo: %v\n%s", err, out.String())
					}
					done = true
				case <-tick.C:
				case <-ctx.Done():
					t.Fatalf("timeout; rostopic output:\n%s", out.String())
				}
			}
			got := out.String()
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("rostopic echo output lacks %q:\n%s", want, got)
				}
			}
		})
	}
}

// TestRostopicPubToGoSubscriber has `rostopic pub -1` (rospy) publish and
// checks what the Go subscriber decodes.
func TestRostopicPubToGoSubscriber(t *testing.T) {
	master := testenv.ROSMaster(t)
	cases := []struct {
		name string
		typ  msgs.Type
		yaml string
		want msgs.Message
	}{
		{"twist", msgs.TwistType, "{linear: {x: 0.5, y: 0.0, z: 0.0}, angular: {x: 0.0, y: 0.0, z: -1.0}}",
			&msgs.Twist{Linear: msgs.Vector3{X: 0.5}, Angular: msgs.Vector3{Z: -1}}},
		{"joint_trajectory", msgs.JointTrajectoryType,
			"{header: {seq: 3, stamp: {secs: 12, nsecs: 34}, frame_id: arm}, joint_names: [a, b], " +
				"points: [{positions: [1.0, 2.0], velocities: [], accelerations: [], effort: [0.5], time_from_start: {secs: 1, nsecs: 2}}]}",
			// rospy replaces header.seq with its publisher's counter: 1.
			&msgs.JointTrajectory{Header: msgs.Header{Seq: 1, Stamp: msgs.Time{Sec: 12, Nsec: 34}, FrameID: "arm"},
				JointNames: []string{"a", "b"},
				Points: []msgs.JointTrajectoryPoint{{Positions: []float64{1, 2}, Effort: []float64{0.5},
					TimeFromStart: msgs.Duration{Sec: 1, Nsec: 2}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			n := newNode(t, ctx, master)
			topic := "/" + unique(tc.name)
			got := make(chan msgs.Message, 4)
			sub, err := n.Subscribe(ctx, topic, tc.typ, func(m msgs.Message) { got <- m })
			if err != nil {
				t.Fatal(err)
			}
			cmd := rosTool(t, ctx, "rostopic", "pub", "-1", topic, tc.typ.Name, tc.yaml)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait() //nolint:errcheck // rostopic pub -1 exits by itself
			select {
			case m := <-got:
				if !reflect.DeepEqual(m, tc.want) {
					t.Fatalf("got %#v\nwant %#v", m, tc.want)
				}
			case <-ctx.Done():
				t.Fatalf("no message; rostopic output:\n%s", out.String())
			}
			if sub.Received() < 1 || sub.Invalid() != 0 {
				t.Fatalf("received %d invalid %d", sub.Received(), sub.Invalid())
			}
		})
	}
}

func TestGraphIntrospection(t *testing.T) {
	master := testenv.ROSMaster(t)
	ctx := testCtx(t)
	n := newNode(t, ctx, master)
	topic := "/" + unique("joint_trajectory")
	if _, err := n.Publisher(ctx, topic, msgs.JointTrajectoryType, true); err != nil {
		t.Fatal(err)
	}
	subTopic := "/" + unique("joint_states")
	if _, err := n.Subscribe(ctx, subTopic, msgs.JointStateType, func(msgs.Message) {}); err != nil {
		t.Fatal(err)
	}
	t.Run("rosnode/list", func(t *testing.T) {
		out, err := rosTool(t, ctx, "rosnode", "list").CombinedOutput()
		if err != nil || !strings.Contains(string(out), n.Name()) {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("rosnode/info", func(t *testing.T) {
		out, err := rosTool(t, ctx, "rosnode", "info", n.Name()).CombinedOutput()
		s := string(out)
		if err != nil || !strings.Contains(s, topic) || !strings.Contains(s, subTopic) ||
			!strings.Contains(s, "Pid:") {
			t.Fatalf("%v\n%s", err, s)
		}
	})
	t.Run("rostopic/info", func(t *testing.T) {
		out, err := rosTool(t, ctx, "rostopic", "info", topic).CombinedOutput()
		s := string(out)
		if err != nil || !strings.Contains(s, "trajectory_msgs/JointTrajectory") || !strings.Contains(s, n.Name()) {
			t.Fatalf("%v\n%s", err, s)
		}
	})
	t.Run("slave/getPid-getMasterUri-getPublications", func(t *testing.T) {
		var c xmlrpc.Client
		v, err := c.Call(ctx, n.URI(), "getMasterUri", "/test")
		if err != nil || v.([]any)[2] != master {
			t.Fatalf("getMasterUri: %#v %v", v, err)
		}
		v, err = c.Call(ctx, n.URI(), "getPublications", "/test")
		if err != nil || !strings.Contains(fmt.Sprint(v), topic) {
			t.Fatalf("getPublications: %#v %v", v, err)
		}
		v, err = c.Call(ctx, n.URI(), "getSubscriptions", "/test")
		if err != nil || !strings.Contains(fmt.Sprint(v), subTopic) {
			t.Fatalf("getSubscriptions: %#v %v", v, err)
		}
		v, err = c.Call(ctx, n.URI(), "getBusStats", "/test")
		if err != nil || v.([]any)[0] != 1 {
			t.Fatalf("getBusStats: %#v %v", v, err)
		}
		if _, err := c.Call(ctx, n.URI(), "noSuchMethod", "/test"); err == nil {
			t.Fatal("unknown method must fault")
		}
	})
}

// TestMasterAPI exercises the master client against the fake and the real
// master.
func TestMasterAPI(t *testing.T) { eachMaster(t, testMasterAPI) }

func testMasterAPI(t *testing.T, master string) {
	ctx := testCtx(t)
	n := newNode(t, ctx, master)
	topic := "/" + unique("joint_trajectory")
	if _, err := n.Publisher(ctx, topic, msgs.JointTrajectoryType, true); err != nil {
		t.Fatal(err)
	}
	subTopic := "/" + unique("joint_states")
	if _, err := n.Subscribe(ctx, subTopic, msgs.JointStateType, func(msgs.Message) {}); err != nil {
		t.Fatal(err)
	}
	m := n.Master()
	t.Run("master/lookupNode", func(t *testing.T) {
		uri, err := m.LookupNode(ctx, n.Name())
		if err != nil || uri != n.URI() {
			t.Fatalf("got %q, %v; want %q", uri, err, n.URI())
		}
	})
	t.Run("master/lookupNode-unknown", func(t *testing.T) {
		if _, err := m.LookupNode(ctx, "/"+unique("nobody")); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("master/getSystemState", func(t *testing.T) {
		st, err := m.GetSystemState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !contains(st.Publishers[topic], n.Name()) || !contains(st.Subscribers[subTopic], n.Name()) {
			t.Fatalf("node missing from the graph: pubs %v subs %v", st.Publishers[topic], st.Subscribers[subTopic])
		}
	})
	t.Run("master/getTopicTypes", func(t *testing.T) {
		types, err := m.GetTopicTypes(ctx)
		if err != nil || types[topic] != "trajectory_msgs/JointTrajectory" {
			t.Fatalf("got %q, %v", types[topic], err)
		}
	})
	t.Run("master/unregister", func(t *testing.T) {
		if k, err := m.UnregisterPublisher(ctx, topic, "http://127.0.0.1:9/"); err != nil || k != 0 {
			t.Fatalf("unregistering a stranger's URI: %d, %v", k, err)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func recv(t *testing.T, ctx context.Context, ch <-chan msgs.Message) msgs.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-ctx.Done():
		t.Fatal("no message")
		return nil
	}
}

// eachMaster runs fn against the in-process fake master and against the
// real rosmaster (skipped outside CI when it is not running).
func eachMaster(t *testing.T, fn func(t *testing.T, master string)) {
	t.Run("fake-master", func(t *testing.T) {
		fm := rosmastertest.Start()
		t.Cleanup(fm.Close) // runs after the nodes' cleanups
		fn(t, fm.URI())
	})
	t.Run("rosmaster", func(t *testing.T) { fn(t, testenv.ROSMaster(t)) })
}

func TestGoToGo(t *testing.T) { eachMaster(t, testGoToGo) }

func testGoToGo(t *testing.T, master string) {
	ctx := testCtx(t)
	t.Run("latched-message-reaches-late-subscriber", func(t *testing.T) {
		pn, sn := newNode(t, ctx, master), newNode(t, ctx, master)
		topic := "/" + unique("latched")
		pub, err := pn.Publisher(ctx, topic, msgs.StringType, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, &msgs.String{Data: "armed"}); err != nil {
			t.Fatal(err)
		}
		got := make(chan msgs.Message, 1)
		if _, err := sn.Subscribe(ctx, topic, msgs.StringType, func(m msgs.Message) { got <- m }); err != nil {
			t.Fatal(err)
		}
		if s := recv(t, ctx, got).(*msgs.String); s.Data != "armed" {
			t.Fatalf("got %q", s.Data)
		}
	})
	// PublishLatched on a publisher made without latch keeps that one
	// message (a bridge's safe stop) for late subscribers; Publish and
	// ClearLatched end it.
	t.Run("kept-message-reaches-late-subscriber-until-cleared", func(t *testing.T) {
		pn := newNode(t, ctx, master)
		topic := "/" + unique("kept")
		pub, err := pn.Publisher(ctx, topic, msgs.StringType, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.PublishLatched(ctx, &msgs.String{Data: "stop"}); err != nil {
			t.Fatal(err)
		}
		late := func() chan msgs.Message {
			got := make(chan msgs.Message, 4)
			if _, err := newNode(t, ctx, master).Subscribe(ctx, topic, msgs.StringType, func(m msgs.Message) { got <- m }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if s := recv(t, ctx, late()).(*msgs.String); s.Data != "stop" {
			t.Fatalf("late subscriber got %q, want the kept stop", s.Data)
		}
		pub.ClearLatched()
		n := pub.NumSubscribers()
		got := late()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := pub.WaitForSubscribers(wctx, n+1); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, &msgs.String{Data: "next"}); err != nil {
			t.Fatal(err)
		}
		if s := recv(t, ctx, got).(*msgs.String); s.Data != "next" {
			t.Fatalf("subscriber after clear got %q first, want the next message", s.Data)
		}
	})
	t.Run("deny/md5-mismatch-refused", func(t *testing.T) {
		pn, sn := newNode(t, ctx, master), newNode(t, ctx, master)
		topic := "/" + unique("mismatch")
		pub, err := pn.Publisher(ctx, topic, msgs.TwistType, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, &msgs.Twist{}); err != nil {
			t.Fatal(err)
		}
		got := make(chan msgs.Message, 1)
		sub, err := sn.Subscribe(ctx, topic, msgs.StringType, func(m msgs.Message) { got <- m })
		if err != nil {
			t.Fatal(err)
		}
		// The link retries with backoff and is refused each time; a
		// message would arrive within the first attempt if it were not.
		select {
		case m := <-got:
			t.Fatalf("mismatched subscriber received %#v", m)
		case <-time.After(1500 * time.Millisecond):
		}
		if pub.NumSubscribers() != 0 || sub.NumPublishers() != 0 {
			t.Fatalf("connected: pub sees %d, sub sees %d", pub.NumSubscribers(), sub.NumPublishers())
		}
	})
	t.Run("deny/publish-wrong-type", func(t *testing.T) {
		pn := newNode(t, ctx, master)
		pub, err := pn.Publisher(ctx, "/"+unique("typed"), msgs.TwistType, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, &msgs.String{}); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("reconnects-to-new-publisher-on-publisherUpdate", func(t *testing.T) {
		sn := newNode(t, ctx, master)
		topic := "/" + unique("failover")
		got := make(chan msgs.Message, 16)
		sub, err := sn.Subscribe(ctx, topic, msgs.BoolType, func(m msgs.Message) { got <- m })
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false} {
			pn, err := ros.NewNode(ctx, ros.NodeConfig{Name: unique("/sint_pub"), MasterURI: master})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := pn.Publisher(ctx, topic, msgs.BoolType, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.WaitForSubscribers(ctx, 1); err != nil {
				t.Fatalf("round %d: subscriber never connected: %v", i, err)
			}
			if err := pub.Publish(ctx, &msgs.Bool{Data: want}); err != nil {
				t.Fatal(err)
			}
			if b := recv(t, ctx, got).(*msgs.Bool); b.Data != want {
				t.Fatalf("round %d: got %v", i, b.Data)
			}
			if err := pn.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if sub.Received() != 2 {
			t.Fatalf("received %d", sub.Received())
		}
	})
	t.Run("duplicate-publisher-refused", func(t *testing.T) {
		pn := newNode(t, ctx, master)
		topic := "/" + unique("dup")
		if _, err := pn.Publisher(ctx, topic, msgs.BoolType, false); err != nil {
			t.Fatal(err)
		}
		if _, err := pn.Publisher(ctx, topic, msgs.BoolType, false); err == nil {
			t.Fatal("want an error")
		}
	})
}

// TestHostileTCPROSPeer sends malformed headers and frames to the node's
// TCPROS port; the node must refuse them and keep serving.
func TestHostileTCPROSPeer(t *testing.T) { eachMaster(t, testHostileTCPROSPeer) }

func testHostileTCPROSPeer(t *testing.T, master string) {
	ctx := testCtx(t)
	n := newNode(t, ctx, master)
	topic := "/" + unique("hostile")
	pub, err := n.Publisher(ctx, topic, msgs.TwistType, false)
	if err != nil {
		t.Fatal(err)
	}
	var c xmlrpc.Client
	v, err := c.Call(ctx, n.URI(), "requestTopic", "/evil", topic, []any{[]any{"TCPROS"}})
	if err != nil {
		t.Fatal(err)
	}
	p := v.([]any)[2].([]any)
	addr := net.JoinHostPort(p[1].(string), strconv.Itoa(p[2].(int)))
	attacks := []struct {
		name string
		send []byte
	}{
		{"huge-header-length", []byte{0xff, 0xff, 0xff, 0x7f}},
		{"field-length-beyond-header", []byte{8, 0, 0, 0, 0xff, 0xff, 0, 0, 'a', '=', 'b', 'c'}},
		{"wrong-md5", tcpros.AppendHeader(nil, tcpros.Header{"callerid": "/evil", "topic": topic, "md5sum": "0123", "type": "geometry_msgs/Twist"})},
		{"unknown-topic", tcpros.AppendHeader(nil, tcpros.Header{"callerid": "/evil", "topic": "/nope", "md5sum": "*"})},
		{"service-call", tcpros.AppendHeader(nil, tcpros.Header{"callerid": "/evil", "service": "/x", "md5sum": "*"})},
	}
	for _, a := range attacks {
		t.Run("deny/"+a.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Write(a.send); err != nil {
				t.Fatal(err)
			}
			h, err := tcpros.ReadHeader(conn)
			if err == nil && h[tcpros.KeyError] == "" {
				t.Fatalf("accepted: %v", h)
			}
		})
	}
	if pub.NumSubscribers() != 0 {
		t.Fatal("a hostile peer was added as subscriber")
	}
	// Still serving: a well-formed probe works.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = tcpros.WriteHeader(conn, tcpros.Header{"callerid": "/ok", "topic": topic, "md5sum": msgs.TwistType.MD5, "type": "geometry_msgs/Twist", "probe": "1"})
	h, err := tcpros.ReadHeader(conn)
	if err != nil || h[tcpros.KeyMD5] != msgs.TwistType.MD5 || h[tcpros.KeyMessageDefinition] != msgs.TwistType.Definition {
		t.Fatalf("probe: %v %v", h, err)
	}
}

func TestNodeConfigErrors(t *testing.T) {
	ctx := testCtx(t)
	cases := []struct {
		name string
		cfg  ros.NodeConfig
	}{
		{"deny/empty-name", ros.NodeConfig{MasterURI: "http://127.0.0.1:1/"}},
		{"deny/bad-name", ros.NodeConfig{Name: "/a b", MasterURI: "http://127.0.0.1:1/"}},
		{"deny/root-name", ros.NodeConfig{Name: "/", MasterURI: "http://127.0.0.1:1/"}},
		{"deny/trailing-slash", ros.NodeConfig{Name: "/a/", MasterURI: "http://127.0.0.1:1/"}},
		{"deny/double-slash", ros.NodeConfig{Name: "/a//b", MasterURI: "http://127.0.0.1:1/"}},
		{"deny/private-name", ros.NodeConfig{Name: "~a", MasterURI: "http://127.0.0.1:1/"}},
		{"deny/leading-digit", ros.NodeConfig{Name: "/1a", MasterURI: "http://127.0.0.1:1/"}},
		{"deny/no-master-uri", ros.NodeConfig{Name: "/a"}},
		{"deny/master-unreachable", ros.NodeConfig{Name: "/a", MasterURI: "http://127.0.0.1:1/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := ros.NewNode(ctx, tc.cfg); err == nil {
				n.Close(ctx)
				t.Fatal("want an error")
			}
		})
	}
}

func TestShutdownThroughSlaveAPI(t *testing.T) {
	master := testenv.ROSMaster(t)
	ctx := testCtx(t)
	n, err := ros.NewNode(ctx, ros.NodeConfig{Name: unique("/sint_kill"), MasterURI: master})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Publisher(ctx, "/"+unique("t"), msgs.BoolType, false); err != nil {
		t.Fatal(err)
	}
	if out, err := rosTool(t, ctx, "rosnode", "kill", n.Name()).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	select {
	case <-n.Done():
	case <-ctx.Done():
		t.Fatal("node did not shut down")
	}
	if _, err := n.Master().LookupNode(ctx, n.Name()); err == nil {
		t.Fatal("node still registered after shutdown")
	}
}

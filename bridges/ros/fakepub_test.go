package ros_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
	"github.com/sintgate/sintgate/bridges/ros/tcpros"
	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
)

// misbehavingPublisher is a hand-written ROS publisher whose n-th TCPROS
// connection runs behaviours[n]; it answers requestTopic like a node.
type misbehavingPublisher struct {
	uri      string
	attempts atomic.Int32
}

func startMisbehavingPublisher(t *testing.T, behaviours []func(c net.Conn)) *misbehavingPublisher {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close() })
	p := &misbehavingPublisher{}
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			i := int(p.attempts.Add(1)) - 1
			if _, err := tcpros.ReadHeader(c); err != nil || i >= len(behaviours) {
				c.Close()
				continue
			}
			go func() { defer c.Close(); behaviours[i](c) }()
		}
	}()
	port := tcp.Addr().(*net.TCPAddr).Port
	slave, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: xmlrpc.Handler(func(_ context.Context, method string, _ []any) (any, error) {
		if method == "requestTopic" {
			return []any{1, "", []any{"TCPROS", "127.0.0.1", port}}, nil
		}
		return []any{1, "", 0}, nil
	})}
	go srv.Serve(slave) //nolint:errcheck // closed in cleanup
	t.Cleanup(func() { srv.Close() })
	p.uri = "http://" + slave.Addr().String() + "/"
	return p
}

func goodHeader(c net.Conn, topic string) {
	_ = tcpros.WriteHeader(c, tcpros.Header{"callerid": "/fake", "topic": topic,
		"type": msgs.TwistType.Name, "md5sum": msgs.TwistType.MD5})
}

// TestSubscriberAgainstMisbehavingPublisher: the subscriber refuses a wrong
// md5sum, drops a connection announcing an oversized frame, drops (and
// counts) a frame that does not decode, reconnects each time, and delivers
// only the one valid message.
func TestSubscriberAgainstMisbehavingPublisher(t *testing.T) {
	fm := rosmastertest.Start()
	t.Cleanup(fm.Close)
	ctx := testCtx(t)
	topic := "/" + unique("misbehaving")
	valid := &msgs.Twist{Linear: msgs.Vector3{X: 0.25}}
	pub := startMisbehavingPublisher(t, []func(net.Conn){
		func(c net.Conn) { // 1: wrong md5sum, then a valid-looking frame
			_ = tcpros.WriteHeader(c, tcpros.Header{"callerid": "/fake", "topic": topic,
				"type": msgs.TwistType.Name, "md5sum": "00000000000000000000000000000000"})
			_, _ = c.Write(tcpros.AppendFrame(nil, msgs.Encode(&msgs.Twist{Linear: msgs.Vector3{X: 99}})))
		},
		func(c net.Conn) { // 2: a frame length above MaxMessageSize
			goodHeader(c, topic)
			_, _ = c.Write([]byte{0, 0, 0, 0x40})
		},
		func(c net.Conn) { // 3: a 47-byte Twist, then hang up
			goodHeader(c, topic)
			_, _ = c.Write(tcpros.AppendFrame(nil, msgs.Encode(valid)[:47]))
		},
		func(c net.Conn) { // 4: a good message, then stay connected
			goodHeader(c, topic)
			_, _ = c.Write(tcpros.AppendFrame(nil, msgs.Encode(valid)))
			var b [1]byte
			_, _ = c.Read(b[:])
		},
	})
	if _, err := ros.NewMaster(fm.URI(), "/fake").RegisterPublisher(ctx, topic, msgs.TwistType.Name, pub.uri); err != nil {
		t.Fatal(err)
	}
	n, err := ros.NewNode(ctx, ros.NodeConfig{Name: unique("/sint_sub"), MasterURI: fm.URI(), MaxMessageSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	got := make(chan msgs.Message, 4)
	sub, err := n.Subscribe(ctx, topic, msgs.TwistType, func(m msgs.Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, ctx, got)
	if *m.(*msgs.Twist) != *valid {
		t.Fatalf("delivered %+v", m)
	}
	if a := pub.attempts.Load(); a != 4 {
		t.Fatalf("%d connection attempts, want 4", a)
	}
	if sub.Invalid() != 1 || sub.Received() != 1 {
		t.Fatalf("invalid %d received %d", sub.Invalid(), sub.Received())
	}
	select {
	case extra := <-got:
		t.Fatalf("extra message delivered: %+v", extra)
	default:
	}
}

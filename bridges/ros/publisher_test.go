package ros_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
	"github.com/sintgate/sintgate/bridges/ros/tcpros"
	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
)

func fakeMasterNode(t *testing.T, ctx context.Context) *ros.Node {
	t.Helper()
	fm := rosmastertest.Start()
	t.Cleanup(fm.Close)
	return newNode(t, ctx, fm.URI())
}

// connectRaw connects to n's TCPROS port as a subscriber of topic that
// never reads.
func connectRaw(t *testing.T, ctx context.Context, n *ros.Node, topic string, typ msgs.Type) net.Conn {
	t.Helper()
	var c xmlrpc.Client
	v, err := c.Call(ctx, n.URI(), "requestTopic", "/raw", topic, []any{[]any{"TCPROS"}})
	if err != nil {
		t.Fatal(err)
	}
	p := v.([]any)[2].([]any)
	conn, err := net.Dial("tcp", net.JoinHostPort(p[1].(string), strconv.Itoa(p[2].(int))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := tcpros.WriteHeader(conn, tcpros.Header{"callerid": "/raw", "topic": topic, "md5sum": typ.MD5, "type": typ.Name}); err != nil {
		t.Fatal(err)
	}
	if _, err := tcpros.ReadHeader(conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestPublishNeverBlocks: a subscriber that stops reading fills its queue;
// Publish keeps returning at once and the oldest frames are dropped.
func TestPublishNeverBlocks(t *testing.T) {
	ctx := testCtx(t)
	n := fakeMasterNode(t, ctx)
	topic := "/" + unique("slow")
	pub, err := n.Publisher(ctx, topic, msgs.StringType, false)
	if err != nil {
		t.Fatal(err)
	}
	connectRaw(t, ctx, n, topic, msgs.StringType)
	if err := pub.WaitForSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	big := &msgs.String{Data: strings.Repeat("x", 256<<10)}
	// Kernel socket buffers hold a few MB at most; 2,000 × 256 KiB = 500 MB
	// must overflow buffers plus the 64-frame queue.
	for i := 0; i < 2000 && pub.Dropped() == 0; i++ {
		if err := pub.Publish(ctx, big); err != nil {
			t.Fatal(err)
		}
	}
	if pub.Dropped() == 0 {
		t.Fatal("nothing dropped: Publish must have blocked or buffered without bound")
	}
}

func TestClosed(t *testing.T) {
	ctx := testCtx(t)
	n := fakeMasterNode(t, ctx)
	pub, err := n.Publisher(ctx, "/"+unique("c"), msgs.BoolType, false)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := n.Subscribe(ctx, "/"+unique("c"), msgs.BoolType, func(msgs.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("deny/publish-after-publisher-close", func(t *testing.T) {
		if err := pub.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, &msgs.Bool{}); !errors.Is(err, ros.ErrClosed) {
			t.Fatalf("got %v", err)
		}
		if err := pub.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("deny/node-operations-after-close", func(t *testing.T) {
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-n.Done():
		default:
			t.Fatal("Done not closed")
		}
		if _, err := n.Publisher(ctx, "/x", msgs.BoolType, false); !errors.Is(err, ros.ErrClosed) {
			t.Fatalf("Publisher: %v", err)
		}
		if _, err := n.Subscribe(ctx, "/x", msgs.BoolType, func(msgs.Message) {}); !errors.Is(err, ros.ErrClosed) {
			t.Fatalf("Subscribe: %v", err)
		}
		if err := sub.Close(ctx); err != nil {
			t.Fatalf("Subscriber.Close after node close: %v", err)
		}
	})
	t.Run("deny/cancelled-context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := pub.Publish(cctx, &msgs.Bool{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

package fastddspeer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge/internal/fastddspeer"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json's cdr fields from the peer's encoder")

// golden is one case of testdata/golden.json: In (or JSON when In is
// absent) encodes to CDR; CDR decodes to JSON (every field, defaults
// filled in).
type golden struct {
	Name string          `json:"name"`
	Type string          `json:"type"`
	In   json.RawMessage `json:"in,omitempty"`
	JSON json.RawMessage `json:"json"`
	CDR  string          `json:"cdr"`
}

func (g golden) input() []byte {
	if len(g.In) > 0 {
		return g.In
	}
	return g.JSON
}

func loadGolden(t *testing.T) []golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gs []golden
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatal(err)
	}
	return gs
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestGoldenEncodeDecode: each golden message encodes to the checked-in
// bytes and those bytes decode back to the full message.
func TestGoldenEncodeDecode(t *testing.T) {
	fastddspeer.Require(t)
	ctx := testCtx(t, 2*time.Minute)
	gs := loadGolden(t)
	if *update {
		for i := range gs {
			b, err := fastddspeer.Encode(ctx, gs[i].Type, gs[i].input())
			if err != nil {
				t.Fatalf("%s: %v", gs[i].Name, err)
			}
			gs[i].CDR = hex.EncodeToString(b)
		}
		out, err := json.MarshalIndent(gs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/golden.json", append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range gs {
		t.Run(g.Name, func(t *testing.T) {
			want, err := hex.DecodeString(g.CDR)
			if err != nil || len(want) < 4 {
				t.Fatalf("golden cdr %q: %v (run with -update)", g.CDR, err)
			}
			got, err := fastddspeer.Encode(ctx, g.Type, g.input())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encode:\n got %x\nwant %x", got, want)
			}
			if !bytes.Equal(want[:4], []byte{0x00, 0x01, 0x00, 0x00}) {
				t.Errorf("encapsulation %x, want 00010000 (CDR little-endian)", want[:4])
			}
			dec, err := fastddspeer.Decode(ctx, g.Type, want)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, dec, g.JSON) {
				t.Errorf("decode:\n got %s\nwant %s", dec, g.JSON)
			}
		})
	}
}

// wirePadded is a golden payload as Fast DDS puts it on the wire: padded
// with zero bytes to a multiple of 4 (the RTPS submessage alignment), the
// encapsulation options left at 00 00.
func wirePadded(t *testing.T, cdr string) []byte {
	t.Helper()
	b, err := hex.DecodeString(cdr)
	if err != nil {
		t.Fatal(err)
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestDecodeAcceptsWirePadding: a payload padded as Fast DDS sends it
// decodes to the same message.
func TestDecodeAcceptsWirePadding(t *testing.T) {
	fastddspeer.Require(t)
	ctx := testCtx(t, time.Minute)
	for _, g := range loadGolden(t) {
		if len(g.CDR)%8 == 0 {
			continue // already 4-aligned
		}
		t.Run(g.Name, func(t *testing.T) {
			dec, err := fastddspeer.Decode(ctx, g.Type, wirePadded(t, g.CDR))
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, dec, g.JSON) {
				t.Errorf("decode:\n got %s\nwant %s", dec, g.JSON)
			}
		})
	}
}

// TestTwistBytesByHand checks the Twist golden independently of the peer:
// CDR_LE encapsulation (00 01 00 00) then linear.x, .y, .z, angular.x, .y,
// .z as little-endian IEEE 754 doubles, no padding (offset 0 is 8-aligned).
func TestTwistBytesByHand(t *testing.T) {
	fastddspeer.Require(t)
	want := []byte{0x00, 0x01, 0x00, 0x00}
	for _, v := range []float64{0.5, -0.25, 0, 0, 0, 1.5} {
		want = binary.LittleEndian.AppendUint64(want, math.Float64bits(v))
	}
	for _, g := range loadGolden(t) {
		if g.Name == "Twist" {
			if g.CDR != hex.EncodeToString(want) {
				t.Errorf("golden Twist cdr %s, want %x", g.CDR, want)
			}
		}
	}
	got, err := fastddspeer.Encode(testCtx(t, time.Minute), "geometry_msgs/msg/Twist",
		[]byte(`{"linear":{"x":0.5,"y":-0.25},"angular":{"z":1.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encode:\n got %x\nwant %x", got, want)
	}
}

// TestEncodeDecodeRefusals: the peer refuses what is not a message of the
// type rather than guessing.
func TestEncodeDecodeRefusals(t *testing.T) {
	fastddspeer.Require(t)
	ctx := testCtx(t, time.Minute)
	enc := []struct {
		name, typ, msg, why string
	}{
		{"unknown field", "geometry_msgs/msg/Twist", `{"linear":{"x":1,"w":2}}`, "linear.w: unknown field"},
		{"string for float", "geometry_msgs/msg/Twist", `{"linear":{"x":"fast"}}`, "linear.x: want a number"},
		{"negative uint32", "std_msgs/msg/Header", `{"stamp":{"nanosec":-1}}`, "stamp.nanosec: out of range"},
		{"int32 overflow", "builtin_interfaces/msg/Time", `{"sec":2147483648}`, "sec: out of range"},
		{"float for int", "builtin_interfaces/msg/Time", `{"sec":1.5}`, "sec: want an integer"},
		{"number for bool", "std_msgs/msg/Bool", `{"data":1}`, "data: want true or false"},
		{"not an object", "std_msgs/msg/String", `"hello"`, "want an object"},
		{"unknown type", "geometry_msgs/msg/Accel", `{}`, "unknown type"},
	}
	for _, c := range enc {
		t.Run("encode "+c.name, func(t *testing.T) {
			_, err := fastddspeer.Encode(ctx, c.typ, []byte(c.msg))
			if err == nil || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("err = %v, want one containing %q", err, c.why)
			}
		})
	}
	dec := []struct {
		name, typ, hex string
	}{
		{"truncated Twist", "geometry_msgs/msg/Twist", "00010000000000000000f03f"},
		{"only a header", "std_msgs/msg/String", "00010000"},
		{"string longer than payload", "std_msgs/msg/String", "00010000ff00000041"},
		{"too short", "std_msgs/msg/Bool", "0001"},
		// Lengths far beyond the payload are refused, not allocated.
		{"huge string list", "trajectory_msgs/msg/JointTrajectory", "0001000000000000000000000100000000000000ffffffff"},
		{"huge float64 sequence", "std_msgs/msg/Float64MultiArray", "000100000000000000000000ffffff0f"},
		{"huge string", "std_msgs/msg/String", "00010000ffffff7f41"},
	}
	for _, c := range dec {
		t.Run("decode "+c.name, func(t *testing.T) {
			b, _ := hex.DecodeString(c.hex)
			if out, err := fastddspeer.Decode(ctx, c.typ, b); err == nil {
				t.Fatalf("decoded %x as %s", b, out)
			}
		})
	}
}

// TestPathMissing: without SINT_FASTDDS_PEER, Path says how to build it.
func TestPathMissing(t *testing.T) {
	t.Setenv(fastddspeer.EnvPeer, "")
	if _, err := fastddspeer.Path(); !errors.Is(err, fastddspeer.ErrNoPeer) || !strings.Contains(err.Error(), "services.sh up fastdds") {
		t.Fatalf("err = %v", err)
	}
	t.Setenv(fastddspeer.EnvPeer, t.TempDir())
	if _, err := fastddspeer.Path(); !errors.Is(err, fastddspeer.ErrNoPeer) {
		t.Fatalf("directory accepted: %v", err)
	}
}

// pubSub starts a subscriber and a publisher with o and waits until they
// matched each other.
func pubSub(ctx context.Context, t *testing.T, o fastddspeer.Options) (*fastddspeer.Publisher, *fastddspeer.Subscriber) {
	t.Helper()
	sub, err := fastddspeer.StartSubscriber(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := fastddspeer.StartPublisher(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := sub.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return pub, sub
}

// TestPubSubEveryType: a Fast DDS publisher → Fast DDS subscriber over a
// loopback-only domain, for every golden case: the subscriber takes the
// message with every value intact and the bytes on the wire are the
// golden ones.
func TestPubSubEveryType(t *testing.T) {
	fastddspeer.Require(t)
	base := fastddspeer.RandomDomain()
	for i, g := range loadGolden(t) {
		t.Run(g.Name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t, 90*time.Second)
			o := fastddspeer.Options{
				Topic:        "/sint_peer_test/" + strings.ReplaceAll(g.Name, " ", "_"),
				Type:         g.Type,
				Domain:       1 + (base+i)%232,
				LoopbackOnly: true,
			}
			pub, sub := pubSub(ctx, t, o)
			if err := pub.Publish(g.input()); err != nil {
				t.Fatal(err)
			}
			r, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, r.JSON, g.JSON) {
				t.Errorf("received %s, want %s", r.JSON, g.JSON)
			}
			if want := wirePadded(t, g.CDR); !bytes.Equal(r.CDR, want) {
				t.Errorf("wire bytes %x, want %x", r.CDR, want)
			}
		})
	}
}

// TestPubSubDefaultTransports: the default setup of a ROS 2 node (UDP
// multicast discovery and shared memory, reliable, keep-last 10), a burst
// of messages all delivered in order.
func TestPubSubDefaultTransports(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	o := fastddspeer.Options{Topic: "/sint_peer_test/cmd_vel", Type: "geometry_msgs/msg/Twist", Domain: fastddspeer.RandomDomain()}
	pub, sub := pubSub(ctx, t, o)
	const n = 50
	for i := range n {
		msg, _ := json.Marshal(map[string]any{"linear": map[string]any{"x": float64(i)}})
		if err := pub.Publish(msg); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		r, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var m struct {
			Linear struct{ X float64 } `json:"linear"`
		}
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			t.Fatal(err)
		}
		if m.Linear.X != float64(i) {
			t.Fatalf("message %d carries linear.x = %v", i, m.Linear.X)
		}
	}
}

// TestBestEffortPair: a best-effort writer and reader match and deliver.
func TestBestEffortPair(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	o := fastddspeer.Options{Topic: "/sint_peer_test/flag", Type: "std_msgs/msg/Bool", Domain: fastddspeer.RandomDomain(),
		BestEffort: true, Depth: 1, LoopbackOnly: true}
	pub, sub := pubSub(ctx, t, o)
	// Best effort may drop: publish until one arrives.
	deadline := time.Now().Add(30 * time.Second)
	for sub.Count() == 0 && time.Now().Before(deadline) {
		if err := pub.Publish([]byte(`{"data":true}`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, r.JSON, []byte(`{"data":true}`)) {
		t.Fatalf("received %s", r.JSON)
	}
}

// TestPublishRefusal: a line that is not a message of the type is refused
// with the peer's reason, and the publisher keeps working.
func TestPublishRefusal(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	o := fastddspeer.Options{Topic: "/sint_peer_test/refusal", Type: "std_msgs/msg/String", Domain: fastddspeer.RandomDomain(), LoopbackOnly: true}
	pub, sub := pubSub(ctx, t, o)
	if err := pub.Publish([]byte(`{"data":1}`)); err == nil || !strings.Contains(err.Error(), "data: want a string") {
		t.Fatalf("err = %v", err)
	}
	if err := pub.Publish([]byte(`{"data":"ok"}`)); err != nil {
		t.Fatal(err)
	}
	r, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, r.JSON, []byte(`{"data":"ok"}`)) {
		t.Fatalf("received %s", r.JSON)
	}
}

// TestRawPublisherAndUndecodable: a raw publisher puts bytes on the wire
// under Twist's type name; the subscriber takes a valid payload as a
// message and reports an invalid one (too short for a Twist) as
// undecodable instead of dropping it silently.
func TestRawPublisherAndUndecodable(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	o := fastddspeer.Options{Topic: "/sint_peer_test/raw", Type: "geometry_msgs/msg/Twist", Domain: fastddspeer.RandomDomain(), LoopbackOnly: true}
	sub, err := fastddspeer.StartSubscriber(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Raw = true
	pub, err := fastddspeer.StartPublisher(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	short, _ := hex.DecodeString("00010000000000000000f03f")
	if err := pub.PublishCDR(ctx, short); err != nil {
		t.Fatal(err)
	}
	r, err := sub.Next(ctx)
	if !errors.Is(err, fastddspeer.ErrUndecodable) || !bytes.Equal(r.CDR, short) {
		t.Fatalf("short payload: %v, %x", err, r.CDR)
	}
	good := wirePadded(t, "00010000000000000000f03f000000000000000000000000000000000000000000000000000000000000000000000000000000")
	if err := pub.PublishCDR(ctx, good); err != nil {
		t.Fatal(err)
	}
	if r, err = sub.Next(ctx); err != nil || !bytes.Equal(r.CDR, good) {
		t.Fatalf("valid payload: %v, %x", err, r.CDR)
	}
	if !sameJSON(t, r.JSON, []byte(`{"linear":{"x":1,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0}}`)) {
		t.Fatalf("received %s", r.JSON)
	}
	// An empty payload is refused by the peer (not left unanswered).
	if err := pub.PublishCDR(ctx, nil); err == nil || !strings.Contains(err.Error(), "refused a message") {
		t.Fatalf("empty payload: err = %v, want the peer's refusal", err)
	}
}

// TestWrongTypeNameNeverMatches: a writer announcing another DDS type name
// on the same topic is not matched (ROS 2 peers only match on the exact
// pkg::msg::dds_::Name_). Matching is awaited against a control pair on the
// same participant setup, so the test does not depend on a fixed delay.
func TestWrongTypeNameNeverMatches(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	o := fastddspeer.Options{Topic: "/sint_peer_test/typename", Type: "geometry_msgs/msg/Twist", Domain: fastddspeer.RandomDomain(), LoopbackOnly: true}
	sub, err := fastddspeer.StartSubscriber(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	liar := o
	liar.DDSType = "geometry_msgs::msg::Twist" // without dds_ and the trailing underscore
	bad, err := fastddspeer.StartPublisher(ctx, t, liar)
	if err != nil {
		t.Fatal(err)
	}
	good, err := fastddspeer.StartPublisher(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := good.Publish([]byte(`{"linear":{"x":2}}`)); err != nil {
		t.Fatal(err)
	}
	if err := bad.Publish([]byte(`{"linear":{"x":3}}`)); err != nil {
		t.Fatal(err)
	}
	if err := good.Publish([]byte(`{"linear":{"x":4}}`)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []float64{2, 4} {
		r, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Linear struct{ X float64 } `json:"linear"`
		}
		_ = json.Unmarshal(r.JSON, &m)
		if m.Linear.X != want {
			t.Fatalf("received linear.x = %v, want %v (the mistyped writer got through)", m.Linear.X, want)
		}
	}
	if n := bad.Matched(); n != 0 {
		t.Fatalf("mistyped writer matched %d readers", n)
	}
}

// TestLoopbackAnnouncesOnDiscoveryGroup: a loopback-only peer announces
// itself (SPDP) on the RTPS discovery multicast group of its domain,
// 239.255.0.1:7400+250·domain, through the loopback interface, and not only
// to the unicast initial peers on 127.0.0.1. A DDS whose participant ports
// are not the well-known ones (Cyclone DDS by default, so the ROS 2 bridge)
// hears only the group: without the announcement there it finds the peer
// only when its own periodic announcement reaches the peer (seconds).
func TestLoopbackAnnouncesOnDiscoveryGroup(t *testing.T) {
	fastddspeer.Require(t)
	ctx := testCtx(t, 30*time.Second)
	lo, err := loopbackInterface()
	if err != nil {
		t.Fatal(err)
	}
	dom := fastddspeer.RandomDomain()
	group := &net.UDPAddr{IP: net.IPv4(239, 255, 0, 1), Port: 7400 + 250*dom}
	conn, err := net.ListenMulticastUDP("udp4", lo, group)
	if err != nil {
		t.Fatalf("join %v on %s: %v", group, lo.Name, err)
	}
	defer conn.Close()
	if _, err := fastddspeer.StartSubscriber(ctx, t, fastddspeer.Options{Topic: "/sint_peer_test/spdp", Type: "std_msgs/msg/Bool",
		Domain: dom, LoopbackOnly: true}); err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no RTPS announcement on %v: %v", group, err)
		}
		if n >= 4 && string(buf[:4]) == "RTPS" && from.IP.IsLoopback() {
			return
		}
	}
}

func loopbackInterface() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 {
			return &ifs[i], nil
		}
	}
	return nil, errors.New("no loopback interface")
}

// TestTransientLocalLateJoiner: with transient-local durability on both
// sides, a subscriber that starts after the publisher wrote still gets the
// messages it kept (and with volatile it would not: ROS 2's default).
func TestTransientLocalLateJoiner(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	o := fastddspeer.Options{Topic: "/sint_peer_test/latched", Type: "std_msgs/msg/String", Domain: fastddspeer.RandomDomain(),
		LoopbackOnly: true, TransientLocal: true, Depth: 1}
	pub, err := fastddspeer.StartPublisher(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`{"data":"first"}`, `{"data":"kept"}`} {
		if err := pub.Publish([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := fastddspeer.StartSubscriber(ctx, t, o)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, r.JSON, []byte(`{"data":"kept"}`)) {
		t.Fatalf("late joiner got %s, want the last kept message", r.JSON)
	}
}

//go:build cgo

package dds

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// testDomain picks a domain id per test run so that parallel runs on one
// host do not see each other.
func testDomain(t testing.TB) int { return 100 + int(time.Now().UnixNano()%100) }

func TestWriteTakeLoopback(t *testing.T) {
	for _, q := range []QoS{{}, {Durability: TransientLocal, Depth: 5}, {BestEffort: true}} {
		t.Run(q.String(), func(t *testing.T) {
			dom := testDomain(t)
			a, err := NewParticipant(Config{Domain: dom, LoopbackOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := NewParticipant(Config{Domain: dom, LoopbackOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			typ, _ := ROSType("std_msgs/msg/String")
			name := fmt.Sprintf("rt/test_%d", time.Now().UnixNano())
			w, err := a.Writer(name, typ, q)
			if err != nil {
				t.Fatal(err)
			}
			r, err := b.Reader(name, typ, q)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.WaitMatched(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if err := r.WaitMatched(ctx, 1); err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				// size 5..: not a multiple of 4, to see padding stripped
				msg := append([]byte{0, 1, 0, 0}, bytes.Repeat([]byte{byte(i)}, 1+i)...)
				if err := w.Write(msg); err != nil {
					t.Fatal(err)
				}
				s, err := r.Take(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(s.Data, msg) {
					t.Fatalf("got %x want %x", s.Data, msg)
				}
			}
		})
	}
}

func TestTakeCancelAndClose(t *testing.T) {
	p, err := NewParticipant(Config{Domain: testDomain(t), LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := p.Reader("rt/nobody", "std_msgs::msg::dds_::String_", QoS{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := r.Take(ctx); err == nil {
		t.Fatal("take without writer returned a sample")
	}
	done := make(chan error, 1)
	go func() { _, err := r.Take(context.Background()); done <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = r.Close()
	select {
	case err := <-done:
		if err != ErrClosed {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Take")
	}
}

func TestParseQoS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want QoS
		bad  bool
	}{
		{in: "", want: QoS{}},
		{in: "reliable,volatile,depth=10", want: QoS{Depth: 10}},
		{in: "best_effort, transient_local ,depth=1", want: QoS{BestEffort: true, Durability: TransientLocal, Depth: 1}},
		{in: "depth=-1", bad: true},
		{in: "depth=1x", bad: true},
		{in: "depth=100000", bad: true},
		{in: "keep_all", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseQoS(tc.in)
			if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
				t.Fatalf("ParseQoS(%q) = %+v, %v", tc.in, got, err)
			}
		})
	}
}

func TestROSNames(t *testing.T) {
	if got := ROSTopic("/cmd_vel"); got != "rt/cmd_vel" {
		t.Fatal(got)
	}
	if got, err := ROSType("geometry_msgs/msg/Twist"); err != nil || got != "geometry_msgs::msg::dds_::Twist_" {
		t.Fatal(got, err)
	}
	if _, err := ROSType("geometry_msgs/Twist"); err == nil {
		t.Fatal("ROS 1 type name accepted")
	}
}

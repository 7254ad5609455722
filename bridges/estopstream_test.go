package bridges

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/internal/app/apptest"
)

func TestReadEstopEvents(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []EstopEvent
	}{
		{"tripped", "retry: 1000\n: connected at 3\n\nid: 4\nevent: estop.tripped\ndata: {\"epoch\":2,\"reason\":\"button\",\"source\":\"gpio:estop\"}\n\n",
			[]EstopEvent{{Tripped: true, Epoch: 2, Reason: "button", Source: "gpio:estop"}}},
		{"reset-and-approvals-skipped", "id: 5\nevent: approval.requested\ndata: {\"approvalId\":\"x\"}\n\nid: 6\nevent: estop.reset\ndata: {\"epoch\":2}\n\n",
			[]EstopEvent{{Epoch: 2}}},
		{"crlf", "event: estop.tripped\r\ndata: {\"epoch\":1}\r\n\r\n", []EstopEvent{{Tripped: true, Epoch: 1}}},
		{"unreadable-trip-still-a-trip", "event: estop.tripped\ndata: not json\n\n", []EstopEvent{{Tripped: true}}},
		{"oversize-data-line-trip-kept", "event: estop.tripped\ndata: " + strings.Repeat("x", 2*MaxStreamLine) + "\n\n", []EstopEvent{{Tripped: true}}},
		{"oversize-approval-then-trip", "event: approval.requested\ndata: " + strings.Repeat("x", 3*MaxStreamLine) + "\n\nevent: estop.tripped\ndata: {\"epoch\":9}\n\n",
			[]EstopEvent{{Tripped: true, Epoch: 9}}},
		{"undispatched-at-eof", "event: estop.tripped\ndata: {}\n", nil},
		{"heartbeats-only", ": heartbeat\n\n: heartbeat\n\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []EstopEvent
			err := ReadEstopEvents(strings.NewReader(tc.in), nil, func(ev EstopEvent) { got = append(got, ev) })
			if !errors.Is(err, errStreamEnded) {
				t.Errorf("err %v, want the end of the stream", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("events %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzReadEstopEvents(f *testing.F) {
	f.Add("event: estop.tripped\ndata: {\"epoch\":2}\n\n")
	f.Add("id: 1\nevent: approval.resolved\ndata: {}\n\n: heartbeat\n\n")
	f.Add("event:estop.reset\r\ndata:{\"epoch\":18446744073709551615}\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		trips := 0
		_ = ReadEstopEvents(strings.NewReader(in), nil, func(ev EstopEvent) {
			if ev.Tripped {
				trips++
			}
		})
		// Every dispatched estop.tripped event is passed on.
		if want := strings.Count(in, "event: estop.tripped\n\n"); trips < want {
			t.Fatalf("%d trips passed on, at least %d in the stream", trips, want)
		}
	})
}

// readerFunc adapts a function to EstopReader.
type readerFunc func(ctx context.Context) (client.EstopState, error)

func (f readerFunc) ReadEstop(ctx context.Context) (client.EstopState, error) { return f(ctx) }

// TestEstopWatchPollBeforePush: a poll sent before a pushed trip and
// answered "armed" after it cannot unlatch; the next poll can.
func TestEstopWatchPollBeforePush(t *testing.T) {
	var w EstopWatch
	var mu sync.Mutex
	latched := false
	apply := func(a PollAction) {
		mu.Lock()
		defer mu.Unlock()
		if a.Latch != "" {
			latched = true
		}
		if a.Unlatch {
			latched = false
		}
	}
	stale := readerFunc(func(context.Context) (client.EstopState, error) {
		w.Pushed(EstopEvent{Tripped: true, Epoch: 1, Reason: "button"}, apply) // arrives while the poll is in flight
		return client.EstopState{State: "armed"}, nil
	})
	w.Poll(context.Background(), stale, time.Second, apply)
	if !latched {
		t.Fatal("a poll sent before the pushed trip unlatched")
	}
	w.Poll(context.Background(), readerFunc(func(context.Context) (client.EstopState, error) {
		return client.EstopState{State: "armed", Epoch: 1}, nil
	}), time.Second, apply)
	if latched {
		t.Fatal("an armed poll sent after the trip did not unlatch")
	}
	w.Pushed(EstopEvent{Tripped: false, Epoch: 1}, apply)
	if latched {
		t.Fatal("a pushed reset latched")
	}
}

// TestEstopWatchLatePushedTrip: a pushed trip of an epoch that a poll has
// already seen reset (delivered late, after the operator's reset) does not
// stop the robot again; a trip of a newer epoch, one naming no epoch, and
// one arriving while the last poll saw the breaker tripped still latch.
func TestEstopWatchLatePushedTrip(t *testing.T) {
	armed := func(e uint64, since int64) EstopReader {
		return readerFunc(func(context.Context) (client.EstopState, error) {
			return client.EstopState{State: "armed", Epoch: e, Since: since}, nil
		})
	}
	tripped := func(e uint64, since int64) EstopReader {
		return readerFunc(func(context.Context) (client.EstopState, error) {
			return client.EstopState{State: "tripped", Epoch: e, Since: since}, nil
		})
	}
	cases := []struct {
		name  string
		polls []EstopReader
		push  EstopEvent
		latch bool
	}{
		{"trip-before-the-reset-seen-is-ignored", []EstopReader{armed(3, 100), tripped(4, 200), armed(4, 300)}, EstopEvent{Tripped: true, Epoch: 4, TrippedAt: 200}, false},
		{"trip-at-the-reset-instant-is-ignored", []EstopReader{armed(4, 300)}, EstopEvent{Tripped: true, Epoch: 4, TrippedAt: 300}, false},
		{"trip-after-the-reset-latches", []EstopReader{armed(4, 300)}, EstopEvent{Tripped: true, Epoch: 5, TrippedAt: 301}, true},
		{"other-replica-lower-epoch-after-the-reset-latches", []EstopReader{armed(10, 300)}, EstopEvent{Tripped: true, Epoch: 5, TrippedAt: 400}, true},
		{"no-time-latches", []EstopReader{armed(4, 300)}, EstopEvent{Tripped: true, Epoch: 4}, true},
		{"before-any-poll-latches", nil, EstopEvent{Tripped: true, Epoch: 1, TrippedAt: 50}, true},
		{"while-tripped-latches", []EstopReader{armed(3, 100), tripped(4, 200)}, EstopEvent{Tripped: true, Epoch: 4, TrippedAt: 200}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w EstopWatch
			for _, r := range tc.polls {
				w.Poll(context.Background(), r, time.Second, func(PollAction) {})
			}
			var got PollAction
			w.Pushed(tc.push, func(a PollAction) { got = a })
			if (got.Latch != "") != tc.latch {
				t.Fatalf("pushed %+v after %d polls: action %+v, want latch=%v", tc.push, len(tc.polls), got, tc.latch)
			}
		})
	}
}

// TestFollowRealGateway: with a read-only key, a trip on a real gateway
// reaches the watch over the approvals stream (the poll is not running).
func TestFollowRealGateway(t *testing.T) {
	g := apptest.Start(t, "")
	g.G.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
	var key struct{ Key string }
	if st := g.Admin("POST", "/v1/apikeys", map[string]any{"operatorId": "bridge", "scopes": []string{"read"}}, &key); st != 201 {
		t.Fatalf("apikey: %d", st)
	}
	var w EstopWatch
	latches := make(chan string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Follow(ctx, OperatorEstop{Op: &client.Operator{BaseURL: g.URL, APIKey: key.Key}}, func(a PollAction) { latches <- a.Latch }, nil)
	}()
	defer func() { cancel(); <-done }()
	waitFor(t, w.Streaming)
	if st := g.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "pushed test"}, nil); st != 200 {
		t.Fatalf("trip: %d", st)
	}
	select {
	case got := <-latches:
		if got != "e-stop tripped (pushed): pushed test" {
			t.Fatalf("latch %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pushed latch within 10 s")
	}
}

// TestFollowReconnects: a stream the gateway closes is opened again and
// its trips still latch.
func TestFollowReconnects(t *testing.T) {
	var opens atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk_a_b" || r.URL.Path != "/v1/approvals/stream" {
			http.Error(rw, "no", http.StatusUnauthorized)
			return
		}
		n := opens.Add(1)
		rw.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(rw, "event: estop.tripped\ndata: {\"epoch\":%d,\"reason\":\"r%d\"}\n\n", n, n)
	}))
	defer srv.Close()
	var w EstopWatch
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Follow(ctx, OperatorEstop{Op: &client.Operator{BaseURL: srv.URL, APIKey: "sk_a_b"}}, func(a PollAction) {
			mu.Lock()
			got = append(got, a.Latch)
			mu.Unlock()
		}, nil)
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	cancel()
	<-done
	if got[0] != "e-stop tripped (pushed): r1" || got[1] != "e-stop tripped (pushed): r2" {
		t.Fatalf("latches %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

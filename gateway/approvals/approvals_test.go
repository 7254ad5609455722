package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

func TestVoteValidate(t *testing.T) {
	cases := []struct {
		name string
		v    Vote
		code codes.Code // "" = valid
	}{
		{"ok/approve", Vote{OperatorID: "alice", Vote: VoteApprove}, ""},
		{"ok/deny-with-reason", Vote{OperatorID: "alice", Vote: VoteDeny, Reason: "no"}, ""},
		{"ok/standing-one-hour", Vote{OperatorID: "alice", Vote: VoteApprove, StandingForMs: MaxStandingMs}, ""},
		{"deny/no-operator", Vote{Vote: VoteApprove}, codes.Unauthenticated},
		{"deny/unknown-vote", Vote{OperatorID: "a", Vote: "abstain"}, codes.MalformedRequest},
		{"deny/reason-too-long", Vote{OperatorID: "a", Vote: VoteDeny, Reason: strings.Repeat("x", MaxReasonBytes+1)}, codes.MalformedRequest},
		{"deny/standing-over-one-hour", Vote{OperatorID: "a", Vote: VoteApprove, StandingForMs: MaxStandingMs + 1}, codes.MalformedRequest},
		{"deny/standing-negative", Vote{OperatorID: "a", Vote: VoteApprove, StandingForMs: -1}, codes.MalformedRequest},
		{"deny/standing-on-deny", Vote{OperatorID: "a", Vote: VoteDeny, StandingForMs: 1000}, codes.MalformedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			if tc.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if codes.Of(err) != tc.code {
				t.Fatalf("code %s, want %s (%v)", codes.Of(err), tc.code, err)
			}
		})
	}
}

func TestStandingCovers(t *testing.T) {
	s := NewStanding()
	s.add(StandingApproval{ApprovalID: "a1", AgentID: "ag", TokenID: "tk", Resource: "ros:///arm/x", Action: "publish", CreatedAt: 100, Until: 1100})
	cases := []struct {
		name                           string
		agent, token, resource, action string
		now                            int64
		want                           bool
	}{
		{"cover/exact-inside-window", "ag", "tk", "ros:///arm/x", "publish", 500, true},
		{"cover/last-millisecond", "ag", "tk", "ros:///arm/x", "publish", 1099, true},
		{"miss/at-until", "ag", "tk", "ros:///arm/x", "publish", 1100, false},
		{"miss/other-agent", "ag2", "tk", "ros:///arm/x", "publish", 500, false},
		{"miss/other-token", "ag", "tk2", "ros:///arm/x", "publish", 500, false},
		{"miss/other-resource", "ag", "tk", "ros:///arm/y", "publish", 500, false},
		{"miss/other-action", "ag", "tk", "ros:///arm/x", "subscribe", 500, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Covers(tc.agent, tc.token, tc.resource, tc.action, tc.now); got != tc.want {
				t.Fatalf("Covers = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("miss/after-remove", func(t *testing.T) {
		if !s.remove("a1") || s.Covers("ag", "tk", "ros:///arm/x", "publish", 500) || s.remove("a1") {
			t.Fatal("remove did not take effect once")
		}
	})
	t.Run("list/active-drops-lapsed", func(t *testing.T) {
		s.add(StandingApproval{ApprovalID: "b", AgentID: "ag", Until: 10})
		s.add(StandingApproval{ApprovalID: "c", AgentID: "ag", Until: 1000, CreatedAt: 5})
		got := s.Active(20)
		if len(got) != 1 || got[0].ApprovalID != "c" {
			t.Fatalf("active: %+v", got)
		}
		if _, ok := s.byID["b"]; ok {
			t.Fatal("lapsed entry kept")
		}
	})
}

func entry(seq uint64, typ string, payload string) ledger.Entry {
	return ledger.Entry{SequenceNumber: seq, EventType: typ, AgentID: "ag", Timestamp: "2026-11-25T00:00:00.000000Z", Payload: json.RawMessage(payload)}
}

func TestEventOf(t *testing.T) {
	cases := []struct {
		name, typ, payload string
		want               string // "" = not streamed
		state              string
	}{
		{"stream/requested", "approval.requested", `{"approvalId":"a"}`, EventRequested, ""},
		{"stream/granted-is-approved", "approval.granted", `{"approvalId":"a"}`, EventResolved, Approved},
		{"stream/denied", "approval.denied", `{"approvalId":"a"}`, EventResolved, Denied},
		{"stream/expired", "approval.expired", `{}`, EventResolved, Expired},
		{"stream/cancelled", "approval.cancelled", `{}`, EventResolved, Cancelled},
		{"stream/trip", "safety.estop.tripped", `{"reason":"x"}`, EventEstopTripped, ""},
		{"stream/reset", "safety.estop.reset", `{}`, EventEstopReset, ""},
		{"skip/policy-evaluated", "policy.evaluated", `{}`, "", ""},
		{"skip/vote", "approval.voted", `{}`, "", ""},
		{"stream/bad-payload-still-an-object", "approval.requested", `[1]`, EventRequested, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := entry(42, tc.typ, tc.payload)
			ev, ok := EventOf(&e)
			if (tc.want != "") != ok || ev.Name != tc.want {
				t.Fatalf("EventOf = %+v %v, want %q", ev, ok, tc.want)
			}
			if !ok {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(ev.Data, &m); err != nil {
				t.Fatalf("data is not an object: %s", ev.Data)
			}
			if m["sequence"] != float64(42) || ev.Seq != 42 || m["ledgerEventType"] != tc.typ {
				t.Fatalf("data %s", ev.Data)
			}
			if tc.state != "" && m["state"] != tc.state {
				t.Fatalf("state %v, want %s", m["state"], tc.state)
			}
		})
	}
}

func FuzzEventOf(f *testing.F) {
	for _, s := range []struct{ typ, payload string }{
		{"approval.requested", `{"approvalId":"a"}`}, {"approval.granted", `{}`}, {"safety.estop.tripped", `{"reason":"x"}`},
		{"approval.denied", `[1]`}, {"policy.evaluated", `{}`}, {"approval.expired", `{"sequence":"spoof"}`},
	} {
		f.Add(s.typ, s.payload, uint64(7))
	}
	f.Fuzz(func(t *testing.T, typ, payload string, seq uint64) {
		e := entry(seq, typ, payload)
		ev, ok := EventOf(&e)
		if !ok {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatalf("data is not a JSON object: %q", ev.Data)
		}
		var got uint64
		if err := json.Unmarshal(m["sequence"], &got); err != nil || got != seq || ev.Seq != seq {
			t.Fatalf("sequence %s (event %d), want %d", m["sequence"], ev.Seq, seq)
		}
	})
}

// memLedger is an in-memory ledger reader for hub tests.
type memLedger struct {
	mu sync.Mutex
	es []ledger.Entry
}

func (m *memLedger) add(typ string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	seq := uint64(len(m.es) + 1)
	m.es = append(m.es, entry(seq, typ, fmt.Sprintf(`{"n":%d}`, seq)))
	return seq
}

func (m *memLedger) Size(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.es)), nil
}

func (m *memLedger) List(_ context.Context, q ledger.ListQuery) ([]ledger.Entry, *uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if q.After >= uint64(len(m.es)) {
		return nil, nil, nil
	}
	end := min(uint64(len(m.es)), q.After+uint64(q.EffectiveLimit()))
	out := append([]ledger.Entry(nil), m.es[q.After:end]...)
	if end < uint64(len(m.es)) {
		return out, &end, nil
	}
	return out, nil, nil
}

func TestHubOrderResumeAndDrop(t *testing.T) {
	l := &memLedger{}
	l.add("policy.loaded")
	h := &Hub{Ledger: l}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.SetLimits(Limits{Buffer: 4})
	slow, _ := h.Subscribe()
	h.SetLimits(Limits{Buffer: 10_000})
	fast, _ := h.Subscribe()
	for i := 0; i < 3000; i++ {
		typ := "approval.requested"
		if i%3 == 0 {
			typ = "policy.evaluated"
		}
		l.add(typ)
		h.Wake()
	}
	// fast receives every streamed entry once, in order.
	var got []uint64
	for len(got) < 2000 {
		ev, ok := <-fast.C
		if !ok {
			t.Fatalf("fast subscriber dropped after %d events", len(got))
		}
		got = append(got, ev.Seq)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order: %d after %d", got[i], got[i-1])
		}
	}
	// slow never read: dropped, channel closed, the hub went on.
	n := 0
	for range slow.C {
		n++
	}
	if !slow.Dropped() || n != 4 {
		t.Fatalf("slow: dropped=%v buffered=%d", slow.Dropped(), n)
	}
	// Backlog + live from a resume point covers everything after it once.
	late, _ := h.Subscribe()
	var resumed []uint64
	if err := h.Backlog(ctx, 1500, late.From, func(ev Event) error { resumed = append(resumed, ev.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	l.add("approval.denied")
	h.Wake()
	ev := <-late.C
	resumed = append(resumed, ev.Seq)
	want := 0
	for _, s := range got {
		if s > 1500 {
			want++
		}
	}
	if len(resumed) != want+1 || resumed[len(resumed)-1] != 3002 {
		t.Fatalf("resumed %d events ending %d, want %d ending 3002", len(resumed), resumed[len(resumed)-1], want+1)
	}
	subs, dropped := h.Stats()
	if subs != 2 || dropped != 1 {
		t.Fatalf("stats %d %d", subs, dropped)
	}
	cancel()
	for range fast.C {
	}
	if _, err := h.Subscribe(); !errors.Is(err, ErrStopped) {
		// The hub closes asynchronously; a Subscribe racing the stop may still succeed.
		t.Logf("subscribe after stop: %v", err)
	}
}

func BenchmarkHubFanout100(b *testing.B) {
	l := &memLedger{}
	h := &Hub{Ledger: l}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		s, _ := h.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range s.C {
			}
		}()
	}
	e := entry(1, "approval.requested", `{"approvalId":"01a21449-6c52-75c7-9614-530907ed39a6","resource":"ros:///arm/x","tier":3}`)
	ev, _ := EventOf(&e)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.mu.Lock()
		ev.Seq = uint64(i)
		h.fanout(ev)
		h.mu.Unlock()
	}
	b.StopTimer()
	cancel()
	wg.Wait()
}

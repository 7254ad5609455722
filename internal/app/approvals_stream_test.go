package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	ID    uint64
	Event string
	Data  map[string]any
}

// sseClient reads an approval stream.
type sseClient struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{}
	beats  atomic.Int64
}

// openSSE connects to the stream with key, resuming after lastID if > 0.
func openSSE(t *testing.T, base, key string, lastID uint64) *sseClient {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/approvals/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(lastID, 10))
	}
	resp, err := (&http.Client{}).Do(req) // no timeout: a stream
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ": heartbeat"):
				c.beats.Add(1)
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.Data)
			}
		}
	}()
	return c
}

func (c *sseClient) close() {
	c.resp.Body.Close()
	<-c.done
}

// next returns the next event or fails after 10 s.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no stream event within 10 s")
	}
	return sseEvent{}
}

// streamed lists the ledger entries the streams carry, after seq.
func streamed(t *testing.T, l ledger.Store, after uint64) []approvals.Event {
	t.Helper()
	var out []approvals.Event
	for {
		es, next, err := l.List(context.Background(), ledger.ListQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for i := range es {
			if ev, ok := approvals.EventOf(&es[i]); ok {
				out = append(out, ev)
			}
		}
		if next == nil {
			return out
		}
		after = *next
	}
}

// producer escalates requests over HTTP until stopped; it reports failures
// instead of failing from its goroutine.
type producer struct {
	h    *harness
	tok  *tokens.Token
	stop chan struct{}
	done chan struct{}
	sent atomic.Int64
	errs atomic.Int64
}

func startProducer(h *harness, agent string, tok *tokens.Token, every time.Duration) *producer {
	p := &producer{h: h, tok: tok, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(every):
			}
			if st := p.escalateNoFail(agent); st != 202 {
				p.errs.Add(1)
			}
			p.sent.Add(1)
		}
	}()
	return p
}

func (p *producer) halt() { close(p.stop); <-p.done }

// escalateNoFail sends one tier-3 request and returns the status (0 on a
// transport error).
func (p *producer) escalateNoFail(agent string) int {
	return sendEscalation(p.h.url, p.h.clock, agent, p.tok.Claims.TokenID, p.h.http)
}

var escalationN atomic.Int64

func newV7() string             { return uuid.Must(uuid.NewV7()).String() }
func pubOf(agent string) string { return tokentest.Pub(agent) }

func sendEscalation(base string, ck *clock, agent, tokenID string, hc *http.Client) int {
	ts := ck.Now().UnixMilli()
	m := map[string]any{
		"requestId": newV7(), "agentId": pubOf(agent), "timestamp": ts, "tokenId": tokenID,
		"resource": resourceOfTier(3), "action": "publish", "params": map[string]any{"n": escalationN.Add(1)},
	}
	body, _ := json.Marshal(m)
	req, _ := http.NewRequest("POST", base+"/v1/intercept", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range signed(agent, body, ts) {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	var d api.Decision
	_ = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	return resp.StatusCode
}

// TestApprovalStreamResume drops an SSE connection while events keep
// happening and resumes it with Last-Event-ID: every streamed ledger entry
// arrives exactly once, in order.
func TestApprovalStreamResume(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("sse-agent", nil)
	h.g.Approvals.Hub.SetLimits(approvals.Limits{Heartbeat: 200 * time.Millisecond}) // closed clients are noticed quickly
	startSeq, _ := h.g.Ledger.Size(context.Background())

	c1 := openSSE(t, h.url, alice, 0)
	prod := startProducer(h, "sse-agent", tok, 5*time.Millisecond)
	var got []sseEvent
	for len(got) < 10 {
		got = append(got, c1.next(t))
	}
	c1.close() // dropped mid-flow; the producer keeps going
	e := h.escalate("sse-agent", tok, 3)
	if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, nil); st != 200 {
		t.Fatalf("approve: %d", st)
	}
	if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "resume test"}, nil); st != 200 {
		t.Fatalf("trip: %d", st)
	}
	if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "resume test"}, nil); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	time.Sleep(50 * time.Millisecond) // let more escalations land while disconnected
	c2 := openSSE(t, h.url, alice, got[len(got)-1].ID)
	time.Sleep(50 * time.Millisecond) // and while reconnected
	prod.halt()
	if prod.sent.Load() == 0 {
		t.Fatal("producer sent nothing")
	}
	want := streamed(t, h.g.Ledger, startSeq)
	for len(got) < len(want) {
		got = append(got, c2.next(t))
	}
	c2.close()
	if len(got) != len(want) {
		t.Fatalf("received %d events, ledger has %d", len(got), len(want))
	}
	names := map[string]bool{}
	for i := range want {
		if got[i].ID != want[i].Seq || got[i].Event != want[i].Name {
			t.Fatalf("event %d: got id %d %s, want %d %s", i, got[i].ID, got[i].Event, want[i].Seq, want[i].Name)
		}
		if seq, _ := got[i].Data["sequence"].(float64); uint64(seq) != got[i].ID {
			t.Fatalf("event %d: data.sequence %v ≠ id %d", i, got[i].Data["sequence"], got[i].ID)
		}
		names[got[i].Event] = true
	}
	for _, n := range []string{approvals.EventRequested, approvals.EventResolved, approvals.EventEstopTripped, approvals.EventEstopReset} {
		if !names[n] {
			t.Errorf("no %s event in the stream", n)
		}
	}
	t.Logf("%d events across a dropped connection; producer sent %d (%d not escalated: the trip)", len(got), prod.sent.Load(), prod.errs.Load())
}

func TestApprovalStreamHeartbeatAndAuth(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	reader := h.operatorKey("rita", "read")
	t.Run("deny/no-key-401", func(t *testing.T) {
		h.t = t
		if st := h.do("GET", "/v1/approvals/stream", nil, nil, nil); st != 401 {
			t.Fatalf("no key: %d", st)
		}
	})
	t.Run("deny/bad-last-event-id-400", func(t *testing.T) {
		h.t = t
		if st := h.do("GET", "/v1/approvals/stream", map[string]string{"Authorization": "Bearer " + reader, "Last-Event-ID": "x"}, nil, nil); st != 400 {
			t.Fatalf("bad Last-Event-ID: %d", st)
		}
	})
	t.Run("heartbeat/comment", func(t *testing.T) {
		h.t = t
		h.g.Approvals.Hub.SetLimits(approvals.Limits{Heartbeat: 50 * time.Millisecond})
		defer h.g.Approvals.Hub.SetLimits(approvals.Limits{})
		c := openSSE(t, h.url, reader, 0)
		deadline := time.Now().Add(10 * time.Second)
		for c.beats.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		c.close()
		if c.beats.Load() < 2 {
			t.Fatalf("heartbeats: %d", c.beats.Load())
		}
	})
}

// wsMsg is a server→client WebSocket message.
type wsMsg struct {
	Type       string          `json:"type"`
	ID         uint64          `json:"id"`
	Event      string          `json:"event"`
	Data       json.RawMessage `json:"data"`
	ApprovalID string          `json:"approvalId"`
	OK         bool            `json:"ok"`
	Approval   *approvalView   `json:"approval"`
	Error      *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func dialWS(t *testing.T, base string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 5 * time.Second}
	return d.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/approvals/ws", nil)
}

func readWS(t *testing.T, c *websocket.Conn, match func(m wsMsg) bool) wsMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m wsMsg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("read websocket: %v", err)
		}
		if match(m) {
			return m
		}
	}
}

func TestApprovalWebSocket(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	reader := h.operatorKey("rita", "read")
	tok := h.tokenFor("ws-agent", nil)
	h.g.Approvals.Hub.SetLimits(approvals.Limits{Heartbeat: 200 * time.Millisecond})

	t.Run("deny/no-sint-v1-400", func(t *testing.T) {
		_, resp, err := dialWS(t, h.url, "bearer."+alice)
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Fatalf("without sint.v1: %v %v", err, resp)
		}
	})
	t.Run("deny/no-key-401", func(t *testing.T) {
		_, resp, err := dialWS(t, h.url, "sint.v1")
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("without a key: %v %v", err, resp)
		}
	})
	t.Run("vote/approve-over-the-socket", func(t *testing.T) {
		h.t = t
		c, resp, err := dialWS(t, h.url, "sint.v1", "bearer."+alice)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "sint.v1" {
			t.Fatalf("selected subprotocol %q", p)
		}
		e := h.escalate("ws-agent", tok, 3)
		m := readWS(t, c, func(m wsMsg) bool { return m.Type == "event" && strings.Contains(string(m.Data), e.approvalID) })
		if m.Event != approvals.EventRequested || m.ID == 0 {
			t.Fatalf("first event: %+v", m)
		}
		if err := c.WriteJSON(map[string]any{"type": "approve", "approvalId": e.approvalID, "reason": "over ws"}); err != nil {
			t.Fatal(err)
		}
		// The result and the resolved event may come in either order.
		var r, ev *wsMsg
		for r == nil || ev == nil {
			m := readWS(t, c, func(m wsMsg) bool { return m.Type == "result" || m.Event == approvals.EventResolved })
			if m.Type == "result" {
				r = &m
			} else {
				ev = &m
			}
		}
		if !r.OK || r.Approval == nil || r.Approval.State != "approved" {
			t.Fatalf("result: %+v", r)
		}
		if !strings.Contains(string(ev.Data), `"state":"approved"`) || ev.ID <= m.ID {
			t.Fatalf("resolved event: %+v %s", ev, ev.Data)
		}
		st, d, _ := h.wait("ws-agent", e.approvalID, 0)
		if st != 200 {
			t.Fatalf("wait: %d", st)
		}
		h.checkAllow(e, d)
	})
	t.Run("deny/read-only-key-cannot-vote", func(t *testing.T) {
		h.t = t
		c, _, err := dialWS(t, h.url, "sint.v1", "bearer."+reader)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		e := h.escalate("ws-agent", tok, 3)
		if err := c.WriteJSON(map[string]any{"type": "approve", "approvalId": e.approvalID}); err != nil {
			t.Fatal(err)
		}
		r := readWS(t, c, func(m wsMsg) bool { return m.Type == "result" })
		if r.OK || r.Error == nil || r.Error.Code != "FORBIDDEN" {
			t.Fatalf("read-only vote: %+v", r)
		}
		if err := c.WriteJSON(map[string]any{"type": "bogus"}); err != nil {
			t.Fatal(err)
		}
		r = readWS(t, c, func(m wsMsg) bool { return m.Type == "result" })
		if r.OK || r.Error == nil || r.Error.Code != "MALFORMED_REQUEST" {
			t.Fatalf("bogus message: %+v", r)
		}
		if a := h.approval(e.approvalID); a.State != "pending" {
			t.Fatalf("state after refused votes: %s", a.State)
		}
	})
}

// TestApprovalStreamLoad connects 100 stream clients and one client that
// never reads, then escalates at up to 1,000 requests/s. Every reading
// client receives every approval.requested event, the stuck client is
// disconnected (bounded per-client buffer), escalations are not held up by
// it, and the heap stays bounded.
func TestApprovalStreamLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	reader := h.operatorKey("rita", "read")
	tok := h.tokenFor("load-agent", nil)
	// A reader more than Buffer events behind is disconnected (it would resume
	// with Last-Event-ID); 256 producers under -race burst well past 256.
	h.g.Approvals.Hub.SetLimits(approvals.Limits{Buffer: 4096, WriteTimeout: 2 * time.Second, Heartbeat: 200 * time.Millisecond})

	clients := 100 // SINT_LOAD_CLIENTS overrides it (to compare with 0)
	if v, err := strconv.Atoi(os.Getenv("SINT_LOAD_CLIENTS")); err == nil && v >= 0 {
		clients = v
	}
	target := 1000 // escalations per second; SINT_LOAD_RATE overrides it (to find the ceiling)
	if v, err := strconv.Atoi(os.Getenv("SINT_LOAD_RATE")); err == nil && v > 0 {
		target = v
	}
	duration := 2 * time.Second // SINT_LOAD_SECONDS overrides it (a longer run shows whether the rate is sustained)
	if v, err := strconv.Atoi(os.Getenv("SINT_LOAD_SECONDS")); err == nil && v > 0 {
		duration = time.Duration(v) * time.Second
	}

	// The stuck client: a tiny receive buffer and no reads.
	stuck := stuckClient(t, h.url, reader)
	defer stuck.Close()

	var fast []*http.Response
	counts := make([]atomic.Int64, clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		req, _ := http.NewRequest("GET", h.url+"/v1/approvals/stream", nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		resp, err := (&http.Client{}).Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream client %d: %v", i, err)
		}
		fast = append(fast, resp)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if sc.Text() == "event: approval.requested" {
					counts[i].Add(1)
				}
			}
		}(i)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	total := target * int(duration/time.Second)
	jobs := make(chan struct{}, total)
	var ok, bad atomic.Int64
	start := time.Now()
	var pw sync.WaitGroup
	for w := 0; w < 256; w++ { // enough that the offered rate is not bounded by latency
		pw.Add(1)
		go func() {
			defer pw.Done()
			for range jobs {
				if sendEscalation(h.url, h.clock, "load-agent", tok.Claims.TokenID, hc) == 202 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	// Paced by the schedule (job i at start + i/target), not by a ticker: a
	// ticker drops the ticks its reader misses, which would lower the rate
	// offered rather than measure the gateway.
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(target))); d > 0 {
			time.Sleep(d)
		}
		jobs <- struct{}{}
	}
	offered := time.Since(start)
	close(jobs)
	pw.Wait()
	elapsed := time.Since(start)
	if bad.Load() != 0 {
		t.Fatalf("%d escalations failed", bad.Load())
	}
	// Every reading client gets every event (eventually).
	deadline := time.Now().Add(60 * time.Second)
	for i := range counts {
		for counts[i].Load() < ok.Load() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if counts[i].Load() != ok.Load() {
			t.Fatalf("client %d received %d of %d events", i, counts[i].Load(), ok.Load())
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	// The stuck client is dropped by the hub once its buffer is full, or by
	// the write deadline, whichever comes first.
	deadline = time.Now().Add(30 * time.Second)
	for !stuckGone(h, clients) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	subs, dropped := h.g.Approvals.Hub.Stats()
	for _, r := range fast {
		r.Body.Close()
	}
	wg.Wait()
	t.Logf("%d escalations in %v (%.0f/s; offered in %v) with %d stream clients; subscribers at end %d, dropped %d; heap growth %d KiB",
		ok.Load(), elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds(), offered.Round(time.Millisecond), clients, subs, dropped, growth>>10)
	if subs != clients {
		t.Fatalf("subscribers %d, want %d (the stuck one gone, every reader kept)", subs, clients)
	}
	if growth > 64<<20 {
		t.Fatalf("heap grew by %d MiB", growth>>20)
	}
}

// stuckGone reports whether only the reading clients remain subscribed.
func stuckGone(h *harness, clients int) bool {
	subs, _ := h.g.Approvals.Hub.Stats()
	return subs <= clients
}

// stuckClient opens a stream on a raw connection with a small receive
// buffer and never reads from it.
func stuckClient(t *testing.T, base, key string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /v1/approvals/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", addr, key)
	return conn
}

// TestServeShutdownEndsStreams: a connected stream client must not hold up
// Serve's graceful shutdown (the server waits up to 30 s for open
// connections; the hub ends the streams when Serve's context ends).
func TestServeShutdownEndsStreams(t *testing.T) {
	dir := t.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Options{DataDir: dir, PolicyPath: "testdata/policy.yaml", Log: slog.New(slog.DiscardHandler)}, addr, io.Discard)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := openSSE(t, base, res.AdminAPIKey, 0)
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve still waiting for the stream client after 20 s")
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
	c.resp.Body.Close()
}

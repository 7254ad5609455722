package mcpbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// cutter is an HTTP proxy in front of the bridge's streamable HTTP
// endpoint that loses the event stream of the first tools/call: it passes
// the stream's first event (the priming event, which carries an event id)
// and then drops the connection, as a flaky network would.
type cutter struct {
	target string
	cut    chan struct{} // closed once the stream is cut
	once   sync.Once

	mu      sync.Mutex
	resumes []string // the Last-Event-ID of each GET
	posts   []string // the body of each POST
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, c.target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	c.mu.Lock()
	switch r.Method {
	case http.MethodGet:
		c.resumes = append(c.resumes, r.Header.Get("Last-Event-ID"))
	case http.MethodPost:
		c.posts = append(c.posts, string(body))
	}
	c.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	fl := w.(http.Flusher)
	cutThis := false
	if r.Method == http.MethodPost && bytes.Contains(body, []byte(`"tools/call"`)) {
		c.once.Do(func() { cutThis = true })
	}
	br := bufio.NewReader(resp.Body)
	var event []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return
		}
		event = append(event, b)
		if b != '\n' || !bytes.HasSuffix(event, []byte("\n\n")) {
			continue
		}
		_, _ = w.Write(event)
		fl.Flush()
		event = event[:0]
		if cutThis {
			close(c.cut)
			panic(http.ErrAbortHandler) // the client's stream breaks here
		}
	}
}

func (c *cutter) lastEventIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.resumes...)
}

// TestStreamableHTTPResumption: an agent (Go SDK client, protocol
// 2025-11-25, which resumes from Last-Event-ID) whose event stream breaks
// while a gated call runs reconnects with its Last-Event-ID and gets the
// result exactly once; the resumption sends no second request, so the
// gateway sees one intercept and the downstream tool runs once; a second
// resumption from the same event id replays the stored result, never the
// call.
func TestStreamableHTTPResumption(t *testing.T) {
	r := newRig(t, rigOpts{http: true})
	c := &cutter{target: r.url, cut: make(chan struct{})}
	proxy := httptest.NewServer(c)
	t.Cleanup(proxy.Close)

	agent, err := mcp.NewClient(&mcp.Implementation{Name: "resuming-agent", Version: "v1"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: proxy.URL, HTTPClient: httpClient(httpToken), MaxRetries: 5},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Close() })
	// First (cleanups run last first): the call and the slow tool end, so
	// that closing the session and the proxy, which wait for them, end.
	t.Cleanup(func() { r.callCancel(); r.release() })

	type answer struct {
		res *mcp.CallToolResult
		err error
	}
	got := make(chan answer, 2)
	go func() {
		res, err := agent.CallTool(r.callCtx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{}})
		got <- answer{res, err}
	}()
	select {
	case <-r.rec.Started:
	case <-time.After(20 * time.Second):
		t.Fatal("the slow tool did not start")
	}
	select {
	case <-c.cut:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream was not cut (no event with an id before the result: the endpoint offers no resumption)")
	}
	r.release() // the tool answers while the agent's stream is down
	var a answer
	select {
	case a = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no result after the stream broke")
	}
	if a.err != nil || a.res.IsError || contentText(a.res) != "slow done" {
		t.Fatalf("result: %v %+v", a.err, a.res)
	}
	select {
	case b := <-got:
		t.Fatalf("a second result: %+v", b)
	case <-time.After(200 * time.Millisecond):
	}
	ids := c.lastEventIDs()
	resumed := ""
	for _, id := range ids {
		if id != "" {
			resumed = id
		}
	}
	if resumed == "" {
		t.Fatalf("the client did not resume with a Last-Event-ID (GETs %q)", ids)
	}
	calls := 0
	for _, p := range c.posts {
		if strings.Contains(p, `"tools/call"`) {
			calls++
		}
	}
	if calls != 1 {
		t.Fatalf("%d tools/call POSTs: the call was sent again", calls)
	}

	// Resuming again from the same event id (a replay, by a client or an
	// attacker holding the session and the token) gets the stored events,
	// never a second execution.
	req, _ := http.NewRequest(http.MethodGet, r.url, nil)
	req.Header.Set("Authorization", "Bearer "+httpToken)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", agent.ID())
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("Last-Event-ID", resumed)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	replay, _ := io.ReadAll(resp.Body) // ends at the timeout or when the stream closes
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(replay), "slow done") {
		t.Fatalf("replay: %d %q", resp.StatusCode, replay)
	}
	time.Sleep(100 * time.Millisecond)

	if n := len(r.rec.Calls()); n != 1 {
		t.Fatalf("downstream calls: %d, want 1", n)
	}
	if n := len(r.gw.decisions("call", "mcp://testfs/slow")); n != 1 {
		t.Fatalf("intercepts in the ledger: %d, want 1", n)
	}
	if st := r.bridge.Stats(); st.Calls != 1 || st.Forwarded != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTypeScriptAgentResumption: the same break with the official
// TypeScript SDK client (testdata/peer/client.mjs, protocol 2025-11-25):
// it resumes from the priming event's id and gets the result once; the
// call is intercepted and run once.
func TestTypeScriptAgentResumption(t *testing.T) {
	node, dir := peer(t)
	if node == "" {
		return
	}
	r := newRig(t, rigOpts{http: true})
	c := &cutter{target: r.url, cut: make(chan struct{})}
	proxy := httptest.NewServer(c)
	t.Cleanup(proxy.Close)
	t.Cleanup(r.release) // first: the tool ends, and so does the proxied stream
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "client.mjs"), proxy.URL, httpToken, "slow", "{}")
	cmd.Stderr = io.Discard // the SDK reports the broken stream on stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.cut:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream was not cut (no event with an id before the result)")
	}
	r.release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client: %v %s", err, out.String())
	}
	var m struct{ Results []*mcp.CallToolResult }
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || len(m.Results) != 1 || contentText(m.Results[0]) != "slow done" {
		t.Fatalf("client output %q: %v", out.String(), err)
	}
	resumed := false
	for _, id := range c.lastEventIDs() {
		resumed = resumed || id != ""
	}
	if !resumed {
		t.Fatal("the client did not resume with a Last-Event-ID")
	}
	if n := len(r.rec.Calls()); n != 1 {
		t.Fatalf("downstream calls: %d, want 1", n)
	}
	if n := len(r.gw.decisions("call", "mcp://testfs/slow")); n != 1 {
		t.Fatalf("intercepts in the ledger: %d, want 1", n)
	}
}

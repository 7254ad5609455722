package app

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// Concurrent intercepts are verified together (tokens.SigBatcher); a bad
// signature among them is denied alone, UNAUTHENTICATED, and every other
// request of the same moment is allowed.
func TestConcurrentBadSignatureDeniedAlone(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	const n = 48
	type call struct {
		body []byte
		hdr  map[string]string
		bad  bool
	}
	calls := make([]call, n)
	tokenOf := map[string]string{}
	for i := range 8 {
		agent := fmt.Sprintf("batch-%d", i)
		tk := h.rootToken(agent, nil)
		h.register(tk)
		tokenOf[agent] = tk.Claims.TokenID
	}
	for i := range calls {
		agent := fmt.Sprintf("batch-%d", i%8)
		m := h.interceptBody(agent, func(m map[string]any) { m["tokenId"] = tokenOf[agent] })
		body, _ := json.Marshal(m)
		ts := m["timestamp"].(int64)
		c := call{body: body, bad: i%7 == 3}
		if c.bad {
			other, _ := json.Marshal(map[string]any{"x": i})
			c.hdr = signed(agent, other, ts)
		} else {
			c.hdr = signed(agent, body, ts)
		}
		calls[i] = c
	}
	for round := range 3 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		status := make([]int, n)
		decisions := make([]string, n)
		for i, c := range calls {
			wg.Go(func() {
				<-start
				var d struct {
					Decision string  `json:"decision"`
					Code     *string `json:"code"`
				}
				status[i] = h.do("POST", "/v1/intercept", c.hdr, c.body, &d)
				decisions[i] = d.Decision + "/" + str(d.Code)
			})
		}
		close(start)
		wg.Wait()
		for i, c := range calls {
			want, wantSt := "allow/<nil>", 200
			if c.bad {
				want, wantSt = "deny/UNAUTHENTICATED", 401
			} else if round > 0 {
				want, wantSt = "deny/REPLAY_DETECTED", 401 // the same requestIds again
			}
			if status[i] != wantSt || decisions[i] != want {
				t.Errorf("round %d call %d (bad=%v): %d %s, want %d %s", round, i, c.bad, status[i], decisions[i], wantSt, want)
			}
		}
	}
}

// On the embedded store nobody but this gateway appends, so the
// checkpointer does not look for another replica's checkpoint before an
// entry-count one (on the embedded store that lookup reads back through
// every entry since the last checkpoint).
func TestEmbeddedCheckpointerSkipsLatest(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	if c := h.g.checkpointer(); c.Latest != nil {
		t.Fatal("the embedded gateway's checkpointer looks up the latest checkpoint")
	}
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func approvalsRunCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(io.Discard)
	rootCmd.SetArgs(args)
	flagOutput, flagAPIKey, approvalsReason, approvalsStanding, approvalsLastID, approvalsOnce = "text", "", "", 0, 0, false
	err := rootCmd.Execute()
	return out.String(), err
}

const pendingRecord = `{"approvalId":"01a2-ap","state":"pending","requestId":"r1","agentId":"ag","tokenId":"tk","resource":"ros:///arm/x","action":"publish","params":{},"tier":5,"requiredApprovals":2,"votes":[{"operatorId":"alice","vote":"approve","reason":"ok","at":1}],"createdAt":1,"expiresAt":2,"resolvedAt":null,"decision":null}`

func TestApprovalsCommands(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/approvals":
			io.WriteString(w, `{"approvals":[`+pendingRecord+`]}`)
		case strings.HasSuffix(r.URL.Path, "/deny") && strings.Contains(string(body), `"reason":""`):
			w.WriteHeader(403)
			io.WriteString(w, `{"error":{"code":"FORBIDDEN","message":"the operator is not in the token's quorum"}}`)
		default:
			io.WriteString(w, pendingRecord)
		}
	}))
	defer srv.Close()
	last := func() string { mu.Lock(); defer mu.Unlock(); return seen[len(seen)-1] }

	t.Run("list/text", func(t *testing.T) {
		out, err := approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "approvals", "list", "--state", "pending")
		if err != nil || !strings.Contains(out, "01a2-ap") || !strings.Contains(out, "1/2") {
			t.Fatalf("%v\n%s", err, out)
		}
		if last() != "GET /v1/approvals?limit=100&state=pending " {
			t.Fatalf("request %q", last())
		}
	})
	t.Run("show/text", func(t *testing.T) {
		out, err := approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "approvals", "show", "01a2-ap")
		if err != nil || !strings.Contains(out, "vote       alice approve") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("approve/reason-and-standing", func(t *testing.T) {
		_, err := approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "approvals", "approve", "01a2-ap", "--standing", "10m", "checked", "twice")
		if err != nil {
			t.Fatal(err)
		}
		if last() != `POST /v1/approvals/01a2-ap/approve {"reason":"checked twice","standingForMs":600000}` {
			t.Fatalf("request %q", last())
		}
	})
	t.Run("approve/standing-over-an-hour-exit-1", func(t *testing.T) {
		_, err := approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "approvals", "approve", "x", "--standing", "2h")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitLocal {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("deny/refused-exit-2", func(t *testing.T) {
		_, err := approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "approvals", "deny", "01a2-ap")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitServer || !strings.Contains(err.Error(), "FORBIDDEN") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no-key-exit-1", func(t *testing.T) {
		t.Setenv("SINT_API_KEY", "")
		_, err := approvalsRunCLI(t, "--url", srv.URL, "approvals", "list")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitLocal {
			t.Fatalf("err %v", err)
		}
	})
}

// TestApprovalsWatchResumes serves a stream that drops after two events and
// checks that watch reconnects with Last-Event-ID and prints every event once.
func TestApprovalsWatchResumes(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		ev := func(id int, name, data string) { fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", id, name, data) }
		io.WriteString(w, ": connected\n\n")
		if n == 1 {
			ev(7, "approval.requested", `{"approvalId":"a1","tier":3,"resource":"ros:///arm/x","action":"publish"}`)
			ev(9, "estop.tripped", `{"reason":"button"}`)
			return // dropped
		}
		ev(12, "approval.resolved", `{"approvalId":"a1","state":"cancelled","code":"APPROVAL_CANCELLED"}`)
	}))
	defer srv.Close()
	// --once stops at the end of the second connection; the first drop is resumed.
	out, err := approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "-o", "json", "approvals", "watch", "--once")
	if err == nil {
		t.Fatal("watch --once should end with the stream's end")
	}
	ids := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), lastIDs...) }
	if len(ids()) != 1 {
		t.Fatalf("with --once a single connection is made, got %v", ids())
	}
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, `"id":9`) {
		t.Fatalf("output:\n%s", out)
	}
	out, err = approvalsRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "approvals", "watch", "--once", "--last-event-id", "9")
	if got := ids(); err == nil || len(got) != 2 || got[1] != "9" || !strings.Contains(out, "12") || !strings.Contains(out, "cancelled") {
		t.Fatalf("resume: %v %v\n%s", err, got, out)
	}
}

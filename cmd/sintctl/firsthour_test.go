package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// realGateway starts the product's gateway (internal/app, shipped default
// policy, embedded store) on a loopback port, as make run does.
func realGateway(t *testing.T) (url, adminKey string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	res, _, err := app.InitDataDir(ctx, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(ctx, app.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() {
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})
	return "http://" + ln.Addr().String(), res.AdminAPIKey
}

// cli runs sintctl in-process and returns what it wrote to stdout (through
// cmd.OutOrStdout or os.Stdout) and stderr, and its error.
func cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	f, ferr := os.CreateTemp(t.TempDir(), "stdout")
	if ferr != nil {
		t.Fatal(ferr)
	}
	saved := os.Stdout
	os.Stdout = f
	var out, errb bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errb)
	rootCmd.SetArgs(args)
	flagOutput, flagAPIKey = "text", ""
	interceptFlags = struct {
		agentKey, tokenID, tokenFile, chainFile, resource, action, params, context string
		wait                                                                       bool
		waitTimeout                                                                time.Duration
	}{action: "publish"}
	approvalsReason, approvalsStanding = "", 0
	approvalsWaitFlags.agentKey, approvalsWaitFlags.timeout = "", 0
	err = rootCmd.Execute()
	os.Stdout = saved
	_ = f.Close()
	b, _ := os.ReadFile(f.Name())
	return out.String() + string(b), errb.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return exitLocal
	}
	return exitOK
}

var (
	eventIDLine = regexp.MustCompile(`ledger #(\d+) eventId ([0-9a-f-]{36}) hash [0-9a-f]{64}`)
	cliErrorFmt = regexp.MustCompile(`^[A-Z][A-Z0-9_]* \(HTTP \d{3}\): \S`)
)

// TestFirstHour follows the README walkthrough with sintctl against a real
// gateway: an escalation is approved through sintctl and the waiting agent
// gets its attestation (intercept --wait, approvals wait); intercept and
// ledger tail print the eventId, and ledger proof takes that eventId, the
// printed sequence number or the requestId; refusals all read
// "CODE (HTTP n): message".
func TestFirstHour(t *testing.T) {
	url, admin := realGateway(t)
	dir := t.TempDir()
	agentKey := filepath.Join(dir, "agent.key")
	k, err := keyfile.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := keyfile.Save(agentKey, k); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	op := &client.Operator{BaseURL: url, APIKey: admin, HTTP: &http.Client{Timeout: 10 * time.Second}}
	if err := op.Do(ctx, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("fh-root")}, nil); err != nil {
		t.Fatal(err)
	}
	claims := tokentest.Root("fh-root", "fh-unused", 1, time.Now().UnixMilli())
	claims.Subject = k.AgentID()
	claims.Actions = []string{"publish", "subscribe"}
	claims.Constraints.MaxVelocityMps = ptr(0.5)
	tok := tokentest.Sign("fh-root", claims)
	if err := op.Do(ctx, "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); err != nil {
		t.Fatal(err)
	}
	base := []string{"--url", url, "--api-key", admin}
	intercept := func(extra ...string) []string {
		return append(append(append([]string{}, base...), "intercept", "--agent-key", agentKey, "--token-id", tok.Claims.TokenID), extra...)
	}

	var allowSeq, allowEvent, allowRequest string
	t.Run("intercept/allow-prints-the-eventId", func(t *testing.T) {
		out, _, err := cli(t, intercept("--resource", "ros:///scan", "--action", "subscribe")...)
		m := eventIDLine.FindStringSubmatch(out)
		if err != nil || m == nil || !strings.HasPrefix(out, "allow (HTTP 200)") {
			t.Fatalf("%v\n%s", err, out)
		}
		allowSeq, allowEvent = m[1], m[2]
		allowRequest = regexp.MustCompile(`request ([0-9a-f-]{36})`).FindStringSubmatch(out)[1]
	})
	t.Run("intercept/deny-error-format", func(t *testing.T) {
		_, _, err := cli(t, intercept("--resource", "ros:///cmd_vel", "--params", `{"linear":{"x":0.9,"y":0,"z":0}}`)...)
		if exitCode(err) != exitDeny || !cliErrorFmt.MatchString(err.Error()) || !strings.HasPrefix(err.Error(), "PHYSICS_CONSTRAINT (HTTP 403): ") {
			t.Fatalf("exit %d: %v", exitCode(err), err)
		}
	})
	t.Run("intercept/escalate-without-wait-says-how-to-go-on", func(t *testing.T) {
		out, _, err := cli(t, intercept("--resource", "ros:///cmd_vel", "--params", `{"linear":{"x":0.3,"y":0,"z":0}}`)...)
		if exitCode(err) != exitEscalate || !strings.Contains(err.Error(), "sintctl approvals approve") || !strings.Contains(err.Error(), "approvals wait") {
			t.Fatalf("exit %d: %v\n%s", exitCode(err), err, out)
		}
		id := regexp.MustCompile(`approval (\S+)`).FindStringSubmatch(out)[1]
		// The operator approves through sintctl; the agent then collects
		// the decision and its attestation with approvals wait.
		if out, _, err := cli(t, append(base, "approvals", "approve", id)...); err != nil || !strings.Contains(out, "approved") {
			t.Fatalf("approve: %v\n%s", err, out)
		}
		out, _, err = cli(t, append(base, "approvals", "wait", id, "--agent-key", agentKey)...)
		if err != nil || !strings.HasPrefix(out, "allow (HTTP 200)") || !strings.Contains(out, "attestation ey") || eventIDLine.FindString(out) == "" {
			t.Fatalf("approvals wait: %v\n%s", err, out)
		}
	})
	t.Run("intercept/wait-follows-the-approval-to-the-attestation", func(t *testing.T) {
		approved := make(chan error, 1)
		go func() { approved <- approveNextPending(ctx, op) }()
		out, errOut, err := cli(t, intercept("--resource", "ros:///cmd_vel", "--params", `{"linear":{"x":0.2,"y":0,"z":0}}`, "--wait", "--wait-timeout", "60s")...)
		if aerr := <-approved; aerr != nil {
			t.Fatal(aerr)
		}
		if err != nil || !strings.Contains(out, "escalate (HTTP 202)") || !strings.Contains(errOut, "waiting for approval") ||
			!strings.Contains(out, "allow (HTTP 200)") || !strings.Contains(out, "attestation ey") {
			t.Fatalf("exit %d %v\nstdout:\n%s\nstderr:\n%s", exitCode(err), err, out, errOut)
		}
	})
	t.Run("ledger/tail-prints-eventIds", func(t *testing.T) {
		if allowEvent == "" {
			t.Fatal("no eventId from the allow")
		}
		out, _, err := cli(t, append(base, "ledger", "tail", "-n", "50")...)
		if err != nil || !strings.Contains(out, "#"+allowSeq) || !strings.Contains(out, allowEvent) {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	for name, arg := range map[string]*string{"eventId": &allowEvent, "sequence": &allowSeq, "requestId": &allowRequest} {
		t.Run("ledger/proof-by-"+name, func(t *testing.T) {
			a := *arg
			if name == "sequence" {
				a = "#" + a
			}
			out, _, err := cli(t, append(base, "ledger", "proof", a)...)
			if err != nil || !strings.HasPrefix(out, "verified: entry #"+allowSeq+" ") {
				t.Fatalf("proof %s: %v\n%s", a, err, out)
			}
		})
	}
	t.Run("ledger/proof-unknown-error-format", func(t *testing.T) {
		_, _, err := cli(t, append(base, "ledger", "proof", "01900000-0000-7000-8000-00000000dead")...)
		if exitCode(err) != exitServer || !strings.HasPrefix(err.Error(), "NOT_FOUND (HTTP 404): ") {
			t.Fatalf("exit %d: %v", exitCode(err), err)
		}
	})
	t.Run("errors/one-format", func(t *testing.T) {
		for _, args := range [][]string{
			{"--url", url, "--api-key", "sk_no_such", "estop", "status"},
			{"--url", url, "--api-key", "sk_no_such", "token", "list"},
			{"--url", url, "--api-key", "sk_no_such", "approvals", "watch", "--once"},
			{"--url", url, "--api-key", admin, "token", "get", "01900000-0000-7000-8000-00000000dead"},
			{"--url", url, "--api-key", admin, "ledger", "get", "#999999"},
		} {
			_, _, err := cli(t, args...)
			if exitCode(err) != exitServer || !cliErrorFmt.MatchString(err.Error()) {
				t.Errorf("sintctl %s: exit %d, error %q, want CODE (HTTP n): message", strings.Join(args[4:], " "), exitCode(err), err)
			}
		}
	})
}

// approveNextPending approves the first pending approval to appear, as an
// operator watching the list would.
func approveNextPending(ctx context.Context, op *client.Operator) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var list struct {
			Approvals []struct {
				ApprovalID string `json:"approvalId"`
			} `json:"approvals"`
		}
		if err := op.Do(ctx, "GET", "/v1/approvals?state=pending", nil, &list); err != nil {
			return err
		}
		if len(list.Approvals) > 0 {
			// The store lists an approval as soon as it has it, possibly
			// before its escalation's ledger batch commits: the gateway
			// answers 409 "not in the ledger yet; retry" until then.
			err := op.Do(ctx, "POST", "/v1/approvals/"+list.Approvals[0].ApprovalID+"/approve", map[string]any{}, nil)
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
				return err
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no pending approval appeared")
}

func ptr[T any](v T) *T { return &v }

package mcpbridge_test

import (
	"github.com/sintgate/sintgate/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
)

// hostile returns the transport of testdata/peer/hostile.mjs in mode: a
// downstream MCP server written with the official TypeScript SDK, installed
// by `scripts/services.sh up mcppeer` (SINT_TEST_MCP_PEER). Missing, the
// test is skipped, except under CI=true, where it fails.
func hostile(t *testing.T, mode string) mcp.Transport {
	t.Helper()
	node, dir := peer(t)
	if node == "" {
		return nil // skipped (fails under CI=true)
	}
	cmd := exec.Command(node, filepath.Join(dir, "hostile.mjs"), mode)
	cmd.Stderr = os.Stderr
	return &mcp.CommandTransport{Command: cmd}
}

// peer returns node and the directory of the TypeScript SDK peer scripts
// (SINT_TEST_MCP_PEER, default testdata/peer); node is "" when the test is
// skipped (it fails under CI=true).
func peer(t *testing.T) (node, dir string) {
	t.Helper()
	dir = os.Getenv("SINT_TEST_MCP_PEER")
	if dir == "" {
		dir = "testdata/peer"
	}
	node = testenv.Program(t, "node", "apt-get install nodejs")
	if node == "" || !testenv.File(t, filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk"), "scripts/services.sh up mcppeer") {
		return "", ""
	}
	return node, dir
}

// TestHostilePeersFromNPM runs the bridge in front of hostile MCP servers
// written with the official TypeScript SDK.
func TestHostilePeersFromNPM(t *testing.T) {
	t.Run("poisoned-description-not-offered", func(t *testing.T) {
		r := newRig(t, rigOpts{downstream: hostile(t, "poison")})
		tools := toolNames(t, r.agent)
		if _, ok := tools["calibrate"]; ok {
			t.Error("poisoned calibrate is offered")
		}
		if _, ok := tools["readNote"]; !ok {
			t.Error("clean readNote is not offered")
		}
		if fl := r.bridge.Flagged(); len(fl) != 1 || fl[0].Tool != "calibrate" || fl[0].Finding.PatternID == "" {
			t.Fatalf("flagged = %+v", fl)
		}
		r.gw.waitDecisions(mcpbridge.ActionToolFlagged, "mcp://testfs/calibrate")
	})

	t.Run("rug-pull-refused-until-approved", func(t *testing.T) {
		r := newRig(t, rigOpts{downstream: hostile(t, "rugpull")})
		if got := contentText(r.call("readFile", map[string]any{"path": "/a"})); got != "contents v1" {
			t.Fatalf("first call: %q", got)
		}
		// The server changes readFile's description and notifies.
		waitChanged(t, r.bridge, []string{"readFile"})
		o := outcome(t, r.call("readFile", map[string]any{"path": "/b"}))
		if o.Code != string(mcpbridge.CodeToolChanged) {
			t.Fatalf("call after the change: %+v", o)
		}
		id := r.gw.pendingApproval("mcp://testfs/readFile")
		r.gw.vote(id, "approve")
		waitChanged(t, r.bridge, []string{})
		if d := toolNames(t, r.agent)["readFile"].Description; d != "Read a file, better (v2)." {
			t.Errorf("approved tool offered as %q", d)
		}
		if got := contentText(r.call("readFile", map[string]any{"path": "/c"})); got != "contents v2" {
			t.Fatalf("call after approval: %q", got)
		}
	})

	t.Run("injected-result-redacted", func(t *testing.T) {
		r := newRig(t, rigOpts{downstream: hostile(t, "steer")})
		res := r.call("readNote", map[string]any{})
		text := contentText(res)
		if res.IsError || strings.Contains(strings.ToLower(text), "ignore all previous") || !strings.Contains(text, "[sintgate: redacted") {
			t.Fatalf("result: isError=%v %q", res.IsError, text)
		}
		st, _ := res.StructuredContent.(map[string]any)
		if note, _ := st["note"].(string); !strings.HasPrefix(note, "[sintgate: redacted") || st["status"] != "ok" {
			t.Fatalf("structured content: %v", res.StructuredContent)
		}
		r.gw.waitDecisions(mcpbridge.ActionResultFlagged, "mcp://testfs/readNote")
		if !slices.Contains(r.bridge.Tools(), "readNote") {
			t.Error("readNote not offered")
		}
	})
}

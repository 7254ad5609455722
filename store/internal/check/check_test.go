package check

import (
	"errors"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/store"
)

func TestID(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		ok       bool
	}{
		{"ok/uuid", "0190f5b2-8d3e-7c4a-9b1e-2f3a4b5c6d7e", true},
		{"ok/max-length", strings.Repeat("a", store.MaxIDBytes), true},
		{"ok/non-ascii", "caf\u00e9", true},
		{"error/empty", "", false},
		{"error/too-long", strings.Repeat("a", store.MaxIDBytes+1), false},
		{"error/invalid-utf8", "a\xc3", false},
		{"error/nul", "a\x00", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ID("token id", tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ID(%q) = %v", tc.id, err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("ID(%q) = %v, want ErrInvalid", tc.id, err)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"ok/token-without-parent", Token(store.TokenRecord{TokenID: "t", Raw: "a.b.c"}), true},
		{"error/token-bad-parent", Token(store.TokenRecord{TokenID: "t", ParentTokenID: "\x00"}), false},
		{"error/token-raw-nul", Token(store.TokenRecord{TokenID: "t", Raw: "a\x00"}), false},
		{"ok/approval", Approval(store.Approval{ApprovalID: "a", AgentID: "g", RequestID: "r"}), true},
		{"error/approval-no-agent", Approval(store.Approval{ApprovalID: "a", RequestID: "r"}), false},
		{"error/approval-vote", Approval(store.Approval{ApprovalID: "a", AgentID: "g", RequestID: "r",
			Votes: []store.ApprovalVote{{OperatorID: "\xff"}}}), false},
		{"ok/agent", Agent(store.Agent{AgentID: "g", Labels: map[string]string{"k": "v"}}), true},
		{"error/agent-label-key", Agent(store.Agent{AgentID: "g", Labels: map[string]string{"\x00": "v"}}), false},
		{"ok/estop", Estop(store.EstopState{State: "armed", Epoch: 1<<63 - 1}), true},
		{"error/estop-epoch", Estop(store.EstopState{State: "armed", Epoch: 1 << 63}), false},
		{"error/estop-source", Estop(store.EstopState{Sources: []store.EstopSource{{Kind: "\xff"}}}), false},
		{"ok/root", Root(store.Root{PublicKey: "ab"}), true},
		{"error/root-empty", Root(store.Root{}), false},
		{"ok/apikey", APIKey(store.APIKey{ID: "k", Scopes: []string{"read"}}), true},
		{"error/apikey-scope", APIKey(store.APIKey{ID: "k", Scopes: []string{"\x00"}}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.err == nil) != tc.ok || (tc.err != nil && !errors.Is(tc.err, ErrInvalid)) {
				t.Fatalf("got %v", tc.err)
			}
		})
	}
}

func FuzzID(f *testing.F) {
	for _, s := range []string{"", "t1", "a\xc3", "a\x00", strings.Repeat("a", store.MaxIDBytes+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ID("id", id)
		// An independent oracle: ToValidUTF8 drops exactly the invalid bytes.
		valid := id != "" && len(id) <= store.MaxIDBytes && strings.IndexByte(id, 0) < 0 &&
			strings.ToValidUTF8(id, "") == id
		if (err == nil) != valid {
			t.Fatalf("ID(%q) = %v, want valid=%v", id, err, valid)
		}
	})
}

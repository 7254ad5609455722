package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sintgate/sintgate/internal/keyfile"
)

func genKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name+".key")
	out, code := tokRunCLI(t, "keys", "gen", "--out", path, "-o", "json")
	if code != exitOK {
		t.Fatalf("keys gen exit %d: %s", code, out)
	}
	var r struct{ AgentID string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.AgentID) != 64 {
		t.Fatalf("keys gen output %q", out)
	}
	return r.AgentID
}

func TestKeysGen(t *testing.T) {
	dir := t.TempDir()
	id := genKey(t, dir, "a")
	k, err := keyfile.Load(filepath.Join(dir, "a.key"))
	if err != nil || k.AgentID() != id {
		t.Fatalf("key file does not hold the printed agentId: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, "a.key"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %#o", st.Mode().Perm())
	}
	t.Run("refuses-overwrite", func(t *testing.T) {
		if _, code := tokRunCLI(t, "keys", "gen", "--out", filepath.Join(dir, "a.key")); code != exitLocal {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("needs-out", func(t *testing.T) {
		if _, code := tokRunCLI(t, "keys", "gen"); code != exitLocal {
			t.Fatalf("exit %d", code)
		}
	})
}

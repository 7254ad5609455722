package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/internal/testenv"
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

// TestKeysGenWarnsInsideUnignoringGitTree guards issue 19 §5: keys gen wrote
// private keys into the repository root unignored and silently. It warns on
// stderr when the file lies in a git work tree that does not ignore it, or
// when git cannot tell (not installed).
func TestKeysGenWarnsInsideUnignoringGitTree(t *testing.T) {
	testenv.Program(t, "git", "apt-get install git")
	gitTree := func(t *testing.T, ignore string) string {
		dir := t.TempDir()
		if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v %s", err, out)
		}
		if ignore != "" {
			if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(ignore), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name   string
		dir    func(t *testing.T) string
		noGit  bool
		warned bool
	}{
		{"outside-git", func(t *testing.T) string { return t.TempDir() }, false, false},
		{"git-not-ignoring", func(t *testing.T) string { return gitTree(t, "") }, false, true},
		{"git-ignoring-key", func(t *testing.T) string { return gitTree(t, "*.key\n") }, false, false},
		{"git-tree-subdir-not-ignoring", func(t *testing.T) string {
			d := filepath.Join(gitTree(t, "*.log\n"), "keys")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			return d
		}, false, true},
		{"git-missing-warns", func(t *testing.T) string { return gitTree(t, "*.key\n") }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			if tc.noGit {
				t.Setenv("PATH", t.TempDir())
			}
			var errOut bytes.Buffer
			t.Cleanup(func() { rootCmd.SetErr(nil) })
			path := filepath.Join(dir, "agent.key")
			if _, code := tokRunCLIErr(t, &errOut, "keys", "gen", "--out", path); code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file %v mode %v", err, st)
			}
			got := strings.Contains(errOut.String(), "warning: "+path+" holds a private key")
			if got != tc.warned {
				t.Fatalf("warned=%v, want %v; stderr %q", got, tc.warned, errOut.String())
			}
		})
	}
}

// TestRepoIgnoresWalkthroughKeys guards issue 19 §5: the README walkthrough
// writes root.key, agent.key and agent.jws into the repository root, which
// the repository's .gitignore must ignore. It reads the patterns itself (only
// the forms the file uses: a base-name glob, or /glob anchored at the root),
// so a clone without git or a source tarball checks the same thing.
func TestRepoIgnoresWalkthroughKeys(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignored := func(name string) bool {
		for _, p := range strings.Split(string(b), "\n") {
			p = strings.TrimSpace(p)
			if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
				continue
			}
			if ok, _ := filepath.Match(strings.TrimPrefix(p, "/"), name); ok {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"root.key", "agent.key", "agent.jws", "operator.key"} {
		if !ignored(name) {
			t.Errorf(".gitignore does not ignore %s at the repository root", name)
		}
	}
}

package bridges

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLoadAPIKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want, wantErr string
	}{
		{"ok/0600-newline", write("a", "sk_id_secret\n", 0o600), "sk_id_secret", ""},
		{"ok/0400", write("b", "sk_id_secret", 0o400), "sk_id_secret", ""},
		{"bad/group-readable", write("c", "sk_id_secret\n", 0o640), "", "chmod 600"},
		{"bad/world-readable", write("d", "sk_id_secret\n", 0o604), "", "chmod 600"},
		{"bad/empty", write("e", "\n", 0o600), "", "empty"},
		{"bad/two-lines", write("f", "sk_a_b\nsk_c_d\n", 0o600), "", "one line"},
		{"bad/not-a-key", write("g", "hunter2\n", 0o600), "", "does not hold"},
		{"bad/too-large", write("h", strings.Repeat("k", MaxAPIKeyFile+1), 0o600), "", "larger"},
		{"bad/directory", dir, "", ""},
		{"bad/missing", filepath.Join(dir, "none"), "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadAPIKeyFile(tc.path)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("%q %v, want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRefuseInheritedAPIKey(t *testing.T) {
	t.Setenv(APIKeyEnv, "sk_admin_x")
	if err := RefuseInheritedAPIKey(true); err != nil {
		t.Fatalf("with a key of its own: %v", err)
	}
	if _, set := os.LookupEnv(APIKeyEnv); set {
		t.Fatal("SINT_API_KEY still in the environment")
	}
	t.Setenv(APIKeyEnv, "sk_admin_x")
	if err := RefuseInheritedAPIKey(false); err != ErrInheritedAPIKey {
		t.Fatalf("without a key of its own: %v", err)
	}
	if err := RefuseInheritedAPIKey(false); err != nil {
		t.Fatalf("not set: %v", err)
	}
}

// TestReadSecretFile: the one reader of bridge secrets (API keys, bearer
// tokens, the OPC UA front key) refuses what could leak or hang: other
// readers, a FIFO (never read), an oversized file, blanks, an empty file.
func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
		ok               bool
	}{
		{"ok", write("ok", "secret-value\n", 0o600), "secret-value", true},
		{"group-readable", write("grp", "secret-value\n", 0o640), "", false},
		{"fifo", fifo, "", false},
		{"too-large", write("big", strings.Repeat("x", 100), 0o600), "", false},
		{"two-words", write("two", "a b\n", 0o600), "", false},
		{"empty", write("empty", "\n", 0o600), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSecretFile(tc.path, "test file", 64)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ReadSecretFile = %q, %v; want %q ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

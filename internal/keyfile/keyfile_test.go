package keyfile_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/internal/keyfile"
)

func fixed(t *testing.T) *keyfile.Key {
	t.Helper()
	k, err := keyfile.GenerateFrom(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.key")
	k := fixed(t)
	if err := keyfile.Save(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %#o", st.Mode().Perm())
	}
	got, err := keyfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Private, k.Private) || got.AgentID() != k.AgentID() || len(got.AgentID()) != 64 {
		t.Fatal("round trip changed the key")
	}
	sig := ed25519.Sign(got.Private, []byte("m"))
	if !ed25519.Verify(got.Public, []byte("m"), sig) {
		t.Fatal("loaded key does not sign")
	}
	t.Run("refuses-overwrite", func(t *testing.T) {
		err := keyfile.Save(path, fixed(t))
		if !errors.Is(err, os.ErrExist) {
			t.Fatalf("want ErrExist, got %v", err)
		}
		again, _ := keyfile.Load(path)
		if again.AgentID() != k.AgentID() {
			t.Fatal("file changed")
		}
	})
	t.Run("refuses-open-mode", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o600)
		if _, err := keyfile.Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("want a mode error, got %v", err)
		}
	})
}

func TestUnmarshal(t *testing.T) {
	k := fixed(t)
	good, err := keyfile.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keyfile.Marshal(func() *keyfile.Key {
		o, _ := keyfile.GenerateFrom(bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
		return o
	}())
	otherPub := string(other[strings.Index(string(other), `"publicKey":"`)+13:][:64])
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"ok", string(good), true},
		{"unknown-field", strings.Replace(string(good), "{", `{"x":1,`, 1), false},
		{"short-private", `{"publicKey":"` + k.AgentID() + `","privateKey":"00"}`, false},
		{"bad-hex", `{"publicKey":"zz","privateKey":"zz"}`, false},
		{"mismatched-public", strings.Replace(string(good), k.AgentID(), otherPub, 1), false},
		{"trailing", string(good) + "{}", false},
		{"not-json", "hello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keyfile.Unmarshal([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("Unmarshal: %v", err)
			}
		})
	}
}

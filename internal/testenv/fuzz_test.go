package testenv

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzDBName checks that any test name yields a valid, bounded database
// identifier.
func FuzzDBName(f *testing.F) {
	for _, s := range []string{"TestStore", "TestStore/append/ok-case", strings.Repeat("TestVeryLongName/", 10), "TestÜberß/日本", "", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := dbName(name)
		if len(got) > 63 || !strings.HasPrefix(got, "t_") {
			t.Fatalf("dbName(%q) = %q", name, got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Fatalf("dbName(%q) = %q has %q", name, got, r)
			}
		}
	})
}

// FuzzWithDatabase checks that a derived URL keeps everything of the base
// but the database, or is refused.
func FuzzWithDatabase(f *testing.F) {
	for _, s := range []string{
		"postgres://sint@127.0.0.1:55432/sint_test?sslmode=disable",
		"postgresql://127.0.0.1:5432",
		"host=127.0.0.1 port=5432",
		"postgres://u:p%40ss@[::1]:5432/db#frag",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, base string) {
		got, err := withDatabase(base, "t_fuzz_0123")
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("withDatabase(%q) = %q does not parse: %v", base, got, err)
		}
		b, _ := url.Parse(base)
		if u.Path != "/t_fuzz_0123" || u.Host != b.Host || u.RawQuery != b.RawQuery || u.User.String() != b.User.String() {
			t.Fatalf("withDatabase(%q) = %q changed more than the database", base, got)
		}
	})
}

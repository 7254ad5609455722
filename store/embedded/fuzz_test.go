package embedded

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// FuzzTokenRoundTrip registers arbitrary tokens in one store and checks them
// against a model: invalid records are refused with a plain error, the same
// id with other bytes is ErrExists, and a stored token comes back byte for
// byte and is found under its parent.
func FuzzTokenRoundTrip(f *testing.F) {
	for _, seed := range [][3]string{
		{"t1", "", "eyJhbGciOiJFZERTQSJ9.eyJ0b2tlbklkIjoidDEifQ.c2ln"},
		{"t1", "", "eyJhbGciOiJFZERTQSJ9.other"},
		{"t2", "t1", "eyJ4IjoiYSJ9.eyJ5Ijoi4pyTIn0.AAAA_-__--.trailing "},
		{"t3", "t1", "a\xffb"},
		{"t4", "", "a\x00b"},
		{"", "", "x"},
		{"k-b", "R", "\u00e9\u2713"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	s, err := Open(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	model := map[string]string{}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	f.Fuzz(func(t *testing.T, id, parent, raw string) {
		ctx := t.Context()
		r := store.TokenRecord{TokenID: id, Raw: raw, Issuer: "i", Subject: "s", ParentTokenID: parent, RegisteredAt: at}
		err := s.PutToken(ctx, r)
		old, seen := model[id]
		switch {
		case check.Token(r) != nil:
			if err == nil || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("invalid token %q: PutToken = %v, want a plain error", r, err)
			}
			return
		case seen && old != raw:
			if !errors.Is(err, store.ErrExists) {
				t.Fatalf("id %q with other bytes: PutToken = %v, want ErrExists", id, err)
			}
			return
		case err != nil:
			t.Fatalf("PutToken(%q): %v", r, err)
		}
		model[id] = raw
		got, err := s.GetToken(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Raw != raw || got.TokenID != id {
			t.Fatalf("GetToken(%q) = %q, want %q", id, got.Raw, raw)
		}
		if parent == "" {
			return
		}
		children, err := s.ListTokens(ctx, store.TokenFilter{ParentTokenID: parent})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range children {
			if c.TokenID == id {
				return
			}
		}
		if !seen { // a token registered before keeps its first parent
			t.Fatalf("%q not listed under its parent %q", id, parent)
		}
	})
}

// FuzzKeyEncoding checks the composite-key helpers: a length-prefixed id
// cannot be the prefix of another id's key, and prefixSuccessor bounds
// exactly the keys that start with the prefix.
func FuzzKeyEncoding(f *testing.F) {
	f.Add("ka", "m1", "k", "am1")
	f.Add("", "\x00", "\x00", "")
	f.Add("\xff\xff", "x", "\xff", "\xffx")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		k1 := append(lp(a), b...)
		if bytes.HasPrefix(k1, lp(c)) && a != c {
			t.Fatalf("key of (%q, %q) starts with the prefix of %q", a, b, c)
		}
		if bytes.Equal(k1, append(lp(c), d...)) != (a == c && b == d) {
			t.Fatalf("keys of (%q,%q) and (%q,%q) collide", a, b, c, d)
		}
		p := []byte(a)
		succ := prefixSuccessor(p)
		k := []byte(a + b)
		if succ != nil && bytes.Compare(k, succ) >= 0 {
			t.Fatalf("key %q with prefix %q is not below successor %q", k, p, succ)
		}
		other := []byte(c)
		if succ != nil && bytes.Compare(other, succ) < 0 && bytes.Compare(other, p) >= 0 && !bytes.HasPrefix(other, p) {
			t.Fatalf("key %q without prefix %q lies between it and its successor %q", other, p, succ)
		}
	})
}

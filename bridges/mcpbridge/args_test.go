package mcpbridge_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/gateway/attest"
)

var argsCases = []struct {
	name string
	in   string
	want string // "" = error
}{
	{"ok/absent", ``, `{}`},
	{"ok/null", ` null `, `{}`},
	{"ok/empty-object", `{}`, `{}`},
	{"ok/sorted-and-compacted", `{ "b": 1, "a": [true, null, "x"] }`, `{"a":[true,null,"x"],"b":1}`},
	{"ok/numbers-canonical", `{"n":1.50,"e":1e3,"z":-0}`, `{"e":1000,"n":1.5,"z":0}`},
	{"ok/unicode-escapes-normalised", `{"s":"\u00e9\u2713"}`, `{"s":"é✓"}`},
	{"bad/duplicate-member", `{"path":"/a","path":"/b"}`, ""},
	{"bad/duplicate-nested", `{"x":{"k":1,"k":2}}`, ""},
	{"bad/array", `[1,2]`, ""},
	{"bad/string", `"hello"`, ""},
	{"bad/number", `42`, ""},
	{"bad/truncated", `{"a":`, ""},
	{"bad/trailing-garbage", `{} {}`, ""},
	{"bad/invalid-utf8", "{\"a\":\"\xff\"}", ""},
	{"bad/too-deep", `{"a":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}`, ""},
	{"ok/deep-enough", `{"a":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}`, `{"a":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}`},
	{"bad/too-large", `{"a":"` + strings.Repeat("x", mcpbridge.MaxArgsBytes) + `"}`, ""},
}

func TestCanonicalArgs(t *testing.T) {
	for _, tc := range argsCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mcpbridge.CanonicalArgs([]byte(tc.in))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted: %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

const maxFuzzInput = 4096

func FuzzCanonicalArgs(f *testing.F) {
	for _, tc := range argsCases {
		if len(tc.in) <= maxFuzzInput {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			// The size limit is covered by TestCanonicalArgs; inputs this
			// large make the fuzzer's minimisation stall.
			return
		}
		c, err := mcpbridge.CanonicalArgs(in)
		if err != nil {
			return
		}
		// An object, valid JSON, within the limits.
		if len(c) == 0 || c[0] != '{' || !json.Valid(c) || len(c) > mcpbridge.MaxArgsBytes {
			t.Fatalf("bad output %q for %q", c, in)
		}
		// Canonical already: a fixed point.
		c2, err := mcpbridge.CanonicalArgs(c)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point: %q → %q (%v)", c, c2, err)
		}
		// The gateway's params hash of the input is the hash of the bytes
		// forwarded: what was judged is what is sent.
		ph, err := attest.ParamsHash(in)
		if err != nil {
			t.Fatalf("gateway rejects what the bridge accepted: %q: %v", in, err)
		}
		s := sha256.Sum256(c)
		if hex.EncodeToString(s[:]) != ph {
			t.Fatalf("hash of forwarded bytes %q differs from ParamsHash(%q)", c, in)
		}
		// The same value as the input for a standard decoder.
		if tr := bytes.Trim(in, " \t\n\r"); len(tr) == 0 || string(tr) == "null" {
			if string(c) != "{}" {
				t.Fatalf("absent arguments became %q", c)
			}
			return
		}
		var a, b any
		if json.Unmarshal(in, &a) != nil || json.Unmarshal(c, &b) != nil {
			t.Fatalf("undecodable: %q / %q", in, c)
		}
	})
}

var nameCases = []struct {
	server, tool string
	ok           bool
}{
	{"filesystem", "writeFile", true},
	{"fs-1.local", "read_file.v2", true},
	{"Robot", "A-b_c.d", true},
	{"", "x", false},
	{"fs", "", false},
	{"fs", ".", false},
	{"fs", "..", false},
	{"..", "x", false},
	{"fs", "a/b", false},
	{"fs", "a/../b", false},
	{"a/b", "x", false},
	{"fs", "a%2fb", false},
	{"fs", "a b", false},
	{"fs", "é", false},
	{"fs", "*", false},
	{"fs", strings.Repeat("a", 129), false},
	{strings.Repeat("a", 65), "x", false},
}

func TestToolResource(t *testing.T) {
	for _, tc := range nameCases {
		t.Run(tc.server+"/"+tc.tool, func(t *testing.T) {
			r, err := mcpbridge.ToolResource(tc.server, tc.tool)
			if (err == nil) != tc.ok {
				t.Fatalf("ToolResource(%q, %q) = %q, %v; want ok=%v", tc.server, tc.tool, r, err, tc.ok)
			}
			if tc.ok && r != "mcp://"+tc.server+"/"+tc.tool {
				t.Errorf("got %q", r)
			}
		})
	}
}

func FuzzToolResource(f *testing.F) {
	for _, tc := range nameCases {
		f.Add(tc.server, tc.tool)
	}
	f.Fuzz(func(t *testing.T, server, tool string) {
		r, err := mcpbridge.ToolResource(server, tool)
		if err != nil {
			return
		}
		// Normal form (PROTOCOL.md §2): exactly two segments after the
		// scheme, none empty or a dot segment, no percent-encoding, no
		// wildcard, within the 512-byte limit.
		rest, ok := strings.CutPrefix(r, "mcp://")
		if !ok || len(r) > 512 || strings.ContainsAny(rest, "%*?#") {
			t.Fatalf("bad resource %q", r)
		}
		segs := strings.Split(rest, "/")
		if len(segs) != 2 || segs[0] != server || segs[1] != tool {
			t.Fatalf("resource %q does not split into %q, %q", r, server, tool)
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." {
				t.Fatalf("bad segment in %q", r)
			}
		}
	})
}

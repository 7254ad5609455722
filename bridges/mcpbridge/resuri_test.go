package mcpbridge_test

import (
	"strings"
	"testing"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/tokens"
)

func TestValidResourceURI(t *testing.T) {
	for _, tc := range []struct {
		name, uri string
		ok        bool
	}{
		{"file", "file:///home/robot/notes.txt", true},
		{"authority", "test://static/resource/1", true},
		{"authority-only", "test://static", true},
		{"root", "file:///", true},
		{"query", "db://main/table?row=1&col=..", true},
		{"opaque", "urn:robot:arm:1", true},
		{"percent-space", "file:///a%20b", true},
		{"empty", "", false},
		{"no-scheme", "/etc/passwd", false},
		{"uppercase-scheme", "File:///etc/passwd", false},
		{"dot-dot", "file:///pub/../etc/passwd", false},
		{"dot", "file:///pub/./x", false},
		{"trailing-dot-dot", "file:///pub/..", false},
		{"encoded-dot", "file:///pub/%2E%2E/x", false},
		{"encoded-slash", "file:///pub%2F..%2Fx", false},
		{"encoded-backslash", "file:///pub%5C..%5Cx", false},
		{"encoded-control", "file:///a%00", false},
		{"lowercase-hex", "file:///a%2f", false},
		{"bad-percent", "file:///a%G0", false},
		{"empty-segment", "file:///pub//x", false},
		{"trailing-slash", "file:///pub/", false},
		{"file-localhost", "file://localhost/etc/passwd", false},
		{"uppercase-host", "test://Static/x", false},
		{"userinfo", "test://a@static/x", false},
		{"fragment", "test://static/x#y", false},
		{"space", "file:///a b", false},
		{"non-ascii", "file:///ä", false},
		{"backslash", `file:///a\..\b`, false},
		{"nothing-after-slashes", "test://", false},
		{"dot-authority", "test://./x", false},
		{"dot-dot-authority", "test://..", false},
		{"too-long", "file:///" + strings.Repeat("a", mcpbridge.MaxResourceURILen), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mcpbridge.ValidResourceURI(tc.uri)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidResourceURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
			}
		})
	}
}

func TestResourceURIRoundTrip(t *testing.T) {
	for _, tc := range []struct{ agent, uri, resource string }{
		{"mcp://fs/resource/file%3A%2F%2F%2Fa%2Fb.txt", "file:///a/b.txt", "mcp://fs/resource/file%3A%2F%2F%2Fa%2Fb.txt"},
		{"mcp://fs/resource/file%3a%2f%2f%2fa/b.txt", "file:///a/b.txt", "mcp://fs/resource/file%3A%2F%2F%2Fa%2Fb.txt"},
		{"mcp://fs/resource/file:///a/b.txt", "file:///a/b.txt", "mcp://fs/resource/file%3A%2F%2F%2Fa%2Fb.txt"},
		{"mcp://fs/resource/file%3A%2F%2F%2Fa%2520b", "file:///a%20b", "mcp://fs/resource/file%3A%2F%2F%2Fa%2520b"},
	} {
		server, uri, resource, err := mcpbridge.ParseResourceURI(tc.agent)
		if err != nil || server != "fs" || uri != tc.uri || resource != tc.resource {
			t.Errorf("ParseResourceURI(%q) = %q %q %q %v", tc.agent, server, uri, resource, err)
		}
	}
	for _, bad := range []string{"mcp://fs/resource/", "mcp://fs/resource/%", "mcp://fs/tool", "mcp://f_s!/resource/a%3Ab", "MCP://fs/resource/a%3Ab"} {
		if _, _, _, err := mcpbridge.ParseResourceURI(bad); err == nil {
			t.Errorf("ParseResourceURI(%q) accepted", bad)
		}
	}
}

func TestTemplatePattern(t *testing.T) {
	at, pat, err := mcpbridge.TemplatePattern("ev", "demo://resource/dynamic/text/{resourceId}")
	if err != nil || at != "mcp://ev/resource/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F{resourceId}" ||
		pat != "mcp://ev/resource/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F*" {
		t.Fatalf("TemplatePattern = %q %q %v", at, pat, err)
	}
	for _, bad := range []string{"a://{x", "a://x}", "a://{x y}", "a://b c/{x}", ""} {
		if _, _, err := mcpbridge.TemplatePattern("ev", bad); err == nil {
			t.Errorf("TemplatePattern(%q) accepted", bad)
		}
	}
}

func TestPatternsIntersect(t *testing.T) {
	for _, tc := range []struct {
		p, q string
		want bool
	}{
		{"mcp://a/**", "mcp://a/resource/x", true},
		{"mcp://a/resource/x%2F*", "mcp://a/resource/x%2Fy", true},
		{"mcp://b/**", "mcp://a/resource/x", false},
		{"mcp://a/resource/pub%2F**", "mcp://a/resource/*", true},
		{"mcp://a/resource/pub%2Fnote", "mcp://a/resource/pub%2Fitems%2F*", false},
		{"mcp://a/resource/pub%2Fitems%2F4*", "mcp://a/resource/pub%2Fitems%2F*", true},
		{"mcp://a/*", "mcp://a/resource/x", false},
		{"mcp://a/*/x", "mcp://a/resource/*", true},
		{"mcp://*/prompt/admin*", "mcp://a/prompt/greet", false},
		{"**", "mcp://a/resource/*", true},
		{"a*b", "*c", false},
		{"a*", "*b", true},
		{"a/*/c", "a/**", true},
		{"a*c", "a/c", false},
		{"a**c", "a/c", true},
	} {
		if got := mcpbridge.PatternsIntersect(tc.p, tc.q); got != tc.want {
			t.Errorf("PatternsIntersect(%q, %q) = %v, want %v", tc.p, tc.q, got, tc.want)
		}
		if got := mcpbridge.PatternsIntersect(tc.q, tc.p); got != tc.want {
			t.Errorf("PatternsIntersect(%q, %q) = %v, want %v", tc.q, tc.p, got, tc.want)
		}
	}
}

// TestPatternsIntersectBruteForce compares PatternsIntersect with matching
// every string of length ≤ 8 over the alphabet {a, /} against both
// patterns (tokens.Match), for patterns of length ≤ 4 over {a, /, *}: a
// common string, if any, needs at most the two patterns' literals and one
// character per wildcard, so 8 characters are enough.
func TestPatternsIntersectBruteForce(t *testing.T) {
	var strs []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		strs = append(strs, prefix)
		if n == 0 {
			return
		}
		for _, c := range []string{"a", "/"} {
			gen(prefix+c, n-1)
		}
	}
	gen("", 8)
	var pats []string
	var genP func(prefix string, n int)
	genP = func(prefix string, n int) {
		if prefix != "" && tokens.ValidPattern(prefix) == nil {
			pats = append(pats, prefix)
		}
		if n == 0 {
			return
		}
		for _, c := range []string{"a", "/", "*"} {
			genP(prefix+c, n-1)
		}
	}
	genP("", 4)
	for _, p := range pats {
		for _, q := range pats {
			want := false
			for _, s := range strs {
				if s != "" && tokens.Match(p, s) && tokens.Match(q, s) {
					want = true
					break
				}
			}
			if got := mcpbridge.PatternsIntersect(p, q); got != want {
				t.Fatalf("PatternsIntersect(%q, %q) = %v, brute force %v", p, q, got, want)
			}
		}
	}
}

// FuzzParseResourceURI: whatever the bridge accepts as an agent's resource
// URI is read as one downstream URI in the one spelling, whose gated
// resource is in the gateway's normal form, has no "/" after
// mcp://<server>/resource/, and decodes back to the URI; and the URI's path
// has no dot segment.
func FuzzParseResourceURI(f *testing.F) {
	for _, s := range []string{
		"mcp://fs/resource/file%3A%2F%2F%2Fa%2Fb", "mcp://fs/resource/file:///a/../b", "mcp://fs/resource/test%3a%2f%2fx%2f%2e%2e",
		"mcp://fs/resource/file%3A%2F%2F%2Fa%252E%252E", "mcp://fs/resource/urn:a:b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, agent string) {
		server, uri, resource, err := mcpbridge.ParseResourceURI(agent)
		if err != nil {
			return
		}
		if err := tokens.NormalResource(resource); err != nil {
			t.Fatalf("%q → resource %q not in normal form: %v", agent, resource, err)
		}
		enc, ok := strings.CutPrefix(resource, "mcp://"+server+"/resource/")
		if !ok || strings.Contains(enc, "/") {
			t.Fatalf("%q → resource %q", agent, resource)
		}
		if err := mcpbridge.ValidResourceURI(uri); err != nil {
			t.Fatalf("%q → invalid uri %q: %v", agent, uri, err)
		}
		again, err := mcpbridge.ResourceURI(server, uri)
		if err != nil || again != resource {
			t.Fatalf("ResourceURI(%q) = %q %v, want %q", uri, again, err, resource)
		}
		path := uri
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		for seg := range strings.SplitSeq(path, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("%q → uri %q has a dot segment", agent, uri)
			}
		}
		if _, _, r2, err := mcpbridge.ParseResourceURI(resource); err != nil || r2 != resource {
			t.Fatalf("the gated resource %q is not a fixed point: %q %v", resource, r2, err)
		}
	})
}

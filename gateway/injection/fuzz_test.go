package injection

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScanJSON: never panics; valid JSON never errors and invalid JSON always
// does; findings are well-formed; whatever ScanValue finds in the decoded
// value, ScanJSON finds in the bytes. (The converse does not hold: with
// duplicate keys ScanJSON scans every member while the decoded map keeps only
// the last; the seed testdata/fuzz/FuzzScanJSON/0a675a9396cce9d1 is such a
// document.) Findings across strings are exempt: they depend on the walk
// order, document order for ScanJSON and sorted keys for ScanValue.
func FuzzScanJSON(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.params))
	}
	for _, e := range []string{`{"a":"\ud800"}`, `"\u0000ignore"`, `{"":""}`, `[[[[["rm -rf /"]]]]]`} {
		f.Add([]byte(e))
	}
	s := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<15 {
			return
		}
		fd, err := s.ScanJSON(data)
		if json.Valid(data) != (err == nil) {
			t.Fatalf("valid=%v but err=%v", json.Valid(data), err)
		}
		if err != nil {
			return
		}
		if fd != nil {
			if len(fd.Excerpt) > MaxExcerpt || !utf8.ValidString(fd.Excerpt) {
				t.Fatalf("excerpt %q", fd.Excerpt)
			}
			if !strings.HasPrefix(fd.Path, "$") || fd.Category == "" || fd.PatternID == "" {
				t.Fatalf("finding %+v", fd)
			}
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		fv := s.ScanValue(v)
		// A finding across two strings ("+joined") depends on the order the
		// strings are walked in (sorted keys vs document order).
		if fv != nil && fd == nil && !strings.HasSuffix(fv.PatternID, "+joined") {
			t.Fatalf("ScanValue %+v vs ScanJSON %+v", fv, fd)
		}
	})
}

// FuzzNormalize: output is valid UTF-8 without upper-case ASCII, control
// bytes, leading/trailing or doubled spaces.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Ignore ALL", "ｉｇｎｏｒｅ", "i g n o r e", "ig\u200bnore", "ЅYЅTЕM", "a\u00a0b", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) && utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from valid input: %q", n)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("spaces not collapsed: %q", n)
		}
		for i := 0; i < len(n); i++ {
			if c := n[i]; 'A' <= c && c <= 'Z' || c < 0x20 || c == 0x7f {
				t.Fatalf("byte %q left in %q", c, n)
			}
		}
	})
}

// FuzzViews: the leetspeak, tag-character and percent-decoding views and
// the concept matcher never panic; a leetspeak view keeps the text's length
// and changes bytes only inside the spans reported; a percent view is never
// longer than its input; ScanString's findings are well-formed.
func FuzzViews(f *testing.F) {
	for _, s := range []string{"ign0re prev1ous", "0xdeadbeef", "a%20b%20c%20d", "%zz%2", "\U000E0069\U000E0067", "r2d2 c3po", "$y$tem", "%", "1gn0r13r3 4ll3"} {
		f.Add(s)
	}
	s := New()
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 1<<12 {
			return
		}
		norm := []byte(Normalize(in))
		v, ok := leetView(nil, norm)
		if ok && len(v) != len(norm) {
			t.Fatalf("leet view length %d, text %d", len(v), len(norm))
		}
		if ok {
			spans := leetSpans(nil, norm)
			for i := range norm {
				inside := false
				for _, sp := range spans {
					inside = inside || int(sp[0]) <= i && i < int(sp[1])
				}
				if !inside && v[i] != norm[i] {
					t.Fatalf("byte %d changed outside the leet spans", i)
				}
			}
		}
		if p, ok := percentView(in); ok && len(p) > len(in) {
			t.Fatalf("percent view longer than input")
		}
		_, _ = tagView(in)
		if fd := s.ScanString(in); fd != nil {
			if len(fd.Excerpt) > MaxExcerpt || !utf8.ValidString(fd.Excerpt) || fd.PatternID == "" || fd.Category == "" {
				t.Fatalf("finding %+v", fd)
			}
		}
	})
}

package server

import (
	"encoding/json"
	"testing"
)

func TestCheckStrictJSON(t *testing.T) {
	cases := []struct {
		name, body string
		ok         bool
	}{
		{"ok/object", `{"agentId":"a","requestId":"r","timestamp":1}`, true},
		{"ok/nested-same-key-in-different-objects", `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, true},
		{"ok/whitespace-around", " \n{\"a\":1}\t\r\n", true},
		{"ok/empty-object-and-array", `{"a":{},"b":[]}`, true},
		{"ok/string-values-equal-to-keys", `{"a":"a","b":"a"}`, true},
		{"deny/duplicate-top-level-key", `{"agentId":"a","agentId":"b"}`, false},
		{"deny/duplicate-key-by-escape", `{"a":1,"\u0061":2}`, false},
		{"deny/duplicate-nested-key", `{"x":{"k":1,"k":2}}`, false},
		{"deny/duplicate-key-in-array-element", `{"x":[{"k":1,"k":2}]}`, false},
		{"deny/invalid-utf8", "{\"a\":\"\xff\"}", false},
		{"deny/trailing-value", `{"a":1}{"a":2}`, false},
		{"deny/trailing-garbage", `{"a":1} x`, false},
		{"deny/syntax", `{"a":1,}`, false},
		{"deny/empty", ``, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkStrictJSON([]byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("checkStrictJSON(%q) = %v, want ok=%v", c.body, err, c.ok)
			}
		})
	}
}

// Whatever it accepts is valid JSON (one value).
func FuzzCheckStrictJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[{"k":[1,{"k":2,"j":3}]}]`, `"x"`, `{"a":{"b":{"c":{}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkStrictJSON(b) == nil && !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
	})
}

package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/tokens"
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

// FuzzBatchItemBytes: an item body is never re-serialised: a string body
// yields exactly its decoded content, an object body its own bytes; and
// naming a signature failure's cause never panics or claims a re-format
// for a body that compacts to itself.
func FuzzBatchItemBytes(f *testing.F) {
	for _, s := range []string{`"{\"a\":1}"`, `{"a": 1}`, `{"a":1}`, `"\u00e9"`, `null`, `12`, `"unterminated`, ` {"x":[1, 2]} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, form := batchItemBytes(raw)
		switch form {
		case formString:
			var want string
			if err := json.Unmarshal(bytes.TrimSpace(raw), &want); err != nil || string(b) != want {
				t.Fatalf("string form %q gave %q", raw, b)
			}
		case formObject:
			if !bytes.Equal(b, bytes.TrimSpace(raw)) {
				t.Fatalf("object form %q gave %q", raw, b)
			}
		}
		why := batchSigCause(b, form, gateway.AgentHeaders{AgentID: strings.Repeat("ab", 32), Sig: strings.Repeat("A", 86)}, tokens.VerifySig)
		if why == "" {
			t.Fatal("no cause named")
		}
	})
}

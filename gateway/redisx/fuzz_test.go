package redisx_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/gateway/redisx"
	"github.com/sintgate/sintgate/store"
)

var changeCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"ok/revoke", `{"type":"revoke","origin":"gw-1/ab","ids":["t1","t2"]}`, true},
	{"ok/roots", `{"type":"roots","origin":"gw-1/ab"}`, true},
	{"ok/tokens", `{"type":"tokens","origin":"o","ids":["x"]}`, true},
	{"ok/agents", `{"type":"agents","origin":"o","ids":["3b6a27bc"]}`, true},
	{"ok/approvals", `{"type":"approvals","origin":"o","ids":["01936d5e-0000-7000-8000-000000000001"]}`, true},
	{"bad/unknown-type", `{"type":"trip","origin":"o"}`, false},
	{"bad/no-origin", `{"type":"roots"}`, false},
	{"bad/unknown-field", `{"type":"roots","origin":"o","x":1}`, false},
	{"bad/empty-id", `{"type":"revoke","origin":"o","ids":[""]}`, false},
	{"bad/long-id", `{"type":"revoke","origin":"o","ids":["` + strings.Repeat("a", store.MaxIDBytes+1) + `"]}`, false},
	{"bad/trailing", `{"type":"roots","origin":"o"} {}`, false},
	{"bad/not-json", `revoke t1`, false},
	{"bad/ids-not-strings", `{"type":"revoke","origin":"o","ids":[1]}`, false},
}

func TestParseChange(t *testing.T) {
	for _, c := range changeCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := redisx.ParseChange([]byte(c.in))
			if (err == nil) != c.ok {
				t.Fatalf("ParseChange(%s) err = %v; want ok=%v", c.in, err, c.ok)
			}
			if err != nil && !errors.Is(err, redisx.ErrBadChange) {
				t.Fatalf("error %v is not ErrBadChange", err)
			}
		})
	}
}

// FuzzParseChange: never panics; an accepted change satisfies the limits and
// survives a re-encode round trip unchanged.
func FuzzParseChange(f *testing.F) {
	for _, c := range changeCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := redisx.ParseChange(b)
		if err != nil {
			return
		}
		if c.Origin == "" || len(c.IDs) > redisx.MaxChangeIDs {
			t.Fatalf("accepted %+v", c)
		}
		for _, id := range c.IDs {
			if id == "" || len(id) > store.MaxIDBytes {
				t.Fatalf("accepted id %q", id)
			}
		}
		raw, _ := json.Marshal(c)
		c2, err := redisx.ParseChange(raw)
		if err != nil || c2.Type != c.Type || c2.Origin != c.Origin || len(c2.IDs) != len(c.IDs) {
			t.Fatalf("round trip: %+v → %s → %+v, %v", c, raw, c2, err)
		}
	})
}

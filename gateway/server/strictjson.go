package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// checkStrictJSON refuses what encoding/json lets through ambiguously in an
// agent-signed body, so that what the gateway acts on is what any other
// parser of the signed bytes reads (docs/decisions.md 17 does the same, and
// more, for intercept bodies): a key repeated in one object (encoding/json
// keeps the last, other parsers the first), invalid UTF-8 (replaced by
// U+FFFD), and anything after the one JSON value. It also checks the
// grammar.
func checkStrictJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj     bool
		wantKey bool
		keys    map[string]struct{}
	}
	var stack []frame
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(stack) == 0 && values > 0 {
			return errors.New("data after the JSON value")
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, frame{obj: t == '{', wantKey: t == '{', keys: map[string]struct{}{}})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				if _, dup := stack[n-1].keys[t]; dup {
					if len(t) > 64 {
						t = t[:64] + "…"
					}
					return fmt.Errorf("key %q repeated in one object", t)
				}
				stack[n-1].keys[t] = struct{}{}
				stack[n-1].wantKey = false
				continue
			}
		}
		// A value ended: in an object, a key comes next.
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			}
		} else {
			values++
		}
	}
	if values == 0 {
		return errors.New("no JSON value")
	}
	return nil
}

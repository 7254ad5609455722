package opcuabridge

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

func TestVariant(t *testing.T) {
	for _, c := range []struct {
		name, typ, raw string
		want           any    // the Go value on success
		err            string // a substring of the error otherwise
	}{
		{"double", "Double", "0.4", 0.4, ""},
		{"double/integer literal", "Double", "2", 2.0, ""},
		{"double/string", "Double", `"0.4"`, nil, "want a number, got a string"},
		{"double/huge", "Double", "1e400", nil, "not a finite number"},
		{"float", "Float", "1.5", float32(1.5), ""},
		{"float/out of range", "Float", "1e39", nil, "out of Float range"},
		{"int16", "Int16", "-32768", int16(-32768), ""},
		{"int16/overflow", "Int16", "32768", nil, "want an integer in [-32768, 32767]"},
		{"int32/fraction", "Int32", "1.5", nil, "want an integer"},
		{"byte/negative", "Byte", "-1", nil, "want an integer in [0, 255]"},
		{"uint64/max", "UInt64", "18446744073709551615", uint64(math.MaxUint64), ""},
		{"boolean", "Boolean", "true", true, ""},
		{"boolean/number", "Boolean", "1", nil, "want true or false, got a number"},
		{"string", "String", `"stopped"`, "stopped", ""},
		{"string/null", "String", "null", nil, "want a string, got null"},
		{"trailing data", "Double", "1 2", nil, "not one JSON value"},
		{"missing", "Double", "", nil, "missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Variant(Type(c.typ), json.RawMessage(c.raw))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("err %v; want MALFORMED_REQUEST with %q", err, c.err)
				}
				return
			}
			if err != nil || v.Value() != c.want {
				t.Fatalf("got %#v, %v; want %#v", v, err, c.want)
			}
		})
	}
}

func TestTypedVariantWrongType(t *testing.T) {
	_, err := TypedVariant(Double, Typed{Type: "String", Value: json.RawMessage(`"x"`)})
	if err == nil || err.Error() != "MALFORMED_REQUEST: wrong OPC UA type: the node takes Double, the request says String" {
		t.Fatalf("err %v", err)
	}
}

// FuzzVariant: decoding never panics; an accepted value is one JSON value
// of the type asked for, and its Go value marshals back to JSON that
// decodes to the same variant.
func FuzzVariant(f *testing.F) {
	for _, s := range []string{"0.4", "-1", `"x"`, "true", "null", "1e400", "18446744073709551615", "[1]", `{"a":1}`, "1 2", "-0", "1e-400"} {
		for _, typ := range []string{"Double", "Float", "Int16", "UInt64", "Boolean", "String", "Byte", "SByte"} {
			f.Add(typ, s)
		}
	}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		tt, err := ParseType(typ)
		if err != nil {
			return
		}
		v, err := Variant(tt, json.RawMessage(raw))
		if err != nil {
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("error %v is not MALFORMED_REQUEST", err)
			}
			return
		}
		if !json.Valid([]byte(raw)) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		back := JSONValue(v)
		v2, err := Variant(tt, back)
		if err != nil {
			t.Fatalf("%s %q → %s does not decode again: %v", typ, raw, back, err)
		}
		if v2.Value() != v.Value() {
			t.Fatalf("%s %q: %v then %v", typ, raw, v.Value(), v2.Value())
		}
	})
}

// FuzzParseRequest: a front request body never panics the decoder, and an
// accepted one has at most MaxArgs arguments.
func FuzzParseRequest(f *testing.F) {
	f.Add(`{"action":"write","node":"ns1/Cell/Speed","type":"Double","value":0.4}`)
	f.Add(`{"action":"call","node":"ns1/Cell/Home","args":[{"type":"Double","value":1}]}`)
	f.Add(`{"action":"read","node":"x","extra":1}`)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseRequest([]byte(body))
		if err != nil {
			return
		}
		if len(r.Args) > MaxArgs {
			t.Fatal("too many args accepted")
		}
	})
}

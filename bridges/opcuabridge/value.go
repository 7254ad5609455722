package opcuabridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/gopcua/opcua/ua"

	"github.com/sintgate/sintgate/codes"
)

// Type is an OPC UA built-in type the bridge carries, by its spec name.
type Type string

// The built-in types the bridge decodes from JSON.
const (
	Boolean Type = "Boolean"
	SByte   Type = "SByte"
	Byte    Type = "Byte"
	Int16   Type = "Int16"
	UInt16  Type = "UInt16"
	Int32   Type = "Int32"
	UInt32  Type = "UInt32"
	Int64   Type = "Int64"
	UInt64  Type = "UInt64"
	Float   Type = "Float"
	Double  Type = "Double"
	String  Type = "String"
)

// MaxStringBytes bounds a String value; MaxArgs bounds a method's inputs.
const (
	MaxStringBytes = 4096
	MaxArgs        = 16
)

// ParseType returns the built-in type named s, or a MALFORMED_REQUEST error.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Boolean, SByte, Byte, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float, Double, String:
		return t, nil
	}
	return "", codes.New(codes.MalformedRequest, fmt.Sprintf("OPC UA type %q: want one of Boolean, SByte, Byte, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float, Double, String", s))
}

// Typed is one value with its OPC UA type, as the agent sends it and as it
// travels in the intercept's params: {"type":"Double","value":0.4}.
type Typed struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// decodeStrict decodes one JSON value into v: unknown members, trailing
// data and duplicate-looking garbage are refused.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// Variant decodes raw (one JSON value) as a value of type t: a JSON boolean
// for Boolean, a JSON integer within the type's range for the integer
// types, a finite JSON number within range for Float and Double, a JSON
// string of at most MaxStringBytes for String. Anything else is a
// MALFORMED_REQUEST error that names the type and what was given.
func Variant(t Type, raw json.RawMessage) (*ua.Variant, error) {
	bad := func(msg string) (*ua.Variant, error) {
		return nil, codes.New(codes.MalformedRequest, fmt.Sprintf("value for OPC UA type %s: %s", t, msg))
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return bad("missing")
	}
	var v any
	if err := decodeStrict(raw, &v); err != nil {
		return bad("not one JSON value")
	}
	kind := func() string {
		switch v.(type) {
		case bool:
			return "a boolean"
		case json.Number:
			return "a number"
		case string:
			return "a string"
		case nil:
			return "null"
		case []any:
			return "an array"
		}
		return "an object"
	}
	switch t {
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return bad("want true or false, got " + kind())
		}
		return ua.MustVariant(b), nil
	case String:
		s, ok := v.(string)
		if !ok {
			return bad("want a string, got " + kind())
		}
		if len(s) > MaxStringBytes {
			return bad(fmt.Sprintf("string over %d bytes", MaxStringBytes))
		}
		return ua.MustVariant(s), nil
	case Float, Double:
		n, ok := v.(json.Number)
		if !ok {
			return bad("want a number, got " + kind())
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("not a finite number")
		}
		if t == Float {
			if math.Abs(f) > math.MaxFloat32 {
				return bad("out of Float range")
			}
			return ua.MustVariant(float32(f)), nil
		}
		return ua.MustVariant(f), nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return bad("want an integer, got " + kind())
	}
	bits := map[Type]int{SByte: 8, Byte: 8, Int16: 16, UInt16: 16, Int32: 32, UInt32: 32, Int64: 64, UInt64: 64}[t]
	if bits == 0 {
		return bad("unsupported type")
	}
	switch t {
	case Byte, UInt16, UInt32, UInt64:
		u, err := strconv.ParseUint(string(n), 10, bits)
		if err != nil {
			return bad(fmt.Sprintf("want an integer in [0, %d], got %s", uint64(1)<<bits-1, n))
		}
		switch t {
		case Byte:
			return ua.MustVariant(uint8(u)), nil
		case UInt16:
			return ua.MustVariant(uint16(u)), nil
		case UInt32:
			return ua.MustVariant(uint32(u)), nil
		}
		return ua.MustVariant(u), nil
	}
	i, err := strconv.ParseInt(string(n), 10, bits)
	if err != nil {
		return bad(fmt.Sprintf("want an integer in [%d, %d], got %s", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1, n))
	}
	switch t {
	case SByte:
		return ua.MustVariant(int8(i)), nil
	case Int16:
		return ua.MustVariant(int16(i)), nil
	case Int32:
		return ua.MustVariant(int32(i)), nil
	}
	return ua.MustVariant(i), nil
}

// TypedVariant checks that tv names want (a wrong type is refused with both
// names) and decodes its value.
func TypedVariant(want Type, tv Typed) (*ua.Variant, error) {
	if tv.Type != string(want) {
		if _, err := ParseType(tv.Type); err != nil {
			return nil, err
		}
		return nil, codes.New(codes.MalformedRequest, fmt.Sprintf("wrong OPC UA type: the node takes %s, the request says %s", want, tv.Type))
	}
	return Variant(want, tv.Value)
}

// JSONValue renders a variant's value as JSON for a read's answer.
func JSONValue(v *ua.Variant) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(v.Value())
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

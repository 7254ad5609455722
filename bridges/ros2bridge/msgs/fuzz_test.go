package msgs

import (
	"bytes"
	"testing"
)

func typeIndex(t Type) uint8 {
	for i, x := range All() {
		if x.Name == t.Name {
			return uint8(i)
		}
	}
	return 0
}

// FuzzDecode decodes arbitrary bytes as every message type: no panic, no
// and whatever decodes re-encodes to the same length (up to the payload's
// 4-byte padding; alignment padding and the encapsulation options are not
// read, so their contents may differ), decodes again to the same message and
// survives its JSON form unchanged.
func FuzzDecode(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(typeIndex(tc.msg.Type()), unhex(f, tc.hex))
	}
	f.Add(typeIndex(JointTrajectoryType), unhex(f, "00010000 00000000 00000000 01000000 00 000000 ffffffff"))
	types := All()
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		typ := types[int(which)%len(types)]
		m, err := Decode(typ, b)
		if err != nil {
			return
		}
		enc := Encode(m)
		if len(enc) > len(b) || len(b)-len(enc) > 3 {
			t.Fatalf("%s: re-encode has another length\n got %x\n  in %x", typ.Name, enc, b)
		}
		m2, err := Decode(typ, enc)
		if err != nil {
			t.Fatalf("%s: own encoding refused: %v", typ.Name, err)
		}
		if !bytes.Equal(Encode(m2), enc) {
			t.Fatalf("%s: re-decode differs", typ.Name)
		}
		js, err := MarshalJSON(m)
		if err != nil {
			return // NaN/Inf: the bridge refuses such a message
		}
		back, err := UnmarshalJSON(typ, js)
		if err != nil {
			t.Fatalf("%s: own JSON refused: %v\n%s", typ.Name, err, js)
		}
		if !bytes.Equal(Encode(back), enc) {
			t.Fatalf("%s: JSON round trip changed the message\n%s", typ.Name, js)
		}
	})
}

// FuzzUnmarshalJSON feeds arbitrary JSON to every type: no panic, and an
// accepted document survives CDR and JSON round trips.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(typeIndex(tc.msg.Type()), tc.json)
	}
	f.Add(uint8(0), `{"linear":{"x":1e308},"angular":{"z":-0}}`)
	types := All()
	f.Fuzz(func(t *testing.T, which uint8, in string) {
		typ := types[int(which)%len(types)]
		m, err := UnmarshalJSON(typ, []byte(in))
		if err != nil {
			return
		}
		enc := Encode(m)
		m2, err := Decode(typ, enc)
		if err != nil {
			t.Fatalf("%s: own encoding refused: %v", typ.Name, err)
		}
		if !bytes.Equal(Encode(m2), enc) {
			t.Fatal("CDR round trip changed the message")
		}
	})
}

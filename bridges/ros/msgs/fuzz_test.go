package msgs

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode decodes arbitrary bytes as every message type: it must never
// panic, and whatever decodes must re-encode to the same bytes (ROS 1
// serialization is canonical except for bool, where any non-zero byte
// decodes as true).
func FuzzDecode(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(uint8(typeIndex(tc.msg.Type())), readGolden(f, tc.file))
	}
	f.Add(uint8(6), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	types := All()
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		typ := types[int(which)%len(types)]
		m, err := Decode(typ, b)
		if err != nil {
			return
		}
		if typ.Name == BoolType.Name {
			return
		}
		if got := Encode(m); !bytes.Equal(got, b) {
			t.Fatalf("%s: re-encode differs\n got %x\n  in %x", typ.Name, got, b)
		}
	})
}

func typeIndex(t Type) int {
	for i, x := range All() {
		if x.Name == t.Name {
			return i
		}
	}
	return 0
}

// FuzzFromJSON feeds arbitrary JSON to every message type: no panics, and
// an accepted object must survive ToJSON → FromJSON unchanged.
func FuzzFromJSON(f *testing.F) {
	for _, tc := range goldenCases {
		b, _ := json.Marshal(ToJSON(tc.msg))
		f.Add(uint8(typeIndex(tc.msg.Type())), string(b))
	}
	f.Add(uint8(1), `{"linear":{"x":1e308},"angular":{"z":-0}}`)
	types := All()
	f.Fuzz(func(t *testing.T, which uint8, in string) {
		typ := types[int(which)%len(types)]
		var v map[string]any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		m, err := FromJSON(typ, v)
		if err != nil {
			return
		}
		m2, err := FromJSON(typ, ToJSON(m))
		if err != nil {
			t.Fatalf("ToJSON output rejected: %v", err)
		}
		if !bytes.Equal(Encode(m), Encode(m2)) {
			t.Fatal("JSON round trip changed the message")
		}
	})
}

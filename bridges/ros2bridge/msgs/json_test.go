package msgs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// reflectJSON is the reference: encoding/json on the message structs.
func reflectJSON(m Message) ([]byte, error) { return json.Marshal(m) }

// TestAppendJSONMatchesEncodingJSON: the reflection-free JSON form is byte
// for byte encoding/json's, for the golden messages, random messages of
// every type and hostile strings and numbers (escaping, exponents, -0, the
// extremes); NaN and ±Inf are refused with encoding/json's error type, and
// AppendJSON leaves the buffer as it was.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	var cases []Message
	for _, tc := range goldenCases {
		cases = append(cases, tc.msg)
	}
	r := rand.New(rand.NewPCG(7, 18))
	for _, typ := range All() {
		for range 50 {
			cases = append(cases, randomMessage(r, typ))
		}
	}
	for _, s := range []string{"", "a\"b\\c", "<script>&amp;</script>", "\x00\x01\x08\x0c\n\r\t\x1f\x7f", "é中😀", "\u2028\u2029", "bad\xff\xfeutf8", "\xc3", "mixed\x19<\u2028>\xe2\x80"} {
		cases = append(cases, &String{Data: s}, &TwistStamped{Header: Header{FrameID: s}},
			&JointTrajectory{JointNames: []string{s, s}}, &Float64MultiArray{Layout: MultiArrayLayout{Dim: []MultiArrayDimension{{Label: s, Size: 2, Stride: 3}}}})
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99999e-7, 1e-7, 1.5e-300, 1e20, 1e21, 1e21 - 65536, -1e21, 123456789012345678, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, 1 / 3.0, 2.5e-8} {
		cases = append(cases, &Twist{Linear: Vector3{X: f, Y: -f, Z: f / 7}, Angular: Vector3{Z: f * 3}},
			&JointTrajectory{Points: []JointTrajectoryPoint{{Velocities: []float64{f, -f}, TimeFromStart: Duration{Sec: math.MinInt32, Nanosec: math.MaxUint32}}}},
			&Float64MultiArray{Data: []float64{f}, Layout: MultiArrayLayout{DataOffset: math.MaxUint32}})
	}
	cases = append(cases, &Bool{Data: true}, &Bool{}, &JointTrajectory{Points: []JointTrajectoryPoint{{}}}, &Float64MultiArray{})
	for i, m := range cases {
		want, werr := reflectJSON(m)
		got, err := MarshalJSON(m)
		if werr != nil && err != nil { // a product overflowed to ±Inf: refused by both
			continue
		}
		if werr != nil || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("case %d (%s):\n got %s %v\nwant %s %v", i, m.Type().Name, got, err, want, werr)
		}
		prefix := []byte("prefix:")
		got, err = AppendJSON(prefix, m)
		if err != nil || !bytes.Equal(got, append([]byte("prefix:"), want...)) {
			t.Fatalf("case %d: AppendJSON = %s %v", i, got, err)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, m := range []Message{&Twist{Angular: Vector3{Y: bad}}, &Float64MultiArray{Data: []float64{1, bad}}} {
			_, err := MarshalJSON(m)
			var ue *json.UnsupportedValueError
			if !errors.As(err, &ue) {
				t.Fatalf("%v in %s: err %v", bad, m.Type().Name, err)
			}
			buf := []byte("kept")
			if out, err := AppendJSON(buf, m); err == nil || string(out) != "kept" {
				t.Fatalf("AppendJSON with %v = %q %v", bad, out, err)
			}
		}
	}
}

// FuzzAppendJSONMatchesEncodingJSON: for whatever decodes (every type) and
// for arbitrary strings and floats, AppendJSON equals encoding/json.
func FuzzAppendJSONMatchesEncodingJSON(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(typeIndex(tc.msg.Type()), unhex(f, tc.hex), "frame", 0.5)
	}
	f.Add(uint8(0), []byte{}, "<\u2028\xff>", 1e-7)
	types := All()
	f.Fuzz(func(t *testing.T, which uint8, b []byte, s string, x float64) {
		cases := []Message{&String{Data: s}, &PoseStamped{Header: Header{FrameID: s}, Pose: Pose{Position: Vector3{X: x}}},
			&JointTrajectory{JointNames: []string{s}, Points: []JointTrajectoryPoint{{Positions: []float64{x}}}}}
		if m, err := Decode(types[int(which)%len(types)], b); err == nil {
			cases = append(cases, m)
		}
		for _, m := range cases {
			want, werr := reflectJSON(m)
			got, err := MarshalJSON(m)
			if (werr == nil) != (err == nil) || !bytes.Equal(got, want) {
				t.Fatalf("%s:\n got %s %v\nwant %s %v", m.Type().Name, got, err, want, werr)
			}
		}
	})
}

func BenchmarkParamsJSON(b *testing.B) {
	m := &Twist{Linear: Vector3{X: 0.5}, Angular: Vector3{Z: 0.25}}
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := reflectJSON(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := MarshalJSON(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

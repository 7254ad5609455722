package msgs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenCases are hand-laid-out XCDR1 little-endian payloads (alignment
// relative to the body after the 4-byte encapsulation header); the Fast DDS
// round trips (fastdds_test.go) check the same layouts against Fast DDS.
var goldenCases = []struct {
	name string
	msg  Message
	hex  string
	json string
}{
	{"bool", &Bool{Data: true}, "00010000 01", `{"data":true}`},
	{"string", &String{Data: "hi"}, "00010000 03000000 686900", `{"data":"hi"}`},
	{"string empty", &String{}, "00010000 01000000 00", `{"data":""}`},
	{"twist", &Twist{Linear: Vector3{X: 1}, Angular: Vector3{Z: -0.5}},
		"00010000 000000000000f03f 0000000000000000 0000000000000000 0000000000000000 0000000000000000 000000000000e0bf",
		`{"linear":{"x":1,"y":0,"z":0},"angular":{"x":0,"y":0,"z":-0.5}}`},
	{"twist stamped", &TwistStamped{Header: Header{Stamp: Time{Sec: 1, Nanosec: 2}, FrameID: "a"}, Twist: Twist{Linear: Vector3{X: 1}}},
		"00010000 01000000 02000000 02000000 6100 0000 000000000000f03f" + strings.Repeat(" 0000000000000000", 5),
		`{"header":{"stamp":{"sec":1,"nanosec":2},"frame_id":"a"},"twist":{"linear":{"x":1,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0}}}`},
	{"wrench", &Wrench{Force: Vector3{Z: 2}, Torque: Vector3{X: 1}},
		"00010000 0000000000000000 0000000000000000 0000000000000040 000000000000f03f 0000000000000000 0000000000000000",
		`{"force":{"x":0,"y":0,"z":2},"torque":{"x":1,"y":0,"z":0}}`},
	{"pose stamped", &PoseStamped{Header: Header{FrameID: "map"}, Pose: Pose{Position: Vector3{X: 1}, Orientation: Quaternion{W: 1}}},
		"00010000 00000000 00000000 04000000 6d617000 000000000000f03f 0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000 000000000000f03f",
		`{"header":{"stamp":{"sec":0,"nanosec":0},"frame_id":"map"},"pose":{"position":{"x":1,"y":0,"z":0},"orientation":{"x":0,"y":0,"z":0,"w":1}}}`},
	{"joint trajectory", &JointTrajectory{JointNames: Strings{"j1"}, Points: Points{{Positions: Float64s{1}, Velocities: Float64s{0.5}, TimeFromStart: Duration{Sec: 1, Nanosec: 5}}}},
		// stamp, frame_id "" (len 1 + NUL, pad 3), names [ "j1" ] (pad 1), points len 1,
		// positions [1] (len at 36, pad to 40), velocities [0.5], accelerations [], effort [], duration
		"00010000 00000000 00000000 01000000 00 000000 01000000 03000000 6a3100 00 01000000" +
			" 01000000 00000000 000000000000f03f 01000000 00000000 000000000000e03f 00000000 00000000 01000000 05000000",
		`{"header":{"stamp":{"sec":0,"nanosec":0},"frame_id":""},"joint_names":["j1"],"points":[{"positions":[1],"velocities":[0.5],"accelerations":[],"effort":[],"time_from_start":{"sec":1,"nanosec":5}}]}`},
	{"float64 multi array", &Float64MultiArray{Layout: MultiArrayLayout{Dim: Dims{{Label: "x", Size: 2, Stride: 2}}}, Data: Float64s{1, 2}},
		// dim len, label "x" (pad 2), size, stride, data_offset, data len, pad 4, two doubles
		"00010000 01000000 02000000 7800 0000 02000000 02000000 00000000 02000000 00000000 000000000000f03f 0000000000000040",
		`{"layout":{"dim":[{"label":"x","size":2,"stride":2}],"data_offset":0},"data":[1,2]}`},
	{"empty trajectory", &JointTrajectory{},
		"00010000 00000000 00000000 01000000 00 000000 00000000 00000000",
		`{"header":{"stamp":{"sec":0,"nanosec":0},"frame_id":""},"joint_names":[],"points":[]}`},
}

func TestGoldenBytes(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			if got := Encode(tc.msg); !bytes.Equal(got, want) {
				t.Fatalf("Encode\n got %x\nwant %x", got, want)
			}
			m, err := Decode(tc.msg.Type(), want)
			if err != nil {
				t.Fatal(err)
			}
			js, err := MarshalJSON(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != tc.json {
				t.Fatalf("JSON\n got %s\nwant %s", js, tc.json)
			}
			back, err := UnmarshalJSON(tc.msg.Type(), js)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(Encode(back), want) {
				t.Fatal("JSON round trip changed the message")
			}
			// The RTPS payload may arrive padded to a multiple of 4.
			if pad := (4 - len(want)%4) % 4; pad > 0 {
				if _, err := Decode(tc.msg.Type(), append(append([]byte{}, want...), make([]byte, pad)...)); err != nil {
					t.Fatalf("padded payload refused: %v", err)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  Type
		hex  string
		want string
	}{
		{"empty", StringType, "", "no encapsulation header"},
		{"big endian", BoolType, "00000000 01", "encapsulation 0000"},
		{"xcdr2", BoolType, "00070000 01", "encapsulation 0007"},
		{"truncated twist", TwistType, "00010000 000000000000f03f", "truncated"},
		{"bool 2", BoolType, "00010000 02", "bool byte 2"},
		{"string no NUL", StringType, "00010000 02000000 6869", "NUL"},
		{"string length 0", StringType, "00010000 00000000", "NUL"},
		{"string huge length", StringType, "00010000 ffffffff 00", "truncated"},
		{"string bad utf8", StringType, "00010000 02000000 ff00", "UTF-8"},
		{"trailing bytes", BoolType, "00010000 01 00000000", "after the message"},
		{"trailing unaligned", BoolType, "00010000 01 00", "after the message"},
		{"hostile names length", JointTrajectoryType, "00010000 00000000 00000000 01000000 00 000000 ffffffff", "exceeds"},
		{"hostile points length", JointTrajectoryType, "00010000 00000000 00000000 01000000 00 000000 00000000 ffffff7f", "exceeds"},
		{"hostile dims length", Float64MultiArrayType, "00010000 ffffffff", "exceeds"},
		{"hostile data length", Float64MultiArrayType, "00010000 00000000 00000000 00000020", "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.typ, unhex(t, tc.hex))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
		})
	}
}

// TestHostileLengthAllocates checks that a sequence length far beyond the
// payload allocates nothing proportional to it.
func TestHostileLengthAllocates(t *testing.T) {
	b := unhex(t, "00010000 00000000 00000000 ffffff0f")
	allocs := testing.AllocsPerRun(100, func() { _, _ = Decode(Float64MultiArrayType, b) })
	if allocs > 10 {
		t.Fatalf("%v allocations for a hostile length", allocs)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  Type
		in   string
		ok   bool
	}{
		{"twist partial", TwistType, `{"linear":{"x":0.3}}`, true},
		{"unknown field", TwistType, `{"linear":{"x":0.3},"turbo":true}`, false},
		{"ros1 header", TwistStampedType, `{"header":{"seq":1}}`, false},
		{"string for number", TwistType, `{"linear":{"x":"fast"}}`, false},
		{"overflow", TwistType, `{"linear":{"x":1e400}}`, false},
		{"negative nanosec", TwistStampedType, `{"header":{"stamp":{"nanosec":-1}}}`, false},
		{"fraction in uint", Float64MultiArrayType, `{"layout":{"data_offset":0.5}}`, false},
		{"array", StringType, `["x"]`, false},
		{"null", StringType, `null`, false},
		{"two objects", StringType, `{"data":"a"}{"data":"b"}`, false},
		{"bool", BoolType, `{"data":true}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalJSON(tc.typ, []byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
		})
	}
}

func TestNaNRefusedByJSON(t *testing.T) {
	var nan float64
	nan = nan / nan
	if _, err := MarshalJSON(&Twist{Linear: Vector3{X: nan}}); err == nil {
		t.Fatal("NaN marshalled")
	}
	var ue *json.UnsupportedValueError
	_, err := MarshalJSON(&Twist{Linear: Vector3{X: nan}})
	if !errors.As(err, &ue) {
		t.Fatalf("got %T", err)
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"geometry_msgs/msg/Twist", "geometry_msgs/Twist"} {
		if typ, ok := Lookup(name); !ok || typ.Name != TwistType.Name {
			t.Fatalf("Lookup(%q) = %v %v", name, typ, ok)
		}
	}
	if _, ok := Lookup("sensor_msgs/msg/Image"); ok {
		t.Fatal("unknown type found")
	}
	if got := JointTrajectoryType.DDSName(); got != "trajectory_msgs::msg::dds_::JointTrajectory_" {
		t.Fatal(got)
	}
}

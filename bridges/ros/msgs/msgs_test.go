package msgs

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

// The golden files under testdata/golden were produced once by the real
// python message classes of Debian bookworm (python3-geometry-msgs 1.13.1,
// python3-std-msgs, python3-sensor-msgs, python3-trajectory-msgs) with:
//
//	cd bridges/ros/msgs && /usr/bin/python3 testdata/golden/gen.py
//
// gen.py also wrote defs/*.msgdef (each class's _full_text) and defs/md5.txt
// (each class's _md5sum).

var hdr = Header{Seq: 42, Stamp: Time{Sec: 1700000000, Nsec: 123456789}, FrameID: "base_link"}

var goldenCases = []struct {
	name string
	file string
	msg  Message
}{
	{"twist", "twist", &Twist{Linear: Vector3{1.5, -2.25, 0}, Angular: Vector3{0, 0, 0.75}}},
	{"twist/zero", "twist_zero", &Twist{}},
	{"string/utf8", "string", &String{Data: "hello ROS é"}},
	{"string/empty", "string_empty", &String{}},
	{"bool/true", "bool_true", &Bool{Data: true}},
	{"bool/false", "bool_false", &Bool{}},
	{"header", "header", &Header{Seq: 42, Stamp: Time{1700000000, 123456789}, FrameID: "base_link"}},
	{"joint_state", "joint_state", &JointState{Header: hdr, Name: []string{"j1", "j2"},
		Position: []float64{0.1, -0.2}, Velocity: []float64{1, 2}}},
	{"joint_trajectory", "joint_trajectory", &JointTrajectory{Header: hdr, JointNames: []string{"shoulder", "elbow"},
		Points: []JointTrajectoryPoint{
			{Positions: []float64{0, 1}, Velocities: []float64{0.5, 0.5}, TimeFromStart: Duration{1, 500000000}},
			{Positions: []float64{0.25, 1.25}, Effort: []float64{3}, TimeFromStart: Duration{-1, 250}},
		}}},
	{"joint_trajectory/empty", "joint_trajectory_empty", &JointTrajectory{}},
}

func readGolden(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/golden/" + file + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenBytes(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run("encode/"+tc.name, func(t *testing.T) {
			want := readGolden(t, tc.file)
			if got := Encode(tc.msg); !bytes.Equal(got, want) {
				t.Fatalf("Encode mismatch\n got %x\nwant %x", got, want)
			}
		})
		t.Run("decode/"+tc.name, func(t *testing.T) {
			got, err := Decode(tc.msg.Type(), readGolden(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("Decode mismatch\n got %#v\nwant %#v", got, tc.msg)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	twist := readGolden(t, "twist")
	traj := readGolden(t, "joint_trajectory")
	cases := []struct {
		name string
		typ  Type
		in   []byte
	}{
		{"deny/twist-truncated", TwistType, twist[:47]},
		{"deny/twist-trailing-byte", TwistType, append(append([]byte{}, twist...), 0)},
		{"deny/string-empty-input", StringType, nil},
		{"deny/string-length-beyond-input", StringType, []byte{5, 0, 0, 0, 'a', 'b'}},
		{"deny/string-length-4GiB", StringType, []byte{0xff, 0xff, 0xff, 0xff}},
		{"deny/bool-empty", BoolType, nil},
		{"deny/trajectory-truncated", JointTrajectoryType, traj[:len(traj)-1]},
		{"deny/trajectory-huge-point-count", JointTrajectoryType,
			append(Encode(&Header{}), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f)},
		{"deny/joint-state-huge-name-count", JointStateType,
			append(Encode(&Header{}), 0xff, 0xff, 0xff, 0xff)},
		{"deny/joint-state-float-count-beyond-input", JointStateType,
			append(Encode(&Header{}), 0, 0, 0, 0, 2, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.typ, tc.in)
			if err == nil {
				t.Fatal("want an error")
			}
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %q, want MALFORMED_REQUEST (%v)", codes.Of(err), err)
			}
		})
	}
}

// TestMD5FromDefinitions recomputes each md5sum from the embedded full
// definitions with the genmsg algorithm (comments stripped, nested types
// replaced by their md5), which ties the definitions to the md5 constants.
func TestMD5FromDefinitions(t *testing.T) {
	md5txt, err := os.ReadFile("defs/md5.txt")
	if err != nil {
		t.Fatal(err)
	}
	fromPython := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(md5txt)), "\n") {
		name, sum, _ := strings.Cut(line, " ")
		fromPython[name] = sum
	}
	for _, typ := range All() {
		t.Run(typ.Name, func(t *testing.T) {
			if fromPython[typ.Name] != typ.MD5 {
				t.Fatalf("constant %s, python says %s", typ.MD5, fromPython[typ.Name])
			}
			if got := genmsgMD5(t, typ.Name, typ.Definition); got != typ.MD5 {
				t.Fatalf("computed %s from the definition, want %s", got, typ.MD5)
			}
			if typ.New().Type().Name != typ.Name {
				t.Fatal("New returns another type")
			}
			if l, ok := Lookup(typ.Name); !ok || l.MD5 != typ.MD5 {
				t.Fatal("Lookup")
			}
		})
	}
}

const defSeparator = "\n================================================================================\nMSG: "

func genmsgMD5(t *testing.T, name, full string) string {
	parts := strings.Split(full, defSeparator)
	texts := map[string]string{name: parts[0]}
	for _, p := range parts[1:] {
		n, body, _ := strings.Cut(p, "\n")
		texts[n] = body
	}
	var sum func(name string) string
	sum = func(name string) string {
		pkg, _, _ := strings.Cut(name, "/")
		text, ok := texts[name]
		if !ok {
			t.Fatalf("definition of %s missing", name)
		}
		var lines []string
		for _, line := range strings.Split(text, "\n") {
			line, _, _ = strings.Cut(line, "#")
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			typ, field := f[0], f[1]
			base := strings.TrimSuffix(typ[:strings.IndexAny(typ+"[", "[")], "")
			switch base {
			case "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
				"float32", "float64", "string", "time", "duration", "byte", "char":
				lines = append(lines, typ+" "+field)
			default:
				full := base
				if base == "Header" {
					full = "std_msgs/Header"
				} else if !strings.Contains(base, "/") {
					full = pkg + "/" + base
				}
				lines = append(lines, sum(full)+" "+field)
			}
		}
		h := md5.Sum([]byte(strings.Join(lines, "\n")))
		return hex.EncodeToString(h[:])
	}
	return sum(name)
}

func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			j := ToJSON(tc.msg)
			// Through real JSON text, as the gateway sees it.
			text, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(text, &back); err != nil {
				t.Fatal(err)
			}
			m, err := FromJSON(tc.msg.Type(), back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(Encode(m), Encode(tc.msg)) {
				t.Fatalf("round trip changed the message: %s", text)
			}
		})
	}
}

func TestTwistJSONShape(t *testing.T) {
	got, err := json.Marshal(ToJSON(&Twist{Linear: Vector3{X: 0.5}, Angular: Vector3{Z: -1}}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"angular":{"x":0,"y":0,"z":-1},"linear":{"x":0.5,"y":0,"z":0}}`
	if string(got) != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestFromJSON(t *testing.T) {
	ok := []struct {
		name string
		typ  Type
		in   string
		want Message
	}{
		{"allow/twist-partial", TwistType, `{"linear":{"x":0.3}}`, &Twist{Linear: Vector3{X: 0.3}}},
		{"allow/twist-null-field", TwistType, `{"linear":null}`, &Twist{}},
		{"allow/bool", BoolType, `{"data":true}`, &Bool{Data: true}},
		{"allow/header-max-seq", HeaderType, `{"seq":4294967295,"stamp":{"secs":1,"nsecs":2},"frame_id":"map"}`,
			&Header{Seq: math.MaxUint32, Stamp: Time{1, 2}, FrameID: "map"}},
		{"allow/trajectory-negative-duration", JointTrajectoryType,
			`{"joint_names":["a"],"points":[{"positions":[1],"time_from_start":{"secs":-2,"nsecs":5}}]}`,
			&JointTrajectory{JointNames: []string{"a"}, Points: []JointTrajectoryPoint{{Positions: []float64{1}, TimeFromStart: Duration{-2, 5}}}}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			var v map[string]any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			m, err := FromJSON(tc.typ, v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("got %#v want %#v", m, tc.want)
			}
		})
	}
	bad := []struct {
		name string
		typ  Type
		in   string
	}{
		{"deny/twist-unknown-field", TwistType, `{"linear":{"x":1},"turbo":true}`},
		{"deny/twist-nested-unknown-field", TwistType, `{"linear":{"w":1}}`},
		{"deny/twist-string-number", TwistType, `{"linear":{"x":"1"}}`},
		{"deny/twist-linear-array", TwistType, `{"linear":[1,2,3]}`},
		{"deny/string-number", StringType, `{"data":5}`},
		{"deny/bool-number", BoolType, `{"data":1}`},
		{"deny/header-negative-seq", HeaderType, `{"seq":-1}`},
		{"deny/header-seq-overflow", HeaderType, `{"seq":4294967296}`},
		{"deny/header-fractional-seq", HeaderType, `{"seq":1.5}`},
		{"deny/header-stamp-unknown", HeaderType, `{"stamp":{"sec":1}}`},
		{"deny/joint-state-name-number", JointStateType, `{"name":["a",1]}`},
		{"deny/joint-state-position-string", JointStateType, `{"position":[1,"x"]}`},
		{"deny/trajectory-point-not-object", JointTrajectoryType, `{"points":[1]}`},
		{"deny/trajectory-duration-overflow", JointTrajectoryType, `{"points":[{"time_from_start":{"secs":2147483648}}]}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var v map[string]any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			_, err := FromJSON(tc.typ, v)
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("want MALFORMED_REQUEST, got %v", err)
			}
		})
	}
	t.Run("deny/zero-type", func(t *testing.T) {
		if _, err := FromJSON(Type{}, map[string]any{}); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestNaNRefusedByJSON(t *testing.T) {
	j := ToJSON(&Twist{Linear: Vector3{X: math.NaN()}})
	if _, err := json.Marshal(j); err == nil {
		t.Fatal("NaN must not serialise silently")
	}
}

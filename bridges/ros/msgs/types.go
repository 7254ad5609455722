package msgs

import (
	"embed"
	"strings"
)

// Message is a ROS 1 message value.
type Message interface {
	// Type returns the message's type descriptor.
	Type() Type
	// Marshal appends the ROS 1 serialization of the message to w.
	Marshal(w *Writer)
	// Unmarshal replaces the message's contents with the decoding of b,
	// which must hold exactly one serialized message.
	Unmarshal(b []byte) error
}

// Type describes a ROS 1 message type.
type Type struct {
	// Name is the ROS type name, e.g. "geometry_msgs/Twist".
	Name string
	// MD5 is the ROS md5sum of the type, 32 lowercase hex digits.
	MD5 string
	// Definition is the full message definition: the type's own .msg text
	// followed by every dependency, as `gendeps --cat` prints it.
	Definition string
	// New returns a new zero message of this type.
	New func() Message
}

// IsZero reports whether t is the zero Type.
func (t Type) IsZero() bool { return t.Name == "" }

// Time is a ROS time: seconds and nanoseconds since the Unix epoch.
type Time struct {
	Sec  uint32
	Nsec uint32
}

// Duration is a ROS duration. As in roscpp, Sec and Nsec are stored as
// given; normalisation is the sender's business.
type Duration struct {
	Sec  int32
	Nsec int32
}

//go:embed defs/*.msgdef
var defs embed.FS

func def(name string) string {
	b, err := defs.ReadFile("defs/" + strings.ReplaceAll(name, "/", "_") + ".msgdef")
	if err != nil {
		panic("msgs: missing embedded definition for " + name)
	}
	return string(b)
}

// The message types of this package. The md5sums and definitions are those
// of the Debian bookworm python3-*-msgs packages (see defs/md5.txt and
// testdata/golden/gen.py).
var (
	Vector3Type = Type{Name: "geometry_msgs/Vector3", MD5: "4a842b65f413084dc2b10fb484ea7f17",
		Definition: def("geometry_msgs/Vector3"), New: func() Message { return new(Vector3) }}
	TwistType = Type{Name: "geometry_msgs/Twist", MD5: "9f195f881246fdfa2798d1d3eebca84a",
		Definition: def("geometry_msgs/Twist"), New: func() Message { return new(Twist) }}
	StringType = Type{Name: "std_msgs/String", MD5: "992ce8a1687cec8c8bd883ec73ca41d1",
		Definition: def("std_msgs/String"), New: func() Message { return new(String) }}
	BoolType = Type{Name: "std_msgs/Bool", MD5: "8b94c1b53db61fb6aed406028ad6332a",
		Definition: def("std_msgs/Bool"), New: func() Message { return new(Bool) }}
	HeaderType = Type{Name: "std_msgs/Header", MD5: "2176decaecbce78abc3b96ef049fabed",
		Definition: def("std_msgs/Header"), New: func() Message { return new(Header) }}
	JointStateType = Type{Name: "sensor_msgs/JointState", MD5: "3066dcd76a6cfaef579bd0f34173e9fd",
		Definition: def("sensor_msgs/JointState"), New: func() Message { return new(JointState) }}
	JointTrajectoryType = Type{Name: "trajectory_msgs/JointTrajectory", MD5: "65b4f94a94d1ed67169da35a02f33d3f",
		Definition: def("trajectory_msgs/JointTrajectory"), New: func() Message { return new(JointTrajectory) }}
	JointTrajectoryPointType = Type{Name: "trajectory_msgs/JointTrajectoryPoint", MD5: "f3cd1e1c4d320c79d6985c904ae5dcd3",
		Definition: def("trajectory_msgs/JointTrajectoryPoint"), New: func() Message { return new(JointTrajectoryPoint) }}
)

var registry = map[string]Type{}

func init() {
	for _, t := range All() {
		registry[t.Name] = t
	}
}

// All returns every message type of this package.
func All() []Type {
	return []Type{Vector3Type, TwistType, StringType, BoolType, HeaderType,
		JointStateType, JointTrajectoryType, JointTrajectoryPointType}
}

// Lookup returns the Type named name ("geometry_msgs/Twist").
func Lookup(name string) (Type, bool) {
	t, ok := registry[name]
	return t, ok
}

// Encode returns the ROS 1 serialization of m.
func Encode(m Message) []byte {
	var w Writer
	m.Marshal(&w)
	return w.Bytes()
}

// Decode decodes b as a message of type t.
func Decode(t Type, b []byte) (Message, error) {
	m := t.New()
	if err := m.Unmarshal(b); err != nil {
		return nil, err
	}
	return m, nil
}

// Vector3 is geometry_msgs/Vector3.
type Vector3 struct{ X, Y, Z float64 }

// Twist is geometry_msgs/Twist: linear (m/s) and angular (rad/s) velocity.
type Twist struct{ Linear, Angular Vector3 }

// String is std_msgs/String.
type String struct{ Data string }

// Bool is std_msgs/Bool.
type Bool struct{ Data bool }

// Header is std_msgs/Header.
type Header struct {
	Seq     uint32
	Stamp   Time
	FrameID string
}

// JointState is sensor_msgs/JointState.
type JointState struct {
	Header   Header
	Name     []string
	Position []float64
	Velocity []float64
	Effort   []float64
}

// JointTrajectoryPoint is trajectory_msgs/JointTrajectoryPoint.
type JointTrajectoryPoint struct {
	Positions     []float64
	Velocities    []float64
	Accelerations []float64
	Effort        []float64
	TimeFromStart Duration
}

// JointTrajectory is trajectory_msgs/JointTrajectory.
type JointTrajectory struct {
	Header     Header
	JointNames []string
	Points     []JointTrajectoryPoint
}

func (*Vector3) Type() Type              { return Vector3Type }
func (*Twist) Type() Type                { return TwistType }
func (*String) Type() Type               { return StringType }
func (*Bool) Type() Type                 { return BoolType }
func (*Header) Type() Type               { return HeaderType }
func (*JointState) Type() Type           { return JointStateType }
func (*JointTrajectory) Type() Type      { return JointTrajectoryType }
func (*JointTrajectoryPoint) Type() Type { return JointTrajectoryPointType }

// Marshal implements Message.
func (m *Vector3) Marshal(w *Writer) { w.Float64(m.X); w.Float64(m.Y); w.Float64(m.Z) }

func (m *Vector3) read(r *Reader) { m.X, m.Y, m.Z = r.Float64(), r.Float64(), r.Float64() }

// Unmarshal implements Message.
func (m *Vector3) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.read(&r)
	return r.Done()
}

// Marshal implements Message.
func (m *Twist) Marshal(w *Writer) { m.Linear.Marshal(w); m.Angular.Marshal(w) }

func (m *Twist) read(r *Reader) { m.Linear.read(r); m.Angular.read(r) }

// Unmarshal implements Message.
func (m *Twist) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.read(&r)
	return r.Done()
}

// Marshal implements Message.
func (m *String) Marshal(w *Writer) { w.String(m.Data) }

// Unmarshal implements Message.
func (m *String) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.Data = r.String()
	return r.Done()
}

// Marshal implements Message.
func (m *Bool) Marshal(w *Writer) { w.Bool(m.Data) }

// Unmarshal implements Message.
func (m *Bool) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.Data = r.Bool()
	return r.Done()
}

// Marshal implements Message.
func (m *Header) Marshal(w *Writer) { w.Uint32(m.Seq); w.Time(m.Stamp); w.String(m.FrameID) }

func (m *Header) read(r *Reader) { m.Seq = r.Uint32(); m.Stamp = r.Time(); m.FrameID = r.String() }

// Unmarshal implements Message.
func (m *Header) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.read(&r)
	return r.Done()
}

// Marshal implements Message.
func (m *JointState) Marshal(w *Writer) {
	m.Header.Marshal(w)
	w.Strings(m.Name)
	w.Float64s(m.Position)
	w.Float64s(m.Velocity)
	w.Float64s(m.Effort)
}

// Unmarshal implements Message.
func (m *JointState) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.Header.read(&r)
	m.Name = r.Strings()
	m.Position = r.Float64s()
	m.Velocity = r.Float64s()
	m.Effort = r.Float64s()
	return r.Done()
}

// Marshal implements Message.
func (m *JointTrajectoryPoint) Marshal(w *Writer) {
	w.Float64s(m.Positions)
	w.Float64s(m.Velocities)
	w.Float64s(m.Accelerations)
	w.Float64s(m.Effort)
	w.Duration(m.TimeFromStart)
}

func (m *JointTrajectoryPoint) read(r *Reader) {
	m.Positions = r.Float64s()
	m.Velocities = r.Float64s()
	m.Accelerations = r.Float64s()
	m.Effort = r.Float64s()
	m.TimeFromStart = r.Duration()
}

// Unmarshal implements Message.
func (m *JointTrajectoryPoint) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.read(&r)
	return r.Done()
}

// jointTrajectoryPointMinSize is the encoded size of an empty point: four
// empty arrays and a duration.
const jointTrajectoryPointMinSize = 4*4 + 8

// Marshal implements Message.
func (m *JointTrajectory) Marshal(w *Writer) {
	m.Header.Marshal(w)
	w.Strings(m.JointNames)
	w.Uint32(uint32(len(m.Points)))
	for i := range m.Points {
		m.Points[i].Marshal(w)
	}
}

// Unmarshal implements Message.
func (m *JointTrajectory) Unmarshal(b []byte) error {
	r := Reader{b: b}
	m.Header.read(&r)
	m.JointNames = r.Strings()
	m.Points = nil
	if n := r.ArrayLen(jointTrajectoryPointMinSize); n > 0 {
		m.Points = make([]JointTrajectoryPoint, n)
		for i := range m.Points {
			m.Points[i].read(&r)
		}
	}
	return r.Done()
}

package msgs

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/sintgate/sintgate/codes"
)

// Message is a ROS 2 message value.
type Message interface {
	// Type returns the message's type descriptor.
	Type() Type
	marshal(w *writer)
	unmarshal(r *reader)
	appendJSON(w *jsonWriter)
}

// Type describes a ROS 2 message type.
type Type struct {
	// Name is the ROS 2 type name, e.g. "geometry_msgs/msg/Twist".
	Name string
	// New returns a new zero message of this type.
	New func() Message
}

// DDSName is the DDS type name of t ("geometry_msgs::msg::dds_::Twist_").
func (t Type) DDSName() string {
	p := strings.Split(t.Name, "/")
	if len(p) != 3 {
		return ""
	}
	return p[0] + "::" + p[1] + "::dds_::" + p[2] + "_"
}

// The message types of this package.
var (
	TwistType             = Type{"geometry_msgs/msg/Twist", func() Message { return new(Twist) }}
	TwistStampedType      = Type{"geometry_msgs/msg/TwistStamped", func() Message { return new(TwistStamped) }}
	WrenchType            = Type{"geometry_msgs/msg/Wrench", func() Message { return new(Wrench) }}
	PoseStampedType       = Type{"geometry_msgs/msg/PoseStamped", func() Message { return new(PoseStamped) }}
	JointTrajectoryType   = Type{"trajectory_msgs/msg/JointTrajectory", func() Message { return new(JointTrajectory) }}
	Float64MultiArrayType = Type{"std_msgs/msg/Float64MultiArray", func() Message { return new(Float64MultiArray) }}
	BoolType              = Type{"std_msgs/msg/Bool", func() Message { return new(Bool) }}
	StringType            = Type{"std_msgs/msg/String", func() Message { return new(String) }}
)

// All returns every message type of this package.
func All() []Type {
	return []Type{TwistType, TwistStampedType, WrenchType, PoseStampedType, JointTrajectoryType,
		Float64MultiArrayType, BoolType, StringType}
}

// Lookup returns the type named name: "geometry_msgs/msg/Twist", or the
// short form "geometry_msgs/Twist".
func Lookup(name string) (Type, bool) {
	for _, t := range All() {
		if t.Name == name || strings.Replace(t.Name, "/msg/", "/", 1) == name {
			return t, true
		}
	}
	return Type{}, false
}

// MarshalJSON returns the JSON form of m (ROS 2 field names; empty
// sequences as []). A NaN or infinite value is an error (JSON has none):
// such a message is refused. It is AppendJSON on a new buffer.
func MarshalJSON(m Message) ([]byte, error) {
	b, err := AppendJSON(make([]byte, 0, 160), m)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// MaxJSONBytes bounds a JSON document UnmarshalJSON reads.
const MaxJSONBytes = 1 << 20

// UnmarshalJSON builds a message of type t from its JSON form. Unknown
// fields, wrong types and out-of-range integers are MALFORMED_REQUEST;
// missing fields keep their zero value.
func UnmarshalJSON(t Type, b []byte) (Message, error) {
	bad := func(err error) (Message, error) {
		return nil, codes.Wrap(codes.MalformedRequest, "ros2 json: "+t.Name+": "+err.Error(), err)
	}
	if t.New == nil {
		return nil, codes.New(codes.MalformedRequest, "ros2 json: unknown message type")
	}
	if len(b) > MaxJSONBytes {
		return nil, codes.New(codes.MalformedRequest, "ros2 json: document too large")
	}
	m := t.New()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return bad(err)
	}
	if dec.More() {
		return nil, codes.New(codes.MalformedRequest, "ros2 json: "+t.Name+": data after the object")
	}
	if b := bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return nil, codes.New(codes.MalformedRequest, "ros2 json: "+t.Name+": not an object")
	}
	return m, nil
}

// Float64s is a float64 sequence whose JSON form is [] when empty.
type Float64s []float64

// MarshalJSON implements json.Marshaler.
func (s Float64s) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]float64(s))
}

// Strings is a string sequence whose JSON form is [] when empty.
type Strings []string

// MarshalJSON implements json.Marshaler.
func (s Strings) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(s))
}

// Time is builtin_interfaces/Time.
type Time struct {
	Sec     int32  `json:"sec"`
	Nanosec uint32 `json:"nanosec"`
}

// Duration is builtin_interfaces/Duration.
type Duration struct {
	Sec     int32  `json:"sec"`
	Nanosec uint32 `json:"nanosec"`
}

// Header is std_msgs/Header.
type Header struct {
	Stamp   Time   `json:"stamp"`
	FrameID string `json:"frame_id"`
}

// Vector3 is geometry_msgs/Vector3 (also the layout of Point).
type Vector3 struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// Quaternion is geometry_msgs/Quaternion.
type Quaternion struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
	W float64 `json:"w"`
}

// Pose is geometry_msgs/Pose.
type Pose struct {
	Position    Vector3    `json:"position"`
	Orientation Quaternion `json:"orientation"`
}

// Twist is geometry_msgs/Twist: linear (m/s) and angular (rad/s) velocity.
type Twist struct {
	Linear  Vector3 `json:"linear"`
	Angular Vector3 `json:"angular"`
}

// TwistStamped is geometry_msgs/TwistStamped.
type TwistStamped struct {
	Header Header `json:"header"`
	Twist  Twist  `json:"twist"`
}

// Wrench is geometry_msgs/Wrench: force (N) and torque (N·m).
type Wrench struct {
	Force  Vector3 `json:"force"`
	Torque Vector3 `json:"torque"`
}

// PoseStamped is geometry_msgs/PoseStamped.
type PoseStamped struct {
	Header Header `json:"header"`
	Pose   Pose   `json:"pose"`
}

// JointTrajectoryPoint is trajectory_msgs/JointTrajectoryPoint.
type JointTrajectoryPoint struct {
	Positions     Float64s `json:"positions"`
	Velocities    Float64s `json:"velocities"`
	Accelerations Float64s `json:"accelerations"`
	Effort        Float64s `json:"effort"`
	TimeFromStart Duration `json:"time_from_start"`
}

// Points is a JointTrajectoryPoint sequence whose JSON form is [] when empty.
type Points []JointTrajectoryPoint

// MarshalJSON implements json.Marshaler.
func (s Points) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]JointTrajectoryPoint(s))
}

// JointTrajectory is trajectory_msgs/JointTrajectory.
type JointTrajectory struct {
	Header     Header  `json:"header"`
	JointNames Strings `json:"joint_names"`
	Points     Points  `json:"points"`
}

// MultiArrayDimension is std_msgs/MultiArrayDimension.
type MultiArrayDimension struct {
	Label  string `json:"label"`
	Size   uint32 `json:"size"`
	Stride uint32 `json:"stride"`
}

// Dims is a MultiArrayDimension sequence whose JSON form is [] when empty.
type Dims []MultiArrayDimension

// MarshalJSON implements json.Marshaler.
func (s Dims) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]MultiArrayDimension(s))
}

// MultiArrayLayout is std_msgs/MultiArrayLayout.
type MultiArrayLayout struct {
	Dim        Dims   `json:"dim"`
	DataOffset uint32 `json:"data_offset"`
}

// Float64MultiArray is std_msgs/Float64MultiArray (the command of the
// ros2_control forward command controllers).
type Float64MultiArray struct {
	Layout MultiArrayLayout `json:"layout"`
	Data   Float64s         `json:"data"`
}

// Bool is std_msgs/Bool.
type Bool struct {
	Data bool `json:"data"`
}

// String is std_msgs/String.
type String struct {
	Data string `json:"data"`
}

func (*Twist) Type() Type             { return TwistType }
func (*TwistStamped) Type() Type      { return TwistStampedType }
func (*Wrench) Type() Type            { return WrenchType }
func (*PoseStamped) Type() Type       { return PoseStampedType }
func (*JointTrajectory) Type() Type   { return JointTrajectoryType }
func (*Float64MultiArray) Type() Type { return Float64MultiArrayType }
func (*Bool) Type() Type              { return BoolType }
func (*String) Type() Type            { return StringType }

// CDR layouts (the ROS 2 .msg definitions, in field order).

func (v *Time) marshal(w *writer)       { w.i32(v.Sec); w.u32(v.Nanosec) }
func (v *Time) unmarshal(r *reader)     { v.Sec = r.i32(); v.Nanosec = r.u32() }
func (v *Duration) marshal(w *writer)   { w.i32(v.Sec); w.u32(v.Nanosec) }
func (v *Duration) unmarshal(r *reader) { v.Sec = r.i32(); v.Nanosec = r.u32() }
func (v *Header) marshal(w *writer)     { v.Stamp.marshal(w); w.str(v.FrameID) }
func (v *Header) unmarshal(r *reader)   { v.Stamp.unmarshal(r); v.FrameID = r.str() }
func (v *Vector3) marshal(w *writer)    { w.f64(v.X); w.f64(v.Y); w.f64(v.Z) }
func (v *Vector3) unmarshal(r *reader)  { v.X, v.Y, v.Z = r.f64(), r.f64(), r.f64() }
func (v *Quaternion) marshal(w *writer) { w.f64(v.X); w.f64(v.Y); w.f64(v.Z); w.f64(v.W) }
func (v *Quaternion) unmarshal(r *reader) {
	v.X, v.Y, v.Z, v.W = r.f64(), r.f64(), r.f64(), r.f64()
}
func (v *Pose) marshal(w *writer)           { v.Position.marshal(w); v.Orientation.marshal(w) }
func (v *Pose) unmarshal(r *reader)         { v.Position.unmarshal(r); v.Orientation.unmarshal(r) }
func (v *Twist) marshal(w *writer)          { v.Linear.marshal(w); v.Angular.marshal(w) }
func (v *Twist) unmarshal(r *reader)        { v.Linear.unmarshal(r); v.Angular.unmarshal(r) }
func (v *TwistStamped) marshal(w *writer)   { v.Header.marshal(w); v.Twist.marshal(w) }
func (v *TwistStamped) unmarshal(r *reader) { v.Header.unmarshal(r); v.Twist.unmarshal(r) }
func (v *Wrench) marshal(w *writer)         { v.Force.marshal(w); v.Torque.marshal(w) }
func (v *Wrench) unmarshal(r *reader)       { v.Force.unmarshal(r); v.Torque.unmarshal(r) }
func (v *PoseStamped) marshal(w *writer)    { v.Header.marshal(w); v.Pose.marshal(w) }
func (v *PoseStamped) unmarshal(r *reader)  { v.Header.unmarshal(r); v.Pose.unmarshal(r) }
func (v *Bool) marshal(w *writer)           { w.boolean(v.Data) }
func (v *Bool) unmarshal(r *reader)         { v.Data = r.boolean() }
func (v *String) marshal(w *writer)         { w.str(v.Data) }
func (v *String) unmarshal(r *reader)       { v.Data = r.str() }

func (v *JointTrajectoryPoint) marshal(w *writer) {
	w.f64s(v.Positions)
	w.f64s(v.Velocities)
	w.f64s(v.Accelerations)
	w.f64s(v.Effort)
	v.TimeFromStart.marshal(w)
}

func (v *JointTrajectoryPoint) unmarshal(r *reader) {
	v.Positions = r.f64s()
	v.Velocities = r.f64s()
	v.Accelerations = r.f64s()
	v.Effort = r.f64s()
	v.TimeFromStart.unmarshal(r)
}

// jointTrajectoryPointMinSize is the smallest encoding of a point: four
// sequence lengths and a duration.
const jointTrajectoryPointMinSize = 4*4 + 8

func (v *JointTrajectory) marshal(w *writer) {
	v.Header.marshal(w)
	w.strs(v.JointNames)
	w.u32(uint32(len(v.Points)))
	for i := range v.Points {
		v.Points[i].marshal(w)
	}
}

func (v *JointTrajectory) unmarshal(r *reader) {
	v.Header.unmarshal(r)
	v.JointNames = r.strs()
	v.Points = nil
	if n := r.seqLen(jointTrajectoryPointMinSize); n > 0 {
		v.Points = make(Points, n)
		for i := range v.Points {
			v.Points[i].unmarshal(r)
		}
	}
}

// multiArrayDimensionMinSize: a one-byte string (its NUL) and two uint32.
const multiArrayDimensionMinSize = 4 + 1 + 4 + 4

func (v *Float64MultiArray) marshal(w *writer) {
	w.u32(uint32(len(v.Layout.Dim)))
	for _, d := range v.Layout.Dim {
		w.str(d.Label)
		w.u32(d.Size)
		w.u32(d.Stride)
	}
	w.u32(v.Layout.DataOffset)
	w.f64s(v.Data)
}

func (v *Float64MultiArray) unmarshal(r *reader) {
	v.Layout.Dim = nil
	if n := r.seqLen(multiArrayDimensionMinSize); n > 0 {
		v.Layout.Dim = make(Dims, n)
		for i := range v.Layout.Dim {
			d := &v.Layout.Dim[i]
			d.Label = r.str()
			d.Size = r.u32()
			d.Stride = r.u32()
		}
	}
	v.Layout.DataOffset = r.u32()
	v.Data = r.f64s()
}

package msgs

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sintgate/sintgate/codes"
)

// JSONMapper is implemented by messages that map to and from JSON objects
// with their ROS field names. Every message of this package implements it.
type JSONMapper interface {
	ToJSON() map[string]any
	FromJSON(v map[string]any) error
}

// ToJSON returns m as a JSON object with ROS field names: float64 fields as
// float64, integer fields as int64, strings as string, arrays as []any, time
// and duration as {"secs":..,"nsecs":..}. Messages that do not implement
// JSONMapper yield nil. NaN and ±Inf are kept as float64 values, which
// encoding/json refuses to marshal: a caller that serialises the result
// fails closed on them.
func ToJSON(m Message) map[string]any {
	if jm, ok := m.(JSONMapper); ok {
		return jm.ToJSON()
	}
	return nil
}

// FromJSON builds a message of type t from a JSON object as ToJSON produces
// it (or as encoding/json decodes it: numbers may be float64 or
// json.Number). Unknown fields, wrong types, non-integral or out-of-range
// integers are errors (codes.MalformedRequest); missing fields keep their
// zero value, as rosbridge does.
func FromJSON(t Type, v map[string]any) (Message, error) {
	if t.New == nil {
		return nil, codes.New(codes.MalformedRequest, "ros json: unknown message type")
	}
	m := t.New()
	jm, ok := m.(JSONMapper)
	if !ok {
		return nil, codes.New(codes.MalformedRequest, "ros json: type "+t.Name+" has no JSON mapping")
	}
	if err := jm.FromJSON(v); err != nil {
		return nil, err
	}
	return m, nil
}

// jsonErr builds a MalformedRequest error naming the field path.
func jsonErr(path, msg string) error {
	return codes.New(codes.MalformedRequest, "ros json: "+path+": "+msg)
}

// obj walks a JSON object, checking for unknown keys.
type obj struct {
	path string
	v    map[string]any
	err  error
}

func newObj(path string, v map[string]any, keys ...string) *obj {
	o := &obj{path: path, v: v}
	var unknown []string
	for k := range v {
		found := false
		for _, want := range keys {
			if k == want {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		o.err = jsonErr(path, "unknown field(s) "+strings.Join(unknown, ", "))
	}
	return o
}

func (o *obj) fail(field, msg string) {
	if o.err == nil {
		o.err = jsonErr(o.path+"."+field, msg)
	}
}

func (o *obj) get(field string) (any, bool) {
	if o.err != nil {
		return nil, false
	}
	x, ok := o.v[field]
	if !ok || x == nil {
		return nil, false
	}
	return x, true
}

func toFloat(x any) (float64, bool) {
	switch n := x.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func (o *obj) float(field string) float64 {
	x, ok := o.get(field)
	if !ok {
		return 0
	}
	f, ok := toFloat(x)
	if !ok {
		o.fail(field, fmt.Sprintf("want a number, got %T", x))
	}
	return f
}

func (o *obj) integer(field string, lo, hi int64) int64 {
	x, ok := o.get(field)
	if !ok {
		return 0
	}
	var i int64
	switch n := x.(type) {
	case int:
		i = int64(n)
	case int64:
		i = n
	case int32:
		i = int64(n)
	case uint32:
		i = int64(n)
	case json.Number:
		v, err := n.Int64()
		if err != nil {
			o.fail(field, "want an integer, got "+n.String())
			return 0
		}
		i = v
	default:
		f, ok := toFloat(x)
		if !ok {
			o.fail(field, fmt.Sprintf("want an integer, got %T", x))
			return 0
		}
		if f != math.Trunc(f) || math.IsInf(f, 0) || f < math.MinInt64 || f >= math.MaxInt64 {
			o.fail(field, fmt.Sprintf("want an integer, got %v", f))
			return 0
		}
		i = int64(f)
	}
	if i < lo || i > hi {
		o.fail(field, fmt.Sprintf("%d out of range [%d, %d]", i, lo, hi))
		return 0
	}
	return i
}

func (o *obj) boolean(field string) bool {
	x, ok := o.get(field)
	if !ok {
		return false
	}
	b, ok := x.(bool)
	if !ok {
		o.fail(field, fmt.Sprintf("want a bool, got %T", x))
	}
	return b
}

func (o *obj) str(field string) string {
	x, ok := o.get(field)
	if !ok {
		return ""
	}
	s, ok := x.(string)
	if !ok {
		o.fail(field, fmt.Sprintf("want a string, got %T", x))
	}
	return s
}

func (o *obj) object(field string) map[string]any {
	x, ok := o.get(field)
	if !ok {
		return nil
	}
	m, ok := x.(map[string]any)
	if !ok {
		o.fail(field, fmt.Sprintf("want an object, got %T", x))
	}
	return m
}

func (o *obj) array(field string) []any {
	x, ok := o.get(field)
	if !ok {
		return nil
	}
	switch a := x.(type) {
	case []any:
		return a
	case []float64:
		out := make([]any, len(a))
		for i, f := range a {
			out[i] = f
		}
		return out
	case []string:
		out := make([]any, len(a))
		for i, s := range a {
			out[i] = s
		}
		return out
	}
	o.fail(field, fmt.Sprintf("want an array, got %T", x))
	return nil
}

func (o *obj) floats(field string) []float64 {
	a := o.array(field)
	if len(a) == 0 {
		return nil
	}
	out := make([]float64, len(a))
	for i, x := range a {
		f, ok := toFloat(x)
		if !ok {
			o.fail(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("want a number, got %T", x))
			return nil
		}
		out[i] = f
	}
	return out
}

func (o *obj) strings(field string) []string {
	a := o.array(field)
	if len(a) == 0 {
		return nil
	}
	out := make([]string, len(a))
	for i, x := range a {
		s, ok := x.(string)
		if !ok {
			o.fail(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("want a string, got %T", x))
			return nil
		}
		out[i] = s
	}
	return out
}

// sub decodes a nested object with fn, propagating its error.
func (o *obj) sub(field string, fn func(path string, v map[string]any) error) {
	v := o.object(field)
	if o.err != nil || v == nil {
		return
	}
	if err := fn(o.path+"."+field, v); err != nil {
		o.err = err
	}
}

func floatsJSON(v []float64) []any {
	out := make([]any, len(v))
	for i, f := range v {
		out[i] = f
	}
	return out
}

func stringsJSON(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func timeJSON(t Time) map[string]any {
	return map[string]any{"secs": int64(t.Sec), "nsecs": int64(t.Nsec)}
}

func durationJSON(d Duration) map[string]any {
	return map[string]any{"secs": int64(d.Sec), "nsecs": int64(d.Nsec)}
}

func timeFromJSON(path string, v map[string]any, t *Time) error {
	o := newObj(path, v, "secs", "nsecs")
	t.Sec = uint32(o.integer("secs", 0, math.MaxUint32))
	t.Nsec = uint32(o.integer("nsecs", 0, math.MaxUint32))
	return o.err
}

func durationFromJSON(path string, v map[string]any, d *Duration) error {
	o := newObj(path, v, "secs", "nsecs")
	d.Sec = int32(o.integer("secs", math.MinInt32, math.MaxInt32))
	d.Nsec = int32(o.integer("nsecs", math.MinInt32, math.MaxInt32))
	return o.err
}

// ToJSON implements JSONMapper.
func (m *Vector3) ToJSON() map[string]any {
	return map[string]any{"x": m.X, "y": m.Y, "z": m.Z}
}

// FromJSON implements JSONMapper.
func (m *Vector3) FromJSON(v map[string]any) error { return m.fromJSON("Vector3", v) }

func (m *Vector3) fromJSON(path string, v map[string]any) error {
	o := newObj(path, v, "x", "y", "z")
	*m = Vector3{X: o.float("x"), Y: o.float("y"), Z: o.float("z")}
	return o.err
}

// ToJSON implements JSONMapper.
func (m *Twist) ToJSON() map[string]any {
	return map[string]any{"linear": m.Linear.ToJSON(), "angular": m.Angular.ToJSON()}
}

// FromJSON implements JSONMapper.
func (m *Twist) FromJSON(v map[string]any) error {
	o := newObj("Twist", v, "linear", "angular")
	*m = Twist{}
	o.sub("linear", m.Linear.fromJSON)
	o.sub("angular", m.Angular.fromJSON)
	return o.err
}

// ToJSON implements JSONMapper.
func (m *String) ToJSON() map[string]any { return map[string]any{"data": m.Data} }

// FromJSON implements JSONMapper.
func (m *String) FromJSON(v map[string]any) error {
	o := newObj("String", v, "data")
	m.Data = o.str("data")
	return o.err
}

// ToJSON implements JSONMapper.
func (m *Bool) ToJSON() map[string]any { return map[string]any{"data": m.Data} }

// FromJSON implements JSONMapper.
func (m *Bool) FromJSON(v map[string]any) error {
	o := newObj("Bool", v, "data")
	m.Data = o.boolean("data")
	return o.err
}

// ToJSON implements JSONMapper.
func (m *Header) ToJSON() map[string]any {
	return map[string]any{"seq": int64(m.Seq), "stamp": timeJSON(m.Stamp), "frame_id": m.FrameID}
}

// FromJSON implements JSONMapper.
func (m *Header) FromJSON(v map[string]any) error { return m.fromJSON("Header", v) }

func (m *Header) fromJSON(path string, v map[string]any) error {
	o := newObj(path, v, "seq", "stamp", "frame_id")
	*m = Header{}
	m.Seq = uint32(o.integer("seq", 0, math.MaxUint32))
	o.sub("stamp", func(p string, v map[string]any) error { return timeFromJSON(p, v, &m.Stamp) })
	m.FrameID = o.str("frame_id")
	return o.err
}

// ToJSON implements JSONMapper.
func (m *JointState) ToJSON() map[string]any {
	return map[string]any{
		"header":   m.Header.ToJSON(),
		"name":     stringsJSON(m.Name),
		"position": floatsJSON(m.Position),
		"velocity": floatsJSON(m.Velocity),
		"effort":   floatsJSON(m.Effort),
	}
}

// FromJSON implements JSONMapper.
func (m *JointState) FromJSON(v map[string]any) error {
	o := newObj("JointState", v, "header", "name", "position", "velocity", "effort")
	*m = JointState{}
	o.sub("header", m.Header.fromJSON)
	m.Name = o.strings("name")
	m.Position = o.floats("position")
	m.Velocity = o.floats("velocity")
	m.Effort = o.floats("effort")
	return o.err
}

// ToJSON implements JSONMapper.
func (m *JointTrajectoryPoint) ToJSON() map[string]any {
	return map[string]any{
		"positions":       floatsJSON(m.Positions),
		"velocities":      floatsJSON(m.Velocities),
		"accelerations":   floatsJSON(m.Accelerations),
		"effort":          floatsJSON(m.Effort),
		"time_from_start": durationJSON(m.TimeFromStart),
	}
}

// FromJSON implements JSONMapper.
func (m *JointTrajectoryPoint) FromJSON(v map[string]any) error {
	return m.fromJSON("JointTrajectoryPoint", v)
}

func (m *JointTrajectoryPoint) fromJSON(path string, v map[string]any) error {
	o := newObj(path, v, "positions", "velocities", "accelerations", "effort", "time_from_start")
	*m = JointTrajectoryPoint{}
	m.Positions = o.floats("positions")
	m.Velocities = o.floats("velocities")
	m.Accelerations = o.floats("accelerations")
	m.Effort = o.floats("effort")
	o.sub("time_from_start", func(p string, v map[string]any) error { return durationFromJSON(p, v, &m.TimeFromStart) })
	return o.err
}

// ToJSON implements JSONMapper.
func (m *JointTrajectory) ToJSON() map[string]any {
	points := make([]any, len(m.Points))
	for i := range m.Points {
		points[i] = m.Points[i].ToJSON()
	}
	return map[string]any{
		"header":      m.Header.ToJSON(),
		"joint_names": stringsJSON(m.JointNames),
		"points":      points,
	}
}

// FromJSON implements JSONMapper.
func (m *JointTrajectory) FromJSON(v map[string]any) error {
	o := newObj("JointTrajectory", v, "header", "joint_names", "points")
	*m = JointTrajectory{}
	o.sub("header", m.Header.fromJSON)
	m.JointNames = o.strings("joint_names")
	pts := o.array("points")
	if o.err != nil || len(pts) == 0 {
		return o.err
	}
	m.Points = make([]JointTrajectoryPoint, len(pts))
	for i, x := range pts {
		p, ok := x.(map[string]any)
		path := fmt.Sprintf("JointTrajectory.points[%d]", i)
		if !ok {
			return jsonErr(path, fmt.Sprintf("want an object, got %T", x))
		}
		if err := m.Points[i].fromJSON(path, p); err != nil {
			return err
		}
	}
	return nil
}

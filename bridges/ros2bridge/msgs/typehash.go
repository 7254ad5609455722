package msgs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ROS 2 type description hashing (REP 2011, "RIHS01"). From Iron on, every
// ROS 2 reader and writer announces the hash of its message type in its
// USER_DATA QoS ("typehash=RIHS01_<64 hex>;"), so that two endpoints that
// share a type name but not a definition can tell. The hash is SHA-256 over
// a canonical JSON form of the type's full description: the type's fields
// (name and field type, default values left out) and the descriptions of
// every type it references, directly or not, sorted by name. This file
// holds the descriptions of the package's types, written from the ROS 2
// message definitions (std_msgs, geometry_msgs, trajectory_msgs,
// builtin_interfaces as released from Iron to Rolling; their fields have not
// changed since Foxy), and computes the hashes as rosidl's type description
// generator does.

// RIHS01Prefix starts every version-1 type hash string.
const RIHS01Prefix = "RIHS01_"

// FieldTypeID is a field type id of type_description_interfaces/msg/FieldType.
type FieldTypeID uint8

// Field type ids (type_description_interfaces/msg/FieldType). An array adds
// ArrayOffset, a bounded sequence BoundedSequenceOffset, an unbounded
// sequence UnboundedSequenceOffset to the element's id.
const (
	FieldNestedType     FieldTypeID = 1
	FieldInt8           FieldTypeID = 2
	FieldUint8          FieldTypeID = 3
	FieldInt16          FieldTypeID = 4
	FieldUint16         FieldTypeID = 5
	FieldInt32          FieldTypeID = 6
	FieldUint32         FieldTypeID = 7
	FieldInt64          FieldTypeID = 8
	FieldUint64         FieldTypeID = 9
	FieldFloat          FieldTypeID = 10
	FieldDouble         FieldTypeID = 11
	FieldLongDouble     FieldTypeID = 12
	FieldChar           FieldTypeID = 13
	FieldWChar          FieldTypeID = 14
	FieldBoolean        FieldTypeID = 15
	FieldByte           FieldTypeID = 16
	FieldString         FieldTypeID = 17
	FieldWString        FieldTypeID = 18
	FieldFixedString    FieldTypeID = 19
	FieldFixedWString   FieldTypeID = 20
	FieldBoundedString  FieldTypeID = 21
	FieldBoundedWString FieldTypeID = 22

	ArrayOffset             FieldTypeID = 48
	BoundedSequenceOffset   FieldTypeID = 96
	UnboundedSequenceOffset FieldTypeID = 144
)

// FieldDesc is one field of a type description (type_description_interfaces
// Field without its default value, which the hash leaves out).
type FieldDesc struct {
	Name           string
	TypeID         FieldTypeID
	Capacity       uint64 // array size or sequence bound; 0 otherwise
	StringCapacity uint64 // string bound; 0 otherwise
	NestedType     string // "pkg/msg/Name" for a nested type (or a sequence of one)
}

// TypeDesc is an individual type description: a type name and its fields.
type TypeDesc struct {
	Name   string
	Fields []FieldDesc
}

func nested(name, typ string) FieldDesc {
	return FieldDesc{Name: name, TypeID: FieldNestedType, NestedType: typ}
}

func nestedSeq(name, typ string) FieldDesc {
	return FieldDesc{Name: name, TypeID: FieldNestedType + UnboundedSequenceOffset, NestedType: typ}
}

func basic(name string, id FieldTypeID) FieldDesc { return FieldDesc{Name: name, TypeID: id} }

// descriptions are the individual descriptions of this package's types and
// of every type they reference, keyed by name.
var descriptions = func() map[string]TypeDesc {
	m := map[string]TypeDesc{}
	for _, d := range []TypeDesc{
		{"builtin_interfaces/msg/Time", []FieldDesc{basic("sec", FieldInt32), basic("nanosec", FieldUint32)}},
		{"builtin_interfaces/msg/Duration", []FieldDesc{basic("sec", FieldInt32), basic("nanosec", FieldUint32)}},
		{"std_msgs/msg/Header", []FieldDesc{nested("stamp", "builtin_interfaces/msg/Time"), basic("frame_id", FieldString)}},
		{"std_msgs/msg/Bool", []FieldDesc{basic("data", FieldBoolean)}},
		{"std_msgs/msg/String", []FieldDesc{basic("data", FieldString)}},
		{"std_msgs/msg/MultiArrayDimension", []FieldDesc{basic("label", FieldString), basic("size", FieldUint32), basic("stride", FieldUint32)}},
		{"std_msgs/msg/MultiArrayLayout", []FieldDesc{nestedSeq("dim", "std_msgs/msg/MultiArrayDimension"), basic("data_offset", FieldUint32)}},
		{"std_msgs/msg/Float64MultiArray", []FieldDesc{nested("layout", "std_msgs/msg/MultiArrayLayout"), basic("data", FieldDouble+UnboundedSequenceOffset)}},
		{"geometry_msgs/msg/Vector3", []FieldDesc{basic("x", FieldDouble), basic("y", FieldDouble), basic("z", FieldDouble)}},
		{"geometry_msgs/msg/Point", []FieldDesc{basic("x", FieldDouble), basic("y", FieldDouble), basic("z", FieldDouble)}},
		{"geometry_msgs/msg/Quaternion", []FieldDesc{basic("x", FieldDouble), basic("y", FieldDouble), basic("z", FieldDouble), basic("w", FieldDouble)}},
		{"geometry_msgs/msg/Pose", []FieldDesc{nested("position", "geometry_msgs/msg/Point"), nested("orientation", "geometry_msgs/msg/Quaternion")}},
		{"geometry_msgs/msg/PoseStamped", []FieldDesc{nested("header", "std_msgs/msg/Header"), nested("pose", "geometry_msgs/msg/Pose")}},
		{"geometry_msgs/msg/Twist", []FieldDesc{nested("linear", "geometry_msgs/msg/Vector3"), nested("angular", "geometry_msgs/msg/Vector3")}},
		{"geometry_msgs/msg/TwistStamped", []FieldDesc{nested("header", "std_msgs/msg/Header"), nested("twist", "geometry_msgs/msg/Twist")}},
		{"geometry_msgs/msg/Wrench", []FieldDesc{nested("force", "geometry_msgs/msg/Vector3"), nested("torque", "geometry_msgs/msg/Vector3")}},
		{"trajectory_msgs/msg/JointTrajectoryPoint", []FieldDesc{
			basic("positions", FieldDouble+UnboundedSequenceOffset), basic("velocities", FieldDouble+UnboundedSequenceOffset),
			basic("accelerations", FieldDouble+UnboundedSequenceOffset), basic("effort", FieldDouble+UnboundedSequenceOffset),
			nested("time_from_start", "builtin_interfaces/msg/Duration")}},
		{"trajectory_msgs/msg/JointTrajectory", []FieldDesc{
			nested("header", "std_msgs/msg/Header"), basic("joint_names", FieldString+UnboundedSequenceOffset),
			nestedSeq("points", "trajectory_msgs/msg/JointTrajectoryPoint")}},
	} {
		m[d.Name] = d
	}
	return m
}()

// FullDescription returns the description of the type named name in the
// form REP 2011 hashes: the type itself, then every type it references
// (transitively), sorted by name. lookup resolves a name; an unknown
// referenced type is an error.
func FullDescription(name string, lookup func(string) (TypeDesc, bool)) (TypeDesc, []TypeDesc, error) {
	top, ok := lookup(name)
	if !ok {
		return TypeDesc{}, nil, fmt.Errorf("ros2 typehash: unknown type %q", name)
	}
	seen := map[string]bool{}
	var refs []TypeDesc
	queue := []TypeDesc{top}
	for len(queue) > 0 {
		d := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, f := range d.Fields {
			if f.NestedType == "" || seen[f.NestedType] {
				continue
			}
			seen[f.NestedType] = true
			nd, ok := lookup(f.NestedType)
			if !ok {
				return TypeDesc{}, nil, fmt.Errorf("ros2 typehash: %s references unknown type %q", d.Name, f.NestedType)
			}
			refs = append(refs, nd)
			queue = append(queue, nd)
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
	return top, refs, nil
}

// HashJSON returns the canonical JSON text REP 2011 hashes for a full
// description: the form Python's json.dumps gives with separators ", " and
// ": ", keys in the order of type_description_interfaces
// (type_description, referenced_type_descriptions; type_name, fields; name,
// type; type_id, capacity, string_capacity, nested_type_name), no default
// values. Names must be printable ASCII (ROS 2 names are identifiers).
func HashJSON(top TypeDesc, refs []TypeDesc) (string, error) {
	var b strings.Builder
	b.WriteString(`{"type_description": `)
	if err := writeDesc(&b, top); err != nil {
		return "", err
	}
	b.WriteString(`, "referenced_type_descriptions": [`)
	for i, d := range refs {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := writeDesc(&b, d); err != nil {
			return "", err
		}
	}
	b.WriteString("]}")
	return b.String(), nil
}

func writeDesc(b *strings.Builder, d TypeDesc) error {
	b.WriteString(`{"type_name": `)
	if err := writeString(b, d.Name); err != nil {
		return err
	}
	b.WriteString(`, "fields": [`)
	for i, f := range d.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"name": `)
		if err := writeString(b, f.Name); err != nil {
			return err
		}
		b.WriteString(`, "type": {"type_id": `)
		b.WriteString(strconv.FormatUint(uint64(f.TypeID), 10))
		b.WriteString(`, "capacity": `)
		b.WriteString(strconv.FormatUint(f.Capacity, 10))
		b.WriteString(`, "string_capacity": `)
		b.WriteString(strconv.FormatUint(f.StringCapacity, 10))
		b.WriteString(`, "nested_type_name": `)
		if err := writeString(b, f.NestedType); err != nil {
			return err
		}
		b.WriteString("}}")
	}
	b.WriteString("]}")
	return nil
}

// writeString writes s as a JSON string. Only printable ASCII other than
// the quote and the backslash is accepted: for those, every JSON encoder
// (Python's with ensure_ascii included) writes the same bytes.
func writeString(b *strings.Builder, s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("ros2 typehash: name %q: only printable ASCII without quotes or backslashes", s)
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
	return nil
}

// ComputeTypeHash returns the RIHS01 hash string of the type named name
// whose description (and those of its references) lookup resolves.
func ComputeTypeHash(name string, lookup func(string) (TypeDesc, bool)) (string, error) {
	top, refs, err := FullDescription(name, lookup)
	if err != nil {
		return "", err
	}
	j, err := HashJSON(top, refs)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(j))
	return RIHS01Prefix + hex.EncodeToString(sum[:]), nil
}

var (
	hashOnce sync.Once
	hashes   map[string]string
)

// Hash returns the RIHS01 type hash of t ("RIHS01_" and 64 lowercase hex
// digits), the value ROS 2 Iron and later announce for the same type, or ""
// for a type this package does not describe.
func (t Type) Hash() string {
	hashOnce.Do(func() {
		hashes = map[string]string{}
		lookup := func(n string) (TypeDesc, bool) { d, ok := descriptions[n]; return d, ok }
		for _, typ := range All() {
			h, err := ComputeTypeHash(typ.Name, lookup)
			if err != nil {
				panic(err) // the package's own descriptions are complete (TestTypeHashGolden)
			}
			hashes[typ.Name] = h
		}
	})
	return hashes[t.Name]
}

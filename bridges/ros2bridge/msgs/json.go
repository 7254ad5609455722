package msgs

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// The JSON form is written without reflection: it is built for every agent
// message (the intercept's params, the bytes the attestation's paramsHash
// covers). It is byte for byte what encoding/json writes for the message
// structs (field order, number formatting, HTML-safe string escaping; the
// differential test TestAppendJSONMatchesEncodingJSON and
// FuzzAppendJSONMatchesEncodingJSON pin it), so the params the gateway
// sees and the ledger records are unchanged.

// AppendJSON appends the JSON form of m to b (MarshalJSON without a new
// buffer). A NaN or infinite value is a *json.UnsupportedValueError, as
// with encoding/json; b is then returned as it was.
func AppendJSON(b []byte, m Message) ([]byte, error) {
	w := jsonWriter{b: b}
	// Static calls (no interface call): w stays on the stack.
	switch v := m.(type) {
	case *Twist:
		v.appendJSON(&w)
	case *TwistStamped:
		v.appendJSON(&w)
	case *Wrench:
		v.appendJSON(&w)
	case *PoseStamped:
		v.appendJSON(&w)
	case *JointTrajectory:
		v.appendJSON(&w)
	case *Float64MultiArray:
		v.appendJSON(&w)
	case *Bool:
		v.appendJSON(&w)
	case *String:
		v.appendJSON(&w)
	default:
		m.appendJSON(&w)
	}
	if w.err != nil {
		return b, w.err
	}
	return w.b, nil
}

// jsonWriter appends JSON; the first error sticks.
type jsonWriter struct {
	b   []byte
	err error
}

// f64 writes a float as encoding/json does (ES6 number formatting: 'f'
// between 1e-6 and 1e21, 'e' with a two-digit-or-shorter exponent outside).
func (w *jsonWriter) f64(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if w.err == nil {
			w.err = &json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64)}
		}
		w.b = append(w.b, '0')
		return
	}
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, fmt, -1, 64)
	if fmt == 'e' {
		// e-09 → e-9
		n := len(w.b)
		if n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

func (w *jsonWriter) i32(v int32)  { w.b = strconv.AppendInt(w.b, int64(v), 10) }
func (w *jsonWriter) u32(v uint32) { w.b = strconv.AppendUint(w.b, uint64(v), 10) }

func (w *jsonWriter) boolean(v bool) { w.b = strconv.AppendBool(w.b, v) }

// f64s writes a float sequence; nil and empty are [].
func (w *jsonWriter) f64s(v []float64) {
	w.b = append(w.b, '[')
	for i, x := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.f64(x)
	}
	w.b = append(w.b, ']')
}

func (w *jsonWriter) strs(v []string) {
	w.b = append(w.b, '[')
	for i, s := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.str(s)
	}
	w.b = append(w.b, ']')
}

const hexDigits = "0123456789abcdef"

// str writes a string as encoding/json does with its default HTML-safe
// escaping: ", \ and control characters escaped (\b \f \n \r \t by name,
// the rest \u00XX), <, > and & as \u003c \u003e \u0026, U+2028 and U+2029
// as \u2028 \u2029, invalid UTF-8 as \ufffd.
func (w *jsonWriter) str(s string) {
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}

// JSON layouts (the json tags of the message structs, in field order).

func (v *Time) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"sec":`...)
	w.i32(v.Sec)
	w.b = append(w.b, `,"nanosec":`...)
	w.u32(v.Nanosec)
	w.b = append(w.b, '}')
}

func (v *Duration) appendJSON(w *jsonWriter) { (*Time)(v).appendJSON(w) }

func (v *Header) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"stamp":`...)
	v.Stamp.appendJSON(w)
	w.b = append(w.b, `,"frame_id":`...)
	w.str(v.FrameID)
	w.b = append(w.b, '}')
}

func (v *Vector3) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"x":`...)
	w.f64(v.X)
	w.b = append(w.b, `,"y":`...)
	w.f64(v.Y)
	w.b = append(w.b, `,"z":`...)
	w.f64(v.Z)
	w.b = append(w.b, '}')
}

func (v *Quaternion) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"x":`...)
	w.f64(v.X)
	w.b = append(w.b, `,"y":`...)
	w.f64(v.Y)
	w.b = append(w.b, `,"z":`...)
	w.f64(v.Z)
	w.b = append(w.b, `,"w":`...)
	w.f64(v.W)
	w.b = append(w.b, '}')
}

func (v *Pose) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"position":`...)
	v.Position.appendJSON(w)
	w.b = append(w.b, `,"orientation":`...)
	v.Orientation.appendJSON(w)
	w.b = append(w.b, '}')
}

func (v *Twist) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"linear":`...)
	v.Linear.appendJSON(w)
	w.b = append(w.b, `,"angular":`...)
	v.Angular.appendJSON(w)
	w.b = append(w.b, '}')
}

func (v *TwistStamped) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"header":`...)
	v.Header.appendJSON(w)
	w.b = append(w.b, `,"twist":`...)
	v.Twist.appendJSON(w)
	w.b = append(w.b, '}')
}

func (v *Wrench) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"force":`...)
	v.Force.appendJSON(w)
	w.b = append(w.b, `,"torque":`...)
	v.Torque.appendJSON(w)
	w.b = append(w.b, '}')
}

func (v *PoseStamped) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"header":`...)
	v.Header.appendJSON(w)
	w.b = append(w.b, `,"pose":`...)
	v.Pose.appendJSON(w)
	w.b = append(w.b, '}')
}

func (v *JointTrajectoryPoint) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"positions":`...)
	w.f64s(v.Positions)
	w.b = append(w.b, `,"velocities":`...)
	w.f64s(v.Velocities)
	w.b = append(w.b, `,"accelerations":`...)
	w.f64s(v.Accelerations)
	w.b = append(w.b, `,"effort":`...)
	w.f64s(v.Effort)
	w.b = append(w.b, `,"time_from_start":`...)
	v.TimeFromStart.appendJSON(w)
	w.b = append(w.b, '}')
}

func (v *JointTrajectory) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"header":`...)
	v.Header.appendJSON(w)
	w.b = append(w.b, `,"joint_names":`...)
	w.strs(v.JointNames)
	w.b = append(w.b, `,"points":[`...)
	for i := range v.Points {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		v.Points[i].appendJSON(w)
	}
	w.b = append(w.b, "]}"...)
}

func (v *Float64MultiArray) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"layout":{"dim":[`...)
	for i := range v.Layout.Dim {
		d := &v.Layout.Dim[i]
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `{"label":`...)
		w.str(d.Label)
		w.b = append(w.b, `,"size":`...)
		w.u32(d.Size)
		w.b = append(w.b, `,"stride":`...)
		w.u32(d.Stride)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, `],"data_offset":`...)
	w.u32(v.Layout.DataOffset)
	w.b = append(w.b, `},"data":`...)
	w.f64s(v.Data)
	w.b = append(w.b, '}')
}

func (v *Bool) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"data":`...)
	w.boolean(v.Data)
	w.b = append(w.b, '}')
}

func (v *String) appendJSON(w *jsonWriter) {
	w.b = append(w.b, `{"data":`...)
	w.str(v.Data)
	w.b = append(w.b, '}')
}

package physics

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sintgate/sintgate/codes"
)

// Quantities a payload mapping can name (docs/policy.md §6, "Payload
// mappings"). Each is compared with the limit of the same physical quantity
// (Position with the geofence).
const (
	LinearVelocity  = "linearVelocity"
	AngularVelocity = "angularVelocity"
	Acceleration    = "acceleration"
	Jerk            = "jerk"
	Force           = "force"
	Torque          = "torque"
	Position        = "position"
)

// qPosition marks a position mapping (no numeric limit of its own).
const qPosition = nQuantities

var quantityByName = map[string]quantity{
	LinearVelocity: qLinear, AngularVelocity: qAngular, Acceleration: qAccel,
	Jerk: qJerk, Force: qForce, Torque: qTorque, Position: qPosition,
}

// unit converts a payload value to SI: si = v / den × num. Keeping the
// factor as a ratio makes decimal units exact at their limits (1000 mm/s is
// exactly 1 m/s).
type unit struct{ num, den float64 }

// units are the accepted spellings per quantity (the SI unit first).
var units = map[quantity]map[string]unit{
	qLinear:   {"m/s": {1, 1}, "mm/s": {1, 1000}, "cm/s": {1, 100}, "m/min": {1, 60}, "mm/min": {1, 60000}, "km/h": {1000, 3600}},
	qAngular:  {"rad/s": {1, 1}, "deg/s": {math.Pi, 180}, "rpm": {2 * math.Pi, 60}},
	qAccel:    {"m/s^2": {1, 1}, "m/s²": {1, 1}, "mm/s^2": {1, 1000}, "mm/s²": {1, 1000}},
	qJerk:     {"m/s^3": {1, 1}, "m/s³": {1, 1}, "mm/s^3": {1, 1000}, "mm/s³": {1, 1000}},
	qForce:    {"N": {1, 1}, "kN": {1000, 1}},
	qTorque:   {"N·m": {1, 1}, "N.m": {1, 1}, "Nm": {1, 1}, "N*m": {1, 1}, "kN·m": {1000, 1}, "kN.m": {1000, 1}},
	qPosition: {"m": {1, 1}, "mm": {1, 1000}, "cm": {1, 100}},
}

// Units returns the unit spellings accepted for a quantity, sorted.
func Units(quantityName string) []string {
	q, ok := quantityByName[quantityName]
	if !ok {
		return nil
	}
	var out []string
	for u := range units[q] {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// toSI and fromSI divide first, so whole multiples of a unit's denominator
// convert exactly (60 rpm is exactly 2π rad/s, and back).
func (u unit) toSI(v float64) float64   { return v / u.den * u.num }
func (u unit) fromSI(v float64) float64 { return v / u.num * u.den }

// MappingSpec is a payload mapping as written in a policy file, a bridge
// route or an envelope's payloadMap: the payload value at Path is the
// Quantity in Unit. A Position mapping names the paths of its X and Y
// coordinates instead of Path, and the Frame they are in ("map" when empty).
type MappingSpec struct {
	Path     string `json:"path,omitempty"`
	Quantity string `json:"quantity"`
	Unit     string `json:"unit"`
	X        string `json:"x,omitempty"`
	Y        string `json:"y,omitempty"`
	Frame    string `json:"frame,omitempty"`
}

// Mapping is a compiled MappingSpec. The zero Mapping is invalid.
type Mapping struct {
	spec    MappingSpec // canonical: paths as JSON Pointers, frame set for positions
	q       quantity
	u       unit
	path    Path // non-position
	x, y    Path // position
	present bool
}

// MaxFrameBytes bounds a position mapping's frame name.
const MaxFrameBytes = 64

// NewMapping validates and compiles a spec. Errors are MALFORMED_REQUEST
// and say what is wrong: an unknown quantity, a unit the quantity cannot be
// converted from, a bad path, Path on a position or X/Y on anything else.
func NewMapping(s MappingSpec) (Mapping, error) {
	bad := func(format string, a ...any) (Mapping, error) {
		return Mapping{}, codes.New(codes.MalformedRequest, "payload mapping: "+fmt.Sprintf(format, a...))
	}
	q, ok := quantityByName[s.Quantity]
	if !ok {
		return bad("unknown quantity %q (want one of %s)", s.Quantity, strings.Join(quantityNames(), ", "))
	}
	u, ok := units[q][s.Unit]
	if !ok {
		return bad("%s cannot be given in unit %q (want one of %s)", s.Quantity, s.Unit, strings.Join(Units(s.Quantity), ", "))
	}
	m := Mapping{q: q, u: u, present: true}
	m.spec = MappingSpec{Quantity: s.Quantity, Unit: s.Unit}
	if q == qPosition {
		if s.Path != "" {
			return bad("a position maps x and y, not path")
		}
		if s.X == "" || s.Y == "" {
			return bad("a position needs both x and y paths")
		}
		var err error
		if m.x, err = ParsePath(s.X); err != nil {
			return bad("x: %v", err)
		}
		if m.y, err = ParsePath(s.Y); err != nil {
			return bad("y: %v", err)
		}
		if m.x.Wildcard() || m.y.Wildcard() {
			return bad("position paths cannot have wildcards (map each target point)")
		}
		frame := s.Frame
		if frame == "" {
			frame = "map"
		}
		if len(frame) > MaxFrameBytes || hasControl(frame) {
			return bad("frame must be 1..%d printable bytes", MaxFrameBytes)
		}
		m.spec.X, m.spec.Y, m.spec.Frame = m.x.String(), m.y.String(), frame
		return m, nil
	}
	if s.X != "" || s.Y != "" || s.Frame != "" {
		return bad("x, y and frame belong to position mappings; %s maps path", s.Quantity)
	}
	p, err := ParsePath(s.Path)
	if err != nil {
		return bad("%v", err)
	}
	m.path, m.spec.Path = p, p.String()
	return m, nil
}

func quantityNames() []string {
	out := make([]string, 0, len(quantityByName))
	for n := range quantityByName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Spec returns the canonical spec (paths as JSON Pointers, a position's
// frame filled in).
func (m Mapping) Spec() MappingSpec { return m.spec }

// String describes the mapping for messages: "/cmd/speed (linearVelocity, mm/s)".
func (m Mapping) String() string {
	if m.q == qPosition {
		return fmt.Sprintf("(%s, %s) (position, %s, frame %s)", m.spec.X, m.spec.Y, m.spec.Unit, m.spec.Frame)
	}
	return fmt.Sprintf("%s (%s, %s)", m.spec.Path, m.spec.Quantity, m.spec.Unit)
}

// applyMappings reads every mapped value of params. Fail closed: a mapped
// path that does not resolve is a PHYSICS_CONSTRAINT deny naming the path
// (the value cannot be shown to be within its limit); a value that is not a
// finite number (or a vector of them) is MALFORMED_REQUEST, as for the
// table's sources.
func (c *checker) applyMappings(params any, maps []Mapping, lim *Limits) {
	for i := range maps {
		m := &maps[i]
		if !m.present {
			c.fail(codes.PhysicsConstraint, "", "payload mapping is invalid")
			return
		}
		if m.q == qPosition {
			c.mappedPosition(params, m, lim)
			continue
		}
		found, err := m.path.Resolve(params)
		if err != nil {
			c.fail(codes.PhysicsConstraint, qName[m.q], fmt.Sprintf("mapped %s: %v", m, err))
			continue
		}
		for _, fd := range found {
			src := "params" + fd.At
			mag, ok := c.valueMagnitude(fd.Value, src)
			if !ok {
				continue
			}
			si := math.Abs(m.u.toSI(mag))
			if !finite(si) {
				c.malformed(src, "has a non-finite magnitude in SI units")
				continue
			}
			c.obs[m.q].add(si, fmt.Sprintf("%s, %s %s", src, fmtNum(mag), m.spec.Unit))
		}
	}
}

func (c *checker) mappedPosition(params any, m *Mapping, lim *Limits) {
	var xy [2]float64
	for i, p := range [2]Path{m.x, m.y} {
		found, err := p.Resolve(params)
		if err != nil {
			c.fail(codes.PhysicsConstraint, Geofence, fmt.Sprintf("mapped %s: %v", m, err))
			return
		}
		src := "params" + found[0].At
		v, ok, _ := number(found[0].Value)
		if !ok {
			c.malformed(src, "is not a finite number")
			return
		}
		xy[i] = m.u.toSI(v)
		if !finite(xy[i]) {
			c.malformed(src, "is not finite in metres")
			return
		}
	}
	if lim.Geofence != nil {
		fence := lim.GeofenceFrame
		if fence == "" {
			fence = "map"
		}
		if m.spec.Frame != fence {
			c.fail(codes.PhysicsConstraint, Geofence, fmt.Sprintf("mapped target %s is in frame %q, the geofence in %q", m, m.spec.Frame, fence))
			return
		}
	}
	c.addTarget(Point{xy[0], xy[1]}, "params("+m.spec.X+", "+m.spec.Y+")")
}

// fail records the first failure (mapping failures and malformed values).
func (c *checker) fail(code codes.Code, quantity, reason string) {
	if c.bad == nil {
		c.bad = &Result{Code: code, Reason: reason, Quantity: quantity}
	}
}

// valueMagnitude reads a number (its absolute value), a vector object with
// any of x, y, z, or an array of numbers (the Euclidean norm); anything
// else is malformed.
func (c *checker) valueMagnitude(v any, source string) (float64, bool) {
	if x, ok, bad := number(v); ok {
		return math.Abs(x), true
	} else if bad {
		c.malformed(source, "is not a finite number")
		return 0, false
	}
	var sum float64
	switch t := v.(type) {
	case map[string]any:
		n := 0
		for _, k := range [3]string{"x", "y", "z"} {
			cv, present := t[k]
			if !present {
				continue
			}
			x, ok, _ := number(cv)
			if !ok {
				c.malformed(source+"/"+k, "is not a finite number")
				return 0, false
			}
			sum += x * x
			n++
		}
		if n == 0 {
			c.malformed(source, "must be a number or a vector {x, y, z}")
			return 0, false
		}
	case []any:
		for i, e := range t {
			x, ok, _ := number(e)
			if !ok {
				c.malformed(fmt.Sprintf("%s/%d", source, i), "is not a finite number")
				return 0, false
			}
			sum += x * x
		}
	default:
		c.malformed(source, "is not a finite number")
		return 0, false
	}
	n := math.Sqrt(sum)
	if !finite(n) {
		c.malformed(source, "has a non-finite magnitude")
		return 0, false
	}
	return n, true
}

// CheckMapped is Check with payload mappings: besides the source table,
// every mapping's value(s) in params are converted to SI units and checked
// like the table's sources (the strictest value per quantity applies; a
// mapped position must lie in the geofence, in the geofence's frame). A
// mapped path that does not resolve denies PHYSICS_CONSTRAINT with a reason
// naming the path; a mapped value that is not a finite number (or vector)
// is MALFORMED_REQUEST. Such failures win over limit violations.
func CheckMapped(params any, pc *Context, lim Limits, maps []Mapping) Result {
	var c checker
	if m, ok := params.(map[string]any); ok {
		c.readParams(m)
	}
	if len(maps) > 0 {
		c.applyMappings(params, maps, &lim)
	}
	return c.finish(pc, lim)
}

// EnvelopeKeyPayloadMap is the envelope member listing the payload mappings
// the gateway applied (their canonical specs), so that a bridge clamps the
// same values the gateway checked.
const EnvelopeKeyPayloadMap = "payloadMap"

// EnvelopeMapped is Envelope plus, when maps is non-empty, the member
// payloadMap: the canonical specs of maps, in order.
func EnvelopeMapped(lim Limits, maps []Mapping) map[string]any {
	env := Envelope(lim)
	if len(maps) > 0 {
		specs := make([]MappingSpec, len(maps))
		for i := range maps {
			specs[i] = maps[i].spec
		}
		env[EnvelopeKeyPayloadMap] = specs
	}
	return env
}

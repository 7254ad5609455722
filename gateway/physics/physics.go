// Package physics checks the physical constraints of an intercept
// (PROTOCOL.md §5.6): it reads velocities, accelerations, jerk, forces,
// torques and target positions from the request's params by a fixed table of
// sources and by payload mappings (path → quantity and unit, converted to
// SI; mapping.go), compares them with the token's limits, checks targets
// against the geofence polygon, and returns the effective envelope for the
// actuator. ClampJSON scales a payload's mapped values into an envelope for
// the bridges.
//
// The package is pure: no I/O, no clock, no goroutines; Check is safe for
// concurrent use. Limits are taken as given (the tokens package validates
// them); physics defines its own Limits type so that it does not depend on
// tokens.
//
// Values are SI units: m/s, rad/s, m/s², m/s³, N, N·m, metres.
package physics

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/sintgate/sintgate/codes"
)

// Constraint names (PROTOCOL.md §3), used in Result.Quantity and Envelope.
const (
	MaxVelocity        = "maxVelocityMps"
	MaxAngularVelocity = "maxAngularVelocityRps"
	MaxAcceleration    = "maxAccelerationMps2"
	MaxJerk            = "maxJerkMps3"
	MaxForce           = "maxForceNewtons"
	MaxTorque          = "maxTorqueNm"
	Geofence           = "geofence"
)

// SevereFactor: a value at or above SevereFactor × its limit is severe.
const SevereFactor = 2

// Limits is the physical envelope of a token (absent limit = unconstrained).
// Geofence is a simple polygon of [x, y] vertices in metres in the frame
// GeofenceFrame ("map" when empty), implicitly closed; nil means no fence.
// A fence of 1 or 2 vertices contains nothing (fail closed).
type Limits struct {
	MaxVelocityMps, MaxAngularVelocityRps, MaxAccelerationMps2, MaxJerkMps3,
	MaxForceNewtons, MaxTorqueNm *float64
	Geofence      [][2]float64
	GeofenceFrame string
}

// Point is a position in the geofence frame, metres.
type Point struct{ X, Y float64 }

// Context is the agent's self-reported physicalContext. It can only make a
// decision stricter: CurrentVelocityMps is one more linear-velocity source,
// CurrentPosition must itself lie inside the geofence. HumanDetected is not
// used by Check (the gateway may use it to escalate the tier, never to lower
// it). Nil fields are absent.
type Context struct {
	CurrentVelocityMps *float64
	CurrentPosition    *Point
	HumanDetected      *bool
}

// Result is the outcome of Check. The zero Result (Code "") means every
// present value is within its limit.
type Result struct {
	Code     codes.Code // "", codes.PhysicsConstraint or codes.MalformedRequest
	Reason   string     // public, human-readable
	Quantity string     // constraint name (MaxVelocity, …, Geofence) the result is about
	Value    float64    // the offending value (0 for geofence and malformed)
	Limit    float64    // its limit (0 for geofence and malformed)
	Severe   bool       // Value ≥ SevereFactor × Limit
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Code == "" }

// quantity indexes the numeric limits.
type quantity int

const (
	qLinear quantity = iota
	qAngular
	qAccel
	qJerk
	qForce
	qTorque
	nQuantities
)

var qName = [nQuantities]string{MaxVelocity, MaxAngularVelocity, MaxAcceleration, MaxJerk, MaxForce, MaxTorque}
var qLabel = [nQuantities]string{"linear velocity", "angular velocity", "acceleration", "jerk", "force", "torque"}
var qUnit = [nQuantities]string{"m/s", "rad/s", "m/s²", "m/s³", "N", "N·m"}

func (l *Limits) limit(q quantity) *float64 {
	switch q {
	case qLinear:
		return l.MaxVelocityMps
	case qAngular:
		return l.MaxAngularVelocityRps
	case qAccel:
		return l.MaxAccelerationMps2
	case qJerk:
		return l.MaxJerkMps3
	case qForce:
		return l.MaxForceNewtons
	case qTorque:
		return l.MaxTorqueNm
	}
	return nil
}

// observed is the largest value seen for one quantity and where it came from.
type observed struct {
	value  float64
	source string
	set    bool
}

func (o *observed) add(v float64, source string) {
	if !o.set || v > o.value {
		o.value, o.source, o.set = v, source, true
	}
}

type target struct {
	p      Point
	source string
}

type checker struct {
	obs     [nQuantities]observed
	targets [6]target // the first targets (the table has at most 5 sources)
	nt      int
	extra   []target // the targets after those (mapped positions); never truncated
	bad     *Result
}

func (c *checker) malformed(source, why string) {
	if c.bad == nil {
		c.bad = &Result{Code: codes.MalformedRequest, Reason: source + " " + why}
	}
}

// Check reads params (decoded JSON: map[string]any / []any / json.Number or
// float64 / string / bool / nil) by the source table of PROTOCOL.md §5.6 and
// checks every present value against lim. A malformed value (non-numeric or
// non-finite where a number is expected) yields MALFORMED_REQUEST and wins
// over limit violations. Among violations, a severe one is reported first,
// then the one with the largest value/limit ratio, then a geofence violation.
func Check(params any, pc *Context, lim Limits) Result {
	return CheckMapped(params, pc, lim, nil)
}

// finish adds the context, then judges every observed value and target.
func (c *checker) finish(pc *Context, lim Limits) Result {
	if pc != nil {
		if pc.CurrentVelocityMps != nil {
			v := *pc.CurrentVelocityMps
			if !finite(v) {
				c.malformed("physicalContext.currentVelocityMps", "is not a finite number")
			} else {
				c.obs[qLinear].add(math.Abs(v), "physicalContext.currentVelocityMps")
			}
		}
		if pc.CurrentPosition != nil {
			p := *pc.CurrentPosition
			if !finite(p.X) || !finite(p.Y) {
				c.malformed("physicalContext.currentPosition", "is not a finite position")
			} else {
				c.addTarget(p, "physicalContext.currentPosition")
			}
		}
	}
	if c.bad != nil {
		r := *c.bad
		return r
	}
	var best Result
	bestRatio := -1.0
	for q := quantity(0); q < nQuantities; q++ {
		o := c.obs[q]
		lp := lim.limit(q)
		if !o.set || lp == nil {
			continue
		}
		l := *lp
		if !(o.value > l) {
			continue
		}
		severe := o.value >= SevereFactor*l
		ratio := math.Inf(1)
		if l > 0 {
			ratio = o.value / l
		}
		better := best.Code == "" ||
			(severe && !best.Severe) ||
			(severe == best.Severe && ratio > bestRatio)
		if better {
			best = Result{
				Code:     codes.PhysicsConstraint,
				Reason:   fmt.Sprintf("%s %s %s (from %s) exceeds %s %s", qLabel[q], fmtNum(o.value), qUnit[q], o.source, qName[q], fmtNum(l)),
				Quantity: qName[q],
				Value:    o.value,
				Limit:    l,
				Severe:   severe,
			}
			bestRatio = ratio
		}
	}
	if best.Code != "" {
		return best
	}
	if lim.Geofence != nil {
		for _, t := range append(c.targets[:c.nt:c.nt], c.extra...) {
			if !InPolygon(t.p, lim.Geofence) {
				return Result{
					Code:     codes.PhysicsConstraint,
					Reason:   fmt.Sprintf("target (%s, %s) from %s is outside the geofence", fmtNum(t.p.X), fmtNum(t.p.Y), t.source),
					Quantity: Geofence,
				}
			}
		}
	}
	return Result{}
}

func (c *checker) addTarget(p Point, source string) {
	if c.nt < len(c.targets) {
		c.targets[c.nt] = target{p, source}
		c.nt++
		return
	}
	c.extra = append(c.extra, target{p, source})
}

// readParams applies the source table.
func (c *checker) readParams(m map[string]any) {
	// linear velocity
	c.magnitude(m, "linear", qLinear, "params.linear")
	c.magnitude(m, "velocity", qLinear, "params.velocity")
	c.magnitude(m, "linear_velocity", qLinear, "params.linear_velocity")
	// angular velocity
	c.magnitude(m, "angular", qAngular, "params.angular")
	c.magnitude(m, "angular_velocity", qAngular, "params.angular_velocity")
	if tw, ok := c.object(m, "twist", "params.twist"); ok {
		c.magnitude(tw, "linear", qLinear, "params.twist.linear")
		c.magnitude(tw, "angular", qAngular, "params.twist.angular")
	}
	c.trajectory(m["points"], "params.points")
	if tr, ok := m["trajectory"].(map[string]any); ok {
		c.trajectory(tr["points"], "params.trajectory.points")
	}
	// acceleration, jerk
	c.magnitude(m, "acceleration", qAccel, "params.acceleration")
	c.magnitude(m, "jerk", qJerk, "params.jerk")
	// force, torque
	c.magnitude(m, "force", qForce, "params.force")
	c.magnitude(m, "torque", qTorque, "params.torque")
	if w, ok := c.object(m, "wrench", "params.wrench"); ok {
		c.magnitude(w, "force", qForce, "params.wrench.force")
		c.magnitude(w, "torque", qTorque, "params.wrench.torque")
	}
	// target positions
	c.position(m["position"], "params.position")
	c.position(m["target"], "params.target")
	if pose, ok := m["pose"].(map[string]any); ok {
		c.position(pose["position"], "params.pose.position")
	}
	if goal, ok := m["goal"].(map[string]any); ok {
		c.position(goal["position"], "params.goal.position")
	}
}

// object returns m[key] as an object; a present non-object is malformed.
func (c *checker) object(m map[string]any, key, source string) (map[string]any, bool) {
	v, present := m[key]
	if !present {
		return nil, false
	}
	o, ok := v.(map[string]any)
	if !ok {
		c.malformed(source, "must be an object")
	}
	return o, ok
}

// magnitude reads m[key] as a number (its absolute value), a vector object
// {x, y, z} or an array of numbers (their Euclidean norm).
func (c *checker) magnitude(m map[string]any, key string, q quantity, source string) {
	v, present := m[key]
	if !present {
		return
	}
	if x, ok, bad := number(v); ok {
		c.obs[q].add(math.Abs(x), source)
		return
	} else if bad {
		c.malformed(source, "is not a finite number")
		return
	}
	switch t := v.(type) {
	case map[string]any:
		var sum float64
		n := 0
		for _, k := range [3]string{"x", "y", "z"} {
			cv, present := t[k]
			if !present {
				continue
			}
			x, ok, _ := number(cv)
			if !ok {
				c.malformed(source+"."+k, "is not a finite number")
				return
			}
			sum += x * x
			n++
		}
		if n == 0 {
			c.malformed(source, "must be a number or a vector {x, y, z}")
			return
		}
		c.addNorm(q, sum, source)
	case []any:
		var sum float64
		for i, e := range t {
			x, ok, _ := number(e)
			if !ok {
				c.malformed(fmt.Sprintf("%s[%d]", source, i), "is not a finite number")
				return
			}
			sum += x * x
		}
		c.addNorm(q, sum, source)
	default:
		c.malformed(source, "must be a number or a vector {x, y, z}")
	}
}

func (c *checker) addNorm(q quantity, sumSquares float64, source string) {
	n := math.Sqrt(sumSquares)
	if !finite(n) { // components finite but the norm overflows
		c.malformed(source, "has a non-finite magnitude")
		return
	}
	c.obs[q].add(n, source)
}

// trajectory reads max ‖points[i].velocities‖ as an angular velocity. A
// `points` that is not an array (e.g. some other message's field) and
// elements that are not objects are not trajectories and are skipped.
func (c *checker) trajectory(v any, source string) {
	pts, ok := v.([]any)
	if !ok {
		return
	}
	for i, p := range pts {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		vel, present := pm["velocities"]
		if !present {
			continue
		}
		src := fmt.Sprintf("%s[%d].velocities", source, i)
		arr, ok := vel.([]any)
		if !ok {
			c.malformed(src, "must be an array of numbers")
			return
		}
		var sum float64
		for j, e := range arr {
			x, ok, _ := number(e)
			if !ok {
				c.malformed(fmt.Sprintf("%s[%d]", src, j), "is not a finite number")
				return
			}
			sum += x * x
		}
		c.addNorm(qAngular, sum, src)
	}
}

// position reads a target {x, y[, z]}. Only objects are positions: a number
// (a gripper's opening), a string (a named target) or an array (joint
// positions) is not a point in the geofence frame and is not checked. An
// object must carry finite numeric x and y.
func (c *checker) position(v any, source string) {
	o, ok := v.(map[string]any)
	if !ok {
		return
	}
	xv, hx := o["x"]
	yv, hy := o["y"]
	if !hx || !hy {
		c.malformed(source, "must have numeric x and y")
		return
	}
	x, okx, _ := number(xv)
	y, oky, _ := number(yv)
	if !okx || !oky {
		c.malformed(source, "must have finite numeric x and y")
		return
	}
	if zv, hz := o["z"]; hz {
		if _, ok, _ := number(zv); !ok {
			c.malformed(source+".z", "is not a finite number")
			return
		}
	}
	c.addTarget(Point{x, y}, source)
}

// number converts a decoded JSON number. ok is true for a finite number; bad
// is true for a number type holding a non-finite or unparsable value.
func number(v any) (x float64, ok, bad bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || !finite(f) {
			return 0, false, true
		}
		return f, true, false
	case float64:
		if !finite(n) {
			return 0, false, true
		}
		return n, true, false
	case float32:
		f := float64(n)
		if !finite(f) {
			return 0, false, true
		}
		return f, true, false
	case int:
		return float64(n), true, false
	case int64:
		return float64(n), true, false
	case int32:
		return float64(n), true, false
	}
	return 0, false, false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// InPolygon reports whether p lies inside or on the boundary of the simple
// polygon poly (implicitly closed). Polygons of fewer than 3 vertices contain
// nothing.
func InPolygon(p Point, poly [][2]float64) bool {
	n := len(poly)
	if n < 3 {
		return false
	}
	inside := false
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		ax, ay := poly[j][0], poly[j][1]
		bx, by := poly[i][0], poly[i][1]
		if onSegment(p, ax, ay, bx, by) {
			return true
		}
		if (ay > p.Y) != (by > p.Y) {
			xCross := ax + (p.Y-ay)*(bx-ax)/(by-ay)
			if p.X < xCross {
				inside = !inside
			}
		}
	}
	return inside
}

// onSegment reports whether p is on segment a–b, with a tolerance relative to
// the coordinates' magnitude so that points computed on an edge count as on it.
func onSegment(p Point, ax, ay, bx, by float64) bool {
	if p.X < math.Min(ax, bx)-eps(ax, bx, p.X) || p.X > math.Max(ax, bx)+eps(ax, bx, p.X) ||
		p.Y < math.Min(ay, by)-eps(ay, by, p.Y) || p.Y > math.Max(ay, by)+eps(ay, by, p.Y) {
		return false
	}
	cross := (bx-ax)*(p.Y-ay) - (by-ay)*(p.X-ax)
	scale := math.Max(math.Abs(bx-ax)+math.Abs(by-ay), 1) * math.Max(math.Max(math.Abs(p.X-ax), math.Abs(p.Y-ay)), 1)
	return math.Abs(cross) <= 1e-9*scale
}

func eps(a, b, c float64) float64 {
	return 1e-9 * math.Max(1, math.Max(math.Abs(a), math.Max(math.Abs(b), math.Abs(c))))
}

// Envelope returns the effective limits under the constraint names of
// PROTOCOL.md §3, for the decision's `envelope`: only limits that are set,
// and `geofence` as {"frame", "polygon"}. An unconstrained token yields an
// empty (non-nil) map.
func Envelope(lim Limits) map[string]any {
	env := make(map[string]any, 7)
	for q := quantity(0); q < nQuantities; q++ {
		if l := lim.limit(q); l != nil {
			env[qName[q]] = *l
		}
	}
	if lim.Geofence != nil {
		frame := lim.GeofenceFrame
		if frame == "" {
			frame = "map"
		}
		poly := make([][]float64, len(lim.Geofence))
		for i, v := range lim.Geofence {
			poly[i] = []float64{v[0], v[1]}
		}
		env[Geofence] = map[string]any{"frame": frame, "polygon": poly}
	}
	return env
}

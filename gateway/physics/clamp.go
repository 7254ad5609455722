package physics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/sintgate/sintgate/codes"
)

// MaxEnvelopeBytes bounds an envelope document read by ParseEnvelope.
const MaxEnvelopeBytes = 16 << 10

// ParseEnvelope reads an envelope (the decision's and attestation's
// effective limits, as written by Envelope and EnvelopeMapped) back into
// Limits and the payload mappings it lists. Empty input and null are the
// unconstrained envelope. Unknown members are ignored (a newer gateway may
// add constraints a bridge does not clamp); a known member that is not
// valid — a limit that is not a finite number ≥ 0, a malformed geofence or
// payloadMap — is MALFORMED_REQUEST, and the caller must not actuate.
func ParseEnvelope(b []byte) (Limits, []Mapping, error) {
	var lim Limits
	bad := func(format string, a ...any) (Limits, []Mapping, error) {
		return Limits{}, nil, codes.New(codes.MalformedRequest, "envelope: "+fmt.Sprintf(format, a...))
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return lim, nil, nil
	}
	if len(b) > MaxEnvelopeBytes {
		return bad("larger than %d bytes", MaxEnvelopeBytes)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return bad("not a JSON object")
	}
	for q := quantity(0); q < nQuantities; q++ {
		v, ok := raw[qName[q]]
		if !ok || string(v) == "null" {
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || !finite(f) || f < 0 {
			return bad("%s is not a finite number ≥ 0", qName[q])
		}
		switch q {
		case qLinear:
			lim.MaxVelocityMps = &f
		case qAngular:
			lim.MaxAngularVelocityRps = &f
		case qAccel:
			lim.MaxAccelerationMps2 = &f
		case qJerk:
			lim.MaxJerkMps3 = &f
		case qForce:
			lim.MaxForceNewtons = &f
		case qTorque:
			lim.MaxTorqueNm = &f
		}
	}
	if v, ok := raw[Geofence]; ok && string(v) != "null" {
		var g struct {
			Frame   string       `json:"frame"`
			Polygon [][2]float64 `json:"polygon"`
		}
		if err := json.Unmarshal(v, &g); err != nil || g.Polygon == nil {
			return bad("geofence must be {\"frame\", \"polygon\"}")
		}
		for _, p := range g.Polygon {
			if !finite(p[0]) || !finite(p[1]) {
				return bad("geofence has a non-finite vertex")
			}
		}
		lim.Geofence, lim.GeofenceFrame = g.Polygon, g.Frame
	}
	var maps []Mapping
	if v, ok := raw[EnvelopeKeyPayloadMap]; ok && string(v) != "null" {
		var specs []MappingSpec
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&specs); err != nil {
			return bad("payloadMap: %v", err)
		}
		for i, s := range specs {
			m, err := NewMapping(s)
			if err != nil {
				return bad("payloadMap[%d]: %v", i, err)
			}
			maps = append(maps, m)
		}
	}
	return lim, maps, nil
}

// numberAt is one number literal of a JSON document: where it is (unescaped
// segments, isIdx marking array indices) and its byte span.
type numberAt struct {
	segs       []string
	isIdx      []bool
	start, end int
	v          float64
	changed    bool
}

// scanNumbers lists every number literal of the JSON document doc with its
// location and byte span. A valid single JSON value (every payload a bridge
// builds) is scanned in one pass (scanNumbersValid); anything else goes
// through the token stream, which also says what is wrong with it.
func scanNumbers(doc []byte) ([]numberAt, error) {
	if json.Valid(doc) {
		return scanNumbersValid(doc)
	}
	return scanNumbersTokens(doc)
}

// scanNumbersTokens is scanNumbers over encoding/json's token stream.
func scanNumbersTokens(doc []byte) ([]numberAt, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type frame struct {
		array bool
		n     int    // elements seen (arrays)
		key   string // pending member name (objects)
		want  bool   // objects: the next token is a member name
	}
	var stack []frame
	var segs []string
	var isIdx []bool
	var out []numberAt
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				segs, isIdx = segs[:len(segs)-1], isIdx[:len(isIdx)-1]
				top := &stack[len(stack)-1]
				if !top.array {
					top.want = true
				}
			}
			continue
		}
		// A member name?
		if len(stack) > 0 && !stack[len(stack)-1].array && stack[len(stack)-1].want {
			stack[len(stack)-1].key, stack[len(stack)-1].want = tok.(string), false
			continue
		}
		// A value: push its location.
		pushed := false
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.array {
				segs, isIdx = append(segs, strconv.Itoa(top.n)), append(isIdx, true)
				top.n++
			} else {
				segs, isIdx = append(segs, top.key), append(isIdx, false)
				top.want = true
			}
			pushed = true
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			// Its location stays pushed until the container closes.
			stack = append(stack, frame{array: v == '[', want: v == '{'})
			continue
		case json.Number:
			end := int(dec.InputOffset())
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return nil, fmt.Errorf("number %s: %v", v, err)
			}
			out = append(out, numberAt{
				segs: append([]string(nil), segs...), isIdx: append([]bool(nil), isIdx...),
				start: end - len(v), end: end, v: f,
			})
		}
		if pushed {
			segs, isIdx = segs[:len(segs)-1], isIdx[:len(isIdx)-1]
		}
	}
}

// ClampJSON scales the mapped values of the JSON object doc down so that
// each is within its limit in lim, and reports whether it changed anything.
// Only the bytes of changed number literals are replaced: the rest of the
// payload reaches the device as the agent sent it. A scalar keeps its sign;
// a vector (an object with x, y, z or an array of numbers at the mapped
// path) is scaled as a whole, keeping its direction. Quantities without a
// limit are left alone. Positions are not clamped (there is no nearest safe
// target to move to): after clamping, the result is checked with
// CheckMapped, and anything still outside lim — a mapped target outside the
// geofence, a mapped path that is missing, a value that is not a number, a
// value of the source table over its limit — is an error, so the caller
// refuses to actuate rather than send an unchecked command.
func ClampJSON(doc []byte, maps []Mapping, lim Limits) ([]byte, bool, error) {
	nums, err := scanNumbers(doc)
	if err != nil {
		return nil, false, codes.Wrap(codes.MalformedRequest, "payload is not valid JSON", err)
	}
	changed := false
	for i := range maps {
		m := &maps[i]
		if !m.present {
			return nil, false, codes.New(codes.MalformedRequest, "payload mapping is invalid")
		}
		if m.q == qPosition {
			continue
		}
		lp := lim.limit(m.q)
		if lp == nil {
			continue
		}
		if clampMapped(nums, m, *lp) {
			changed = true
		}
	}
	out := doc
	if changed {
		var b bytes.Buffer
		last := 0
		for _, n := range nums {
			if !n.changed {
				continue
			}
			b.Write(doc[last:n.start])
			b.WriteString(strconv.FormatFloat(n.v, 'g', -1, 64))
			last = n.end
		}
		b.Write(doc[last:])
		out = b.Bytes()
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, codes.Wrap(codes.MalformedRequest, "payload is not valid JSON", err)
	}
	if r := CheckMapped(v, nil, lim, maps); !r.OK() {
		return nil, false, codes.New(r.Code, "after clamping: "+r.Reason)
	}
	return out, changed, nil
}

// clampMapped clamps the values of nums at m's path: scalars at the path,
// and vectors whose components are the path's children (x, y, z of an
// object, or the elements of an array).
func clampMapped(nums []numberAt, m *Mapping, limit float64) bool {
	changed := false
	// Vectors grouped by their concrete location.
	groups := map[string][]int{}
	var order []string
	for i := range nums {
		n := &nums[i]
		if m.path.matchConcrete(n.segs, n.isIdx) {
			if clampScalar(n, m.u, limit) {
				changed = true
			}
			continue
		}
		k := len(n.segs) - 1
		if k < 0 || !m.path.matchConcrete(n.segs[:k], n.isIdx[:k]) {
			continue
		}
		if !n.isIdx[k] && n.segs[k] != "x" && n.segs[k] != "y" && n.segs[k] != "z" {
			continue // other members of a vector object are not components
		}
		key := fmt.Sprint(n.segs[:k])
		if _, seen := groups[key]; !seen {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	for _, key := range order {
		if clampVector(nums, groups[key], m.u, limit) {
			changed = true
		}
	}
	return changed
}

func clampScalar(n *numberAt, u unit, limit float64) bool {
	if math.Abs(u.toSI(n.v)) <= limit {
		return false
	}
	v := u.fromSI(limit)
	for v > 0 && math.Abs(u.toSI(v)) > limit {
		v = math.Nextafter(v, 0)
	}
	n.v, n.changed = math.Copysign(v, n.v), true
	return true
}

func clampVector(nums []numberAt, idx []int, u unit, limit float64) bool {
	comp := make([]float64, len(idx))
	for i, j := range idx {
		comp[i] = nums[j].v
	}
	nrm := norm(comp)
	if math.Abs(u.toSI(nrm)) <= limit {
		return false
	}
	k := u.fromSI(limit) / nrm
	for tries := 0; ; tries++ {
		for i := range comp {
			comp[i] = nums[idx[i]].v * k
		}
		// Both norms must be inside: the scaled norm above and the plain
		// √Σx² the table sources are read with (checker.addNorm); at the
		// limit they can differ by an ulp.
		if (math.Abs(u.toSI(norm(comp))) <= limit && math.Abs(u.toSI(math.Sqrt(sumSquares(comp)))) <= limit) || tries > 64 {
			break
		}
		k = math.Nextafter(k, 0)
	}
	for i, j := range idx {
		if nums[j].v != comp[i] {
			nums[j].v, nums[j].changed = comp[i], true
		}
	}
	return true
}

// sumSquares is Σx² of s.
func sumSquares(s []float64) float64 {
	var sum float64
	for _, x := range s {
		sum += x * x
	}
	return sum
}

// norm is the Euclidean norm of s without overflow for finite inputs.
func norm(s []float64) float64 {
	var m float64
	for _, x := range s {
		m = math.Max(m, math.Abs(x))
	}
	if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	var sum float64
	for _, x := range s {
		sum += (x / m) * (x / m)
	}
	return m * math.Sqrt(sum)
}

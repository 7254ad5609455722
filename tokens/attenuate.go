package tokens

import (
	"fmt"

	"github.com/sintgate/sintgate/codes"
)

func widening(field, format string, a ...any) *codes.Error {
	return codes.New(codes.ConstraintViolation, "child widens "+field+": "+fmt.Sprintf(format, a...))
}

// CheckAttenuation checks that child only narrows parent (PROTOCOL.md §3.2).
// A widening is rejected, never clamped: the error is a *codes.Error with
// code CONSTRAINT_VIOLATION whose message names the field. Both claim sets
// are assumed schema-valid (as produced by Parse or Sign).
func CheckAttenuation(parent, child *Claims) error {
	if !Contains(parent.Resource, child.Resource) {
		return widening("resource", "%q is not contained in %q", child.Resource, parent.Resource)
	}
	for _, a := range child.Actions {
		if !contains(parent.Actions, a) {
			return widening("actions", "%q is not among the parent's actions", a)
		}
	}
	if child.Tier > parent.Tier {
		return widening("tier", "%d > %d", child.Tier, parent.Tier)
	}
	if child.ExpiresAt > parent.ExpiresAt {
		return widening("expiresAt", "%d > %d", child.ExpiresAt, parent.ExpiresAt)
	}
	if !child.Revocable {
		return widening("revocable", "a delegated token must be revocable")
	}
	pc, cc := &parent.Constraints, &child.Constraints
	for _, f := range []struct {
		name string
		p, c *float64
	}{
		{"constraints.maxVelocityMps", pc.MaxVelocityMps, cc.MaxVelocityMps},
		{"constraints.maxAngularVelocityRps", pc.MaxAngularVelocityRps, cc.MaxAngularVelocityRps},
		{"constraints.maxAccelerationMps2", pc.MaxAccelerationMps2, cc.MaxAccelerationMps2},
		{"constraints.maxJerkMps3", pc.MaxJerkMps3, cc.MaxJerkMps3},
		{"constraints.maxForceNewtons", pc.MaxForceNewtons, cc.MaxForceNewtons},
		{"constraints.maxTorqueNm", pc.MaxTorqueNm, cc.MaxTorqueNm},
	} {
		if f.p == nil {
			continue
		}
		if f.c == nil {
			return widening(f.name, "absent in the child but %v in the parent", *f.p)
		}
		if *f.c > *f.p {
			return widening(f.name, "%v > %v", *f.c, *f.p)
		}
	}
	if pw := pc.TimeWindow; pw != nil {
		cw := cc.TimeWindow
		if cw == nil {
			return widening("constraints.timeWindow", "absent in the child")
		}
		if cw.Start < pw.Start || cw.End > pw.End {
			return widening("constraints.timeWindow", "[%d,%d) is not within [%d,%d)", cw.Start, cw.End, pw.Start, pw.End)
		}
	}
	if pc.MaxRepetitions != nil {
		if cc.MaxRepetitions == nil {
			return widening("constraints.maxRepetitions", "absent in the child")
		}
		if *cc.MaxRepetitions > *pc.MaxRepetitions {
			return widening("constraints.maxRepetitions", "%d > %d", *cc.MaxRepetitions, *pc.MaxRepetitions)
		}
	}
	if pr := pc.RateLimit; pr != nil {
		cr := cc.RateLimit
		if cr == nil {
			return widening("constraints.rateLimit", "absent in the child")
		}
		// No looser under any window semantics: at most as many calls per
		// window, over a window at least as long.
		if cr.MaxCalls > pr.MaxCalls || cr.WindowMs < pr.WindowMs {
			return widening("constraints.rateLimit", "%d per %d ms is looser than %d per %d ms",
				cr.MaxCalls, cr.WindowMs, pr.MaxCalls, pr.WindowMs)
		}
	}
	if pc.RequiresHumanPresence != nil && *pc.RequiresHumanPresence {
		if cc.RequiresHumanPresence == nil || !*cc.RequiresHumanPresence {
			return widening("constraints.requiresHumanPresence", "must stay true")
		}
	}
	if pq := pc.Quorum; pq != nil {
		cq := cc.Quorum
		if cq == nil {
			return widening("constraints.quorum", "absent in the child")
		}
		if cq.Required < pq.Required {
			return widening("constraints.quorum.required", "%d < %d", cq.Required, pq.Required)
		}
		for _, op := range cq.Authorized {
			if !contains(pq.Authorized, op) {
				return widening("constraints.quorum.authorized", "%q is not authorised by the parent", op)
			}
		}
	}
	if pg := pc.Geofence; pg != nil {
		cg := cc.Geofence
		if cg == nil {
			return widening("constraints.geofence", "absent in the child")
		}
		if cg.Frame != pg.Frame {
			return widening("constraints.geofence.frame", "%q is not the parent's frame %q", cg.Frame, pg.Frame)
		}
		if !PolygonContains(pg.Polygon, cg.Polygon) {
			return widening("constraints.geofence.polygon", "not contained in the parent's polygon")
		}
	}
	return nil
}

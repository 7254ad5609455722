package tokens_test

import (
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
	tt "github.com/sintgate/sintgate/tokens/tokentest"
)

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }
func bptr(v bool) *bool      { return &v }

// fullParent has every constraint set, so each can be widened.
func fullParent() tokens.Claims {
	c := tt.Root("root", "alice", 1, now)
	c.Resource = "ros:///arm/**"
	c.Actions = []string{"publish", "call"}
	c.Tier = 4
	c.Constraints = tokens.Constraints{
		MaxVelocityMps: f64(1), MaxAngularVelocityRps: f64(1), MaxAccelerationMps2: f64(1), MaxJerkMps3: f64(1),
		MaxForceNewtons: f64(10), MaxTorqueNm: f64(5),
		Geofence:              &tokens.Geofence{Frame: "map", Polygon: uShape},
		TimeWindow:            &tokens.TimeWindow{Start: now, End: now + tt.Hour},
		MaxRepetitions:        i64(10),
		RateLimit:             &tokens.RateLimit{MaxCalls: 10, WindowMs: 1000},
		RequiresHumanPresence: bptr(true),
		Quorum:                &tokens.Quorum{Required: 2, Authorized: []string{"alice", "bob", "carol"}},
	}
	return c
}

type attCase struct {
	name  string
	edit  func(c *tokens.Claims)
	field string // "" = contained
}

func attenuationCases() []attCase {
	return []attCase{
		{"ok/identical", func(c *tokens.Claims) {}, ""},
		{"ok/narrower-everything", func(c *tokens.Claims) {
			c.Resource = "ros:///arm/joint1"
			c.Actions = []string{"call"}
			c.Tier = 1
			c.ExpiresAt--
			c.Constraints.MaxVelocityMps = f64(0.5)
			c.Constraints.Geofence = &tokens.Geofence{Frame: "map", Polygon: [][2]float64{{0, 0}, {1, 0}, {1, 3}, {0, 3}}}
			c.Constraints.TimeWindow = &tokens.TimeWindow{Start: now + 1, End: now + 2}
			c.Constraints.MaxRepetitions = i64(0)
			c.Constraints.RateLimit = &tokens.RateLimit{MaxCalls: 1, WindowMs: 60000}
			c.Constraints.Quorum = &tokens.Quorum{Required: 2, Authorized: []string{"alice", "bob"}}
		}, ""},
		{"deny/resource", func(c *tokens.Claims) { c.Resource = "ros:///**" }, "resource"},
		{"deny/resource-sibling", func(c *tokens.Claims) { c.Resource = "ros:///base/**" }, "resource"},
		{"deny/action", func(c *tokens.Claims) { c.Actions = []string{"publish", "estop"} }, "actions"},
		{"deny/tier", func(c *tokens.Claims) { c.Tier = 5 }, "tier"},
		{"deny/expiresAt", func(c *tokens.Claims) { c.ExpiresAt++ }, "expiresAt"},
		{"deny/not-revocable", func(c *tokens.Claims) { c.Revocable = false }, "revocable"},
		{"deny/velocity-looser", func(c *tokens.Claims) { c.Constraints.MaxVelocityMps = f64(1.01) }, "constraints.maxVelocityMps"},
		{"deny/velocity-absent", func(c *tokens.Claims) { c.Constraints.MaxVelocityMps = nil }, "constraints.maxVelocityMps"},
		{"deny/angular-looser", func(c *tokens.Claims) { c.Constraints.MaxAngularVelocityRps = f64(2) }, "constraints.maxAngularVelocityRps"},
		{"deny/acceleration-absent", func(c *tokens.Claims) { c.Constraints.MaxAccelerationMps2 = nil }, "constraints.maxAccelerationMps2"},
		{"deny/jerk-looser", func(c *tokens.Claims) { c.Constraints.MaxJerkMps3 = f64(3) }, "constraints.maxJerkMps3"},
		{"deny/force-looser", func(c *tokens.Claims) { c.Constraints.MaxForceNewtons = f64(11) }, "constraints.maxForceNewtons"},
		{"deny/torque-absent", func(c *tokens.Claims) { c.Constraints.MaxTorqueNm = nil }, "constraints.maxTorqueNm"},
		{"deny/timewindow-absent", func(c *tokens.Claims) { c.Constraints.TimeWindow = nil }, "constraints.timeWindow"},
		{"deny/timewindow-later-end", func(c *tokens.Claims) {
			c.Constraints.TimeWindow = &tokens.TimeWindow{Start: now, End: now + tt.Hour + 1}
		}, "constraints.timeWindow"},
		{"deny/timewindow-earlier-start", func(c *tokens.Claims) {
			c.Constraints.TimeWindow = &tokens.TimeWindow{Start: now - 1, End: now + 1}
		}, "constraints.timeWindow"},
		{"deny/repetitions-looser", func(c *tokens.Claims) { c.Constraints.MaxRepetitions = i64(11) }, "constraints.maxRepetitions"},
		{"deny/repetitions-absent", func(c *tokens.Claims) { c.Constraints.MaxRepetitions = nil }, "constraints.maxRepetitions"},
		{"deny/ratelimit-more-calls", func(c *tokens.Claims) {
			c.Constraints.RateLimit = &tokens.RateLimit{MaxCalls: 11, WindowMs: 1000}
		}, "constraints.rateLimit"},
		{"deny/ratelimit-shorter-window", func(c *tokens.Claims) {
			c.Constraints.RateLimit = &tokens.RateLimit{MaxCalls: 1, WindowMs: 100}
		}, "constraints.rateLimit"},
		{"deny/ratelimit-absent", func(c *tokens.Claims) { c.Constraints.RateLimit = nil }, "constraints.rateLimit"},
		{"deny/human-presence-dropped", func(c *tokens.Claims) { c.Constraints.RequiresHumanPresence = bptr(false) }, "constraints.requiresHumanPresence"},
		{"deny/human-presence-absent", func(c *tokens.Claims) { c.Constraints.RequiresHumanPresence = nil }, "constraints.requiresHumanPresence"},
		{"deny/quorum-absent", func(c *tokens.Claims) { c.Constraints.Quorum = nil }, "constraints.quorum"},
		{"deny/quorum-fewer", func(c *tokens.Claims) {
			c.Constraints.Quorum = &tokens.Quorum{Required: 1, Authorized: []string{"alice"}}
		}, "constraints.quorum.required"},
		{"deny/quorum-new-operator", func(c *tokens.Claims) {
			c.Constraints.Quorum = &tokens.Quorum{Required: 2, Authorized: []string{"alice", "mallory"}}
		}, "constraints.quorum.authorized"},
		{"deny/geofence-absent", func(c *tokens.Claims) { c.Constraints.Geofence = nil }, "constraints.geofence"},
		{"deny/geofence-other-frame", func(c *tokens.Claims) {
			c.Constraints.Geofence = &tokens.Geofence{Frame: "odom", Polygon: uShape}
		}, "constraints.geofence.frame"},
		{"deny/geofence-over-notch", func(c *tokens.Claims) {
			c.Constraints.Geofence = &tokens.Geofence{Frame: "map", Polygon: [][2]float64{{0, 0}, {3, 0}, {3, 3}, {0, 3}}}
		}, "constraints.geofence.polygon"},
	}
}

func TestCheckAttenuation(t *testing.T) {
	for _, tc := range attenuationCases() {
		t.Run(tc.name, func(t *testing.T) {
			parent := fullParent()
			child := fullParent()
			tc.edit(&child)
			err := tokens.CheckAttenuation(&parent, &child)
			if tc.field == "" {
				wantCode(t, err, "")
				return
			}
			wantCode(t, err, codes.ConstraintViolation)
			if !strings.Contains(err.Error(), "widens "+tc.field+":") {
				t.Fatalf("error does not name %s: %v", tc.field, err)
			}
		})
	}
	t.Run("ok/unconstrained-parent-any-child-limit", func(t *testing.T) {
		p := tt.Root("root", "alice", 1, now)
		c := p
		c.Constraints.MaxVelocityMps = f64(100)
		wantCode(t, tokens.CheckAttenuation(&p, &c), "")
	})
}

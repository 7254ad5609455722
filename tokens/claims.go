package tokens

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/sintgate/sintgate/codes"
)

// Limits on untrusted token input (PROTOCOL.md §1). They are checked before
// (or while, for the JSON depth) the payload is decoded.
const (
	MaxTokenBytes       = 8 << 10 // whole compact JWS
	MaxJSONDepth        = 32      // nesting of objects and arrays in header or payload
	MaxResourceBytes    = 512
	MaxActionBytes      = 64
	MaxActions          = 64
	MaxGeofenceVertices = 256
	MinGeofenceVertices = 3
	MaxDelegationDepth  = 3                     // depth = len(delegationChain) - 1
	MaxLifetimeMs       = 30 * 24 * 3600 * 1000 // expiresAt - issuedAt
	ClockSkewMs         = 5000                  // issuedAt may be up to 5 s in the future
	MaxQuorumOperators  = 64
	MaxOperatorIDBytes  = 128
	MaxFrameBytes       = 64
)

// Constraints is the physical envelope of a token (PROTOCOL.md §3). A nil
// field is unconstrained by this token. Units are SI.
type Constraints struct {
	MaxVelocityMps        *float64    `json:"maxVelocityMps,omitempty"`
	MaxAngularVelocityRps *float64    `json:"maxAngularVelocityRps,omitempty"`
	MaxAccelerationMps2   *float64    `json:"maxAccelerationMps2,omitempty"`
	MaxJerkMps3           *float64    `json:"maxJerkMps3,omitempty"`
	MaxForceNewtons       *float64    `json:"maxForceNewtons,omitempty"`
	MaxTorqueNm           *float64    `json:"maxTorqueNm,omitempty"`
	Geofence              *Geofence   `json:"geofence,omitempty"`
	TimeWindow            *TimeWindow `json:"timeWindow,omitempty"`
	MaxRepetitions        *int64      `json:"maxRepetitions,omitempty"`
	RateLimit             *RateLimit  `json:"rateLimit,omitempty"`
	RequiresHumanPresence *bool       `json:"requiresHumanPresence,omitempty"`
	Quorum                *Quorum     `json:"quorum,omitempty"`
}

// Geofence is a simple polygon (3..256 vertices, implicitly closed) of [x, y]
// points in metres in the named frame. Containment is boundary-inclusive.
type Geofence struct {
	Frame   string       `json:"frame"`
	Polygon [][2]float64 `json:"polygon"`
}

// TimeWindow restricts use to start ≤ now < end (unix ms).
type TimeWindow struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// RateLimit allows at most MaxCalls calls per WindowMs milliseconds.
type RateLimit struct {
	MaxCalls int64 `json:"maxCalls"`
	WindowMs int64 `json:"windowMs"`
}

// Quorum requires Required distinct approvals from the Authorized operator ids.
type Quorum struct {
	Required   int      `json:"required"`
	Authorized []string `json:"authorized"`
}

// Claims is the payload of a capability token, with exactly the fields of
// PROTOCOL.md §3. Times are unix milliseconds.
type Claims struct {
	TokenID         string      `json:"tokenId"`
	Issuer          string      `json:"issuer"`
	Subject         string      `json:"subject"`
	Resource        string      `json:"resource"`
	Actions         []string    `json:"actions"`
	Constraints     Constraints `json:"constraints"`
	Tier            int         `json:"tier"`
	IssuedAt        int64       `json:"issuedAt"`
	ExpiresAt       int64       `json:"expiresAt"`
	NotBefore       *int64      `json:"notBefore,omitempty"`
	DelegationChain []string    `json:"delegationChain"`
	ParentTokenID   *string     `json:"parentTokenId"`
	Nonce           string      `json:"nonce"`
	Revocable       bool        `json:"revocable"`
}

// Depth is the delegation depth claimed by the token: len(delegationChain)-1.
func (c *Claims) Depth() int { return len(c.DelegationChain) - 1 }

func malformed(format string, a ...any) *codes.Error {
	return codes.New(codes.MalformedToken, fmt.Sprintf(format, a...))
}

// validHexKey reports whether s is 64 lowercase hex characters.
func validHexKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func decodeHexKey(s string) ([]byte, bool) {
	if !validHexKey(s) {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// validUUID reports whether s is a lowercase hyphenated UUID of the given
// version with the RFC 9562 variant.
func validUUID(s string, version byte) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	if s[14] != '0'+version {
		return false
	}
	switch s[19] {
	case '8', '9', 'a', 'b':
		return true
	}
	return false
}

// ValidAction reports whether a is an action: [a-z0-9._-]{1,64}.
func ValidAction(a string) bool {
	if len(a) == 0 || len(a) > MaxActionBytes {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func finiteNonNeg(name string, p *float64) error {
	if p == nil {
		return nil
	}
	if math.IsNaN(*p) || math.IsInf(*p, 0) || *p < 0 {
		return malformed("constraints.%s must be a finite number ≥ 0", name)
	}
	return nil
}

// validate checks every schema rule of PROTOCOL.md §3 that a single token can
// be checked against on its own. Chain rules (issuer, delegationChain,
// parentTokenId consistency) belong to verification step 3 and are checked
// there, not here, except for shapes (every chain entry a key, non-empty).
func (c *Claims) validate() error {
	if !validUUID(c.TokenID, 7) {
		return malformed("tokenId must be a lowercase UUIDv7")
	}
	if !validHexKey(c.Issuer) {
		return malformed("issuer must be 64 lowercase hex")
	}
	if !validHexKey(c.Subject) {
		return malformed("subject must be 64 lowercase hex")
	}
	if len(c.Resource) > MaxResourceBytes {
		return malformed("resource longer than %d bytes", MaxResourceBytes)
	}
	if err := ValidPattern(c.Resource); err != nil {
		return malformed("resource: %v", err)
	}
	if len(c.Actions) == 0 || len(c.Actions) > MaxActions {
		return malformed("actions must have 1..%d entries", MaxActions)
	}
	for i, a := range c.Actions {
		if !ValidAction(a) {
			return malformed("actions[%d] is not [a-z0-9._-]{1,64}", i)
		}
		for _, b := range c.Actions[:i] {
			if a == b {
				return malformed("actions[%d] is a duplicate", i)
			}
		}
	}
	if c.Tier < 1 || c.Tier > 5 {
		return malformed("tier must be 1..5")
	}
	if c.ExpiresAt <= c.IssuedAt {
		return malformed("expiresAt must be after issuedAt")
	}
	if c.ExpiresAt-c.IssuedAt > MaxLifetimeMs || c.ExpiresAt-c.IssuedAt < 0 {
		return malformed("expiresAt - issuedAt exceeds 30 days")
	}
	if c.IssuedAt < 0 {
		return malformed("issuedAt must be ≥ 0")
	}
	if c.NotBefore != nil && *c.NotBefore < 0 {
		return malformed("notBefore must be ≥ 0")
	}
	if len(c.DelegationChain) == 0 {
		return malformed("delegationChain must not be empty")
	}
	for i, k := range c.DelegationChain {
		if !validHexKey(k) {
			return malformed("delegationChain[%d] must be 64 lowercase hex", i)
		}
	}
	if c.ParentTokenID != nil && !validUUID(*c.ParentTokenID, 7) {
		return malformed("parentTokenId must be a lowercase UUIDv7 or null")
	}
	if !validUUID(c.Nonce, 4) {
		return malformed("nonce must be a lowercase UUIDv4")
	}
	return c.Constraints.validate()
}

func (k *Constraints) validate() error {
	for _, f := range []struct {
		name string
		v    *float64
	}{
		{"maxVelocityMps", k.MaxVelocityMps},
		{"maxAngularVelocityRps", k.MaxAngularVelocityRps},
		{"maxAccelerationMps2", k.MaxAccelerationMps2},
		{"maxJerkMps3", k.MaxJerkMps3},
		{"maxForceNewtons", k.MaxForceNewtons},
		{"maxTorqueNm", k.MaxTorqueNm},
	} {
		if err := finiteNonNeg(f.name, f.v); err != nil {
			return err
		}
	}
	if g := k.Geofence; g != nil {
		if err := g.Validate(); err != nil {
			return err
		}
	}
	if w := k.TimeWindow; w != nil && (w.Start < 0 || w.End <= w.Start) {
		return malformed("constraints.timeWindow must have 0 ≤ start < end")
	}
	if k.MaxRepetitions != nil && *k.MaxRepetitions < 0 {
		return malformed("constraints.maxRepetitions must be ≥ 0")
	}
	if r := k.RateLimit; r != nil && (r.MaxCalls < 0 || r.WindowMs < 1) {
		return malformed("constraints.rateLimit must have maxCalls ≥ 0 and windowMs ≥ 1")
	}
	if q := k.Quorum; q != nil {
		if len(q.Authorized) == 0 || len(q.Authorized) > MaxQuorumOperators {
			return malformed("constraints.quorum.authorized must have 1..%d operator ids", MaxQuorumOperators)
		}
		if q.Required < 1 || q.Required > len(q.Authorized) {
			return malformed("constraints.quorum.required must be 1..len(authorized)")
		}
		for i, op := range q.Authorized {
			if op == "" || len(op) > MaxOperatorIDBytes {
				return malformed("constraints.quorum.authorized[%d] must be 1..%d bytes", i, MaxOperatorIDBytes)
			}
			for _, o := range q.Authorized[:i] {
				if o == op {
					return malformed("constraints.quorum.authorized[%d] is a duplicate", i)
				}
			}
		}
	}
	return nil
}

// Validate checks a geofence on its own: a frame of 1..64 printable ASCII
// characters and a simple polygon of 3..256 finite vertices with non-zero
// area. Errors are *codes.Error with code MALFORMED_TOKEN.
func (g *Geofence) Validate() error {
	if g.Frame == "" || len(g.Frame) > MaxFrameBytes || strings.ContainsFunc(g.Frame, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return malformed("constraints.geofence.frame must be 1..%d printable ASCII", MaxFrameBytes)
	}
	if len(g.Polygon) < MinGeofenceVertices || len(g.Polygon) > MaxGeofenceVertices {
		return malformed("constraints.geofence.polygon must have %d..%d vertices", MinGeofenceVertices, MaxGeofenceVertices)
	}
	if err := validPolygon(g.Polygon); err != nil {
		return malformed("constraints.geofence.polygon: %v", err)
	}
	return nil
}

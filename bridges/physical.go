package bridges

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync/atomic"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// Payload mappings on bridge routes (docs/bridges.md, "Physical payloads"):
// every bridge parses a route's mappings with ParseMappings and clamps an
// allowed payload with ClampPayload, so that the transports share one
// reading of the envelope and one clamp.

// MaxMappingSpecBytes bounds one route's mapping spec.
const MaxMappingSpecBytes = 16 << 10

// ParseMappings parses a route's payload mappings: one JSON mapping object
// or a non-empty array of them, with the members of physics.MappingSpec
// ({"path","quantity","unit"}; a position {"quantity":"position","x","y",
// "unit","frame"}). Unknown members, unknown quantities, units a quantity
// cannot be converted from and bad paths are MALFORMED_REQUEST errors.
func ParseMappings(doc string) ([]physics.Mapping, error) {
	bad := func(msg string, err error) ([]physics.Mapping, error) {
		return nil, codes.Wrap(codes.MalformedRequest, "payload mapping: "+msg, err)
	}
	if len(doc) > MaxMappingSpecBytes {
		return bad("spec too long", nil)
	}
	doc = strings.TrimSpace(doc)
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var specs []physics.MappingSpec
	var err error
	if strings.HasPrefix(doc, "[") {
		err = dec.Decode(&specs)
	} else {
		var one physics.MappingSpec
		err = dec.Decode(&one)
		specs = append(specs, one)
	}
	if err != nil {
		return bad(err.Error(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("data after the JSON value", nil)
	}
	if len(specs) == 0 {
		return bad("empty list", nil)
	}
	maps := make([]physics.Mapping, 0, len(specs))
	for _, s := range specs {
		m, err := physics.NewMapping(s)
		if err != nil {
			msg := err.Error()
			var ce *codes.Error
			if errors.As(err, &ce) {
				msg = ce.Message
			}
			return bad(strings.TrimPrefix(msg, "payload mapping: "), err)
		}
		maps = append(maps, m)
	}
	return maps, nil
}

// ClampPayload applies an attested envelope to an allowed JSON payload: the
// route's own mappings and those the envelope lists (payloadMap, the
// policy's) are clamped to the envelope's limits (physics.ClampJSON). It
// returns the bytes to actuate — payload itself when nothing is mapped or
// nothing changed — and whether they differ. An envelope it cannot read, or
// a mapped value it cannot bring inside the envelope (a missing path, a
// value that is not a number, a target outside the geofence), is an error:
// the caller must not actuate.
func ClampPayload(routeMaps []physics.Mapping, envelope, payload []byte) ([]byte, bool, error) {
	lim, envMaps, err := physics.ParseEnvelope(envelope)
	if err != nil {
		return nil, false, err
	}
	return clampParsed(routeMaps, lim, envMaps, payload)
}

// EnvelopeCache is ClampPayload for a route whose allows carry the same
// envelope message after message (the same token and policy): it keeps the
// last envelope it parsed (its exact bytes, the limits and mappings read
// from them, never modified after) and parses again only when the bytes
// differ. An envelope that does not parse is not kept. The zero value is
// ready; it is safe for concurrent use.
type EnvelopeCache struct {
	last atomic.Pointer[parsedEnvelope]
}

type parsedEnvelope struct {
	raw  string
	lim  physics.Limits
	maps []physics.Mapping
}

// ClampPayload is the package's ClampPayload with the envelope parsed once.
func (c *EnvelopeCache) ClampPayload(routeMaps []physics.Mapping, envelope, payload []byte) ([]byte, bool, error) {
	p := c.last.Load()
	if p == nil || p.raw != string(envelope) {
		lim, maps, err := physics.ParseEnvelope(envelope)
		if err != nil {
			return nil, false, err
		}
		p = &parsedEnvelope{raw: string(envelope), lim: lim, maps: maps}
		c.last.Store(p)
	}
	return clampParsed(routeMaps, p.lim, p.maps, payload)
}

func clampParsed(routeMaps []physics.Mapping, lim physics.Limits, envMaps []physics.Mapping, payload []byte) ([]byte, bool, error) {
	maps := routeMaps
	if len(envMaps) > 0 {
		maps = append(append([]physics.Mapping(nil), routeMaps...), envMaps...)
	}
	if len(maps) == 0 {
		return payload, false, nil
	}
	out, changed, err := physics.ClampJSON(payload, maps, lim)
	if err != nil {
		return nil, false, err
	}
	if changed && bytes.Equal(out, payload) {
		changed = false
	}
	return out, changed, nil
}

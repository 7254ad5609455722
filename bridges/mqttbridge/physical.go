package mqttbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// MaxMappingSpecBytes bounds one --map spec.
const MaxMappingSpecBytes = 16 << 10

// SetMapping parses "DEVICE_TOPIC=JSON", where JSON is one payload mapping
// object or an array of them ({"path","quantity","unit"} or, for a
// position, {"quantity":"position","x","y","unit","frame"}; docs/mqtt.md),
// and adds the mappings to the route with that device topic in routes.
// Unknown members, unknown quantities and units a quantity cannot be
// converted from are errors (MALFORMED_REQUEST).
func SetMapping(routes []Route, spec string) error {
	bad := func(msg string, err error) error {
		return codes.Wrap(codes.MalformedRequest, "payload mapping: "+msg, err)
	}
	if len(spec) > MaxMappingSpecBytes {
		return bad("spec too long", nil)
	}
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return bad("want DEVICE_TOPIC=JSON", nil)
	}
	if err := checkTopic(topic); err != nil {
		return bad(err.Error(), err)
	}
	doc = strings.TrimSpace(doc)
	var specs []physics.MappingSpec
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var err error
	if strings.HasPrefix(doc, "[") {
		err = dec.Decode(&specs)
	} else {
		var one physics.MappingSpec
		err = dec.Decode(&one)
		specs = append(specs, one)
	}
	if err != nil {
		return bad(topic+": "+err.Error(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(topic+": data after the JSON value", nil)
	}
	if len(specs) == 0 {
		return bad(topic+": empty list", nil)
	}
	var maps []physics.Mapping
	for _, s := range specs {
		m, err := physics.NewMapping(s)
		if err != nil {
			return bad(topic+": "+strings.TrimPrefix(err.Error(), "MALFORMED_REQUEST: "), err)
		}
		maps = append(maps, m)
	}
	for i := range routes {
		if routes[i].Device == topic {
			routes[i].Mappings = append(routes[i].Mappings, maps...)
			return nil
		}
	}
	return bad("no route has device topic "+topic, nil)
}

// SetNonPhysical declares the route with device topic topic non-physical:
// its payloads command nothing that moves or pushes (a lamp, a display), so
// it needs no payload mapping.
func SetNonPhysical(routes []Route, topic string) error {
	for i := range routes {
		if routes[i].Device == topic {
			routes[i].NonPhysical = true
			return nil
		}
	}
	return codes.New(codes.MalformedRequest, "non-physical: no route has device topic "+topic)
}

// checkPhysical refuses a route that neither maps its payload nor is
// declared non-physical: an MQTT payload has no type, so the bridge (and
// the gateway's source table) cannot tell a motion command whose speed is
// under a field name of its own from a lamp, and such a route would carry
// motion no limit is ever applied to.
func checkPhysical(r Route) error {
	switch {
	case len(r.Mappings) == 0 && !r.NonPhysical:
		return codes.New(codes.MalformedRequest, fmt.Sprintf(
			"route %s=%s has no payload mapping: map its physical values (--map %s=JSON) or declare it non-physical (--non-physical %s)",
			r.Agent, r.Device, r.Device, r.Device))
	case len(r.Mappings) > 0 && r.NonPhysical:
		return codes.New(codes.MalformedRequest, fmt.Sprintf("route %s=%s is both mapped and declared non-physical", r.Agent, r.Device))
	}
	for _, m := range r.Mappings {
		if m.Spec().Quantity == "" {
			return codes.New(codes.MalformedRequest, fmt.Sprintf("route %s=%s has an invalid payload mapping", r.Agent, r.Device))
		}
	}
	return nil
}

// clampPayload applies the attested envelope to payload: the route's own
// mappings and those the envelope lists (payloadMap, the policy's) are
// clamped to the envelope's limits (physics.ClampJSON). It returns the
// bytes to publish — payload itself when nothing was mapped or changed —
// and whether they differ. An envelope it cannot read, a mapped value it
// cannot bring inside the envelope (a missing path, a target outside the
// geofence) is an error: the caller must not publish.
func clampPayload(routeMaps []physics.Mapping, envelope, payload []byte) ([]byte, bool, error) {
	lim, envMaps, err := physics.ParseEnvelope(envelope)
	if err != nil {
		return nil, false, err
	}
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

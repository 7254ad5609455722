package mqttbridge

import (
	"fmt"
	"strings"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/codes"
)

// SetMapping parses "DEVICE_TOPIC=JSON", where JSON is one payload mapping
// object or an array of them ({"path","quantity","unit"} or, for a
// position, {"quantity":"position","x","y","unit","frame"}; docs/mqtt.md),
// and adds the mappings to the route with that device topic in routes.
// Unknown members, unknown quantities and units a quantity cannot be
// converted from are errors (MALFORMED_REQUEST).
func SetMapping(routes []Route, spec string) error {
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return codes.New(codes.MalformedRequest, "payload mapping: want DEVICE_TOPIC=JSON")
	}
	if err := checkTopic(topic); err != nil {
		return codes.Wrap(codes.MalformedRequest, "payload mapping: "+err.Error(), err)
	}
	maps, err := bridges.ParseMappings(doc)
	if err != nil {
		return codes.Wrap(codes.MalformedRequest, topic+": "+err.Error(), err)
	}
	for i := range routes {
		if routes[i].Device == topic {
			routes[i].Mappings = append(routes[i].Mappings, maps...)
			return nil
		}
	}
	return codes.New(codes.MalformedRequest, "payload mapping: no route has device topic "+topic)
}

// SetNonPhysical declares the route with device topic topic non-physical:
// its payloads carry no speed, force, torque or position (a valve's state, a
// lamp, a display), so it needs no payload mapping.
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

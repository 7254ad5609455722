package rosbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/codes"
)

// typedMotion reports whether t is a message type whose physical values
// the bridge knows by type (Clamp): geometry_msgs/Twist and
// trajectory_msgs/JointTrajectory.
func typedMotion(t msgs.Type) bool {
	return t.Name == msgs.TwistType.Name || t.Name == msgs.JointTrajectoryType.Name
}

// SetMapping parses "ACTUATOR_TOPIC=JSON" (one payload mapping object or an
// array, bridges.ParseMappings; paths are into the message's JSON form, e.g.
// /velocity/* of a sensor_msgs/JointState) and adds the mappings to the
// route with that actuator topic in routes.
func SetMapping(routes []Route, spec string) error {
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return codes.New(codes.MalformedRequest, "payload mapping: want ACTUATOR_TOPIC=JSON")
	}
	topic, err := topicName(topic)
	if err != nil {
		return codes.Wrap(codes.MalformedRequest, "payload mapping: "+err.Error(), err)
	}
	maps, err := bridges.ParseMappings(doc)
	if err != nil {
		return codes.Wrap(codes.MalformedRequest, topic+": "+err.Error(), err)
	}
	for i := range routes {
		if routes[i].Actuator == topic {
			routes[i].Mappings = append(routes[i].Mappings, maps...)
			return nil
		}
	}
	return codes.New(codes.MalformedRequest, "payload mapping: no route has actuator topic "+topic)
}

// SetNonPhysical declares the route with actuator topic topic non-physical
// (its messages carry no speed, force, torque or position).
func SetNonPhysical(routes []Route, topic string) error {
	topic, err := topicName(topic)
	if err != nil {
		return codes.Wrap(codes.MalformedRequest, "non-physical: "+err.Error(), err)
	}
	for i := range routes {
		if routes[i].Actuator == topic {
			routes[i].NonPhysical = true
			return nil
		}
	}
	return codes.New(codes.MalformedRequest, "non-physical: no route has actuator topic "+topic)
}

// CheckPhysical refuses a route of a type the bridge does not clamp by type
// unless it maps its physical values or is declared non-physical; a typed
// motion route (Twist, JointTrajectory) cannot be declared non-physical.
func CheckPhysical(r Route) error {
	switch {
	case typedMotion(r.Type) && r.NonPhysical:
		return codes.New(codes.MalformedRequest, fmt.Sprintf("route %s=%s: %s is a motion type; it cannot be declared non-physical", r.Agent, r.Actuator, r.Type.Name))
	case !typedMotion(r.Type) && len(r.Mappings) == 0 && !r.NonPhysical:
		return codes.New(codes.MalformedRequest, fmt.Sprintf(
			"route %s=%s (%s) has no payload mapping: map its physical values (--map %s=JSON) or declare it non-physical (--non-physical %s)",
			r.Agent, r.Actuator, r.Type.Name, r.Actuator, r.Actuator))
	case len(r.Mappings) > 0 && r.NonPhysical:
		return codes.New(codes.MalformedRequest, fmt.Sprintf("route %s=%s is both mapped and declared non-physical", r.Agent, r.Actuator))
	}
	return nil
}

// clampMapped clamps the mapped values of m (the route's mappings and the
// envelope's payloadMap, in the message's JSON form) to the envelope with
// bridges.ClampPayload and returns the message to publish (m itself when
// nothing changed). A value it cannot bring inside the envelope, or a
// clamped JSON form the message type cannot hold (a fraction in an integer
// field), is an error: the caller must not publish.
func clampMapped(r Route, m msgs.Message, envelope []byte) (msgs.Message, bool, error) {
	js, err := json.Marshal(msgs.ToJSON(m))
	if err != nil {
		return nil, false, codes.Wrap(codes.MalformedRequest, "message has no JSON form", err)
	}
	out, changed, err := bridges.ClampPayload(r.Mappings, envelope, js)
	if err != nil || !changed {
		return m, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, false, codes.Wrap(codes.MalformedRequest, "clamped message", err)
	}
	cm, err := msgs.FromJSON(r.Type, v)
	if err != nil {
		return nil, false, err
	}
	return cm, true, nil
}

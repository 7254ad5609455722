package ros2bridge

import (
	"fmt"
	"strings"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// Route maps an agent-facing ROS 2 topic to an actuator topic.
type Route struct {
	Agent    string    // agent-facing topic the bridge reads, e.g. /agent/cmd_vel
	Actuator string    // actuator topic the bridge writes, e.g. /cmd_vel
	Type     msgs.Type // message type of both topics
	// QoS of the route's reader and writer; zero: ROS 2's default profile
	// (reliable, volatile, keep-last 10).
	QoS dds.QoS
	// SafeStop is written on Actuator when the route stops (the bridge
	// latched, or a refused command under a stopping policy) and re-sent
	// while the stop lasts. Nil: a zero Twist (TwistStamped, Wrench) for
	// those routes, an empty trajectory (which stops a trajectory
	// controller) for JointTrajectory routes, nothing for other types.
	SafeStop msgs.Message

	// Physical payload: Twist, TwistStamped, Wrench and JointTrajectory
	// routes are clamped by type (TypeMappings); PoseStamped targets are
	// checked by the gateway (pose.position, geofence). A route of any other
	// type has Mappings (paths into the message's JSON form) or is
	// NonPhysical, else New refuses it.
	Mappings    []physics.Mapping
	NonPhysical bool

	// Stop semantics (package stopsem): set by SetStopPolicy.
	Stop stopsem.Policy
}

// Resource is the intercept resource of the route: ros2:///<actuator
// topic without its leading slash>.
func (r Route) Resource() string { return "ros2:///" + strings.TrimPrefix(r.Actuator, "/") }

// typeMappingSpecs are the physical values of the typed motion messages,
// in their JSON form: what the gateway's physics table reads (docs/protocol.md
// §5.4) and what the bridge clamps to the attested envelope.
var typeMappingSpecs = map[string]string{
	msgs.TwistType.Name: `[{"path":"/linear","quantity":"linearVelocity","unit":"m/s"},` +
		`{"path":"/angular","quantity":"angularVelocity","unit":"rad/s"}]`,
	msgs.TwistStampedType.Name: `[{"path":"/twist/linear","quantity":"linearVelocity","unit":"m/s"},` +
		`{"path":"/twist/angular","quantity":"angularVelocity","unit":"rad/s"}]`,
	msgs.WrenchType.Name: `[{"path":"/force","quantity":"force","unit":"N"},` +
		`{"path":"/torque","quantity":"torque","unit":"N·m"}]`,
	msgs.JointTrajectoryType.Name: `[{"path":"/points/*/velocities","quantity":"angularVelocity","unit":"rad/s"}]`,
}

// TypeMappings returns the built-in clamp mappings of a message type (nil
// for types without).
func TypeMappings(t msgs.Type) []physics.Mapping {
	spec, ok := typeMappingSpecs[t.Name]
	if !ok {
		return nil
	}
	m, err := bridges.ParseMappings(spec)
	if err != nil {
		panic("ros2bridge: built-in mapping of " + t.Name + ": " + err.Error())
	}
	return m
}

// typedMotion reports whether the gateway and the bridge know the physical
// values of t by type.
func typedMotion(t msgs.Type) bool {
	_, ok := typeMappingSpecs[t.Name]
	return ok || t.Name == msgs.PoseStampedType.Name
}

// safeStop returns the route's safe-stop message, or nil.
func (r Route) safeStop() msgs.Message {
	if r.SafeStop != nil {
		return r.SafeStop
	}
	switch r.Type.Name {
	case msgs.TwistType.Name:
		return &msgs.Twist{}
	case msgs.TwistStampedType.Name:
		return &msgs.TwistStamped{}
	case msgs.WrenchType.Name:
		return &msgs.Wrench{}
	case msgs.JointTrajectoryType.Name:
		return &msgs.JointTrajectory{}
	}
	return nil
}

// ParseRoute parses "AGENT_TOPIC=ACTUATOR_TOPIC[:TYPE]" (TYPE default
// geometry_msgs/msg/Twist; geometry_msgs/Twist is accepted), e.g.
// "/agent/cmd_vel=/cmd_vel". Topics are global names (topicbridge.TopicName);
// the two topics must differ.
func ParseRoute(s string) (Route, error) {
	bad := func(msg string) (Route, error) {
		return Route{}, codes.New(codes.MalformedRequest, fmt.Sprintf("route %q: %s", s, msg))
	}
	agent, rest, ok := strings.Cut(s, "=")
	if !ok {
		return bad("want AGENT_TOPIC=ACTUATOR_TOPIC[:TYPE]")
	}
	act, typ, hasType := strings.Cut(rest, ":")
	t := msgs.TwistType
	if hasType {
		var found bool
		if t, found = msgs.Lookup(typ); !found {
			return bad("unknown message type " + typ)
		}
	}
	a, err := topicbridge.TopicName(agent)
	if err != nil {
		return bad(err.Error())
	}
	b, err := topicbridge.TopicName(act)
	if err != nil {
		return bad(err.Error())
	}
	if a == b {
		return bad("agent and actuator topics are the same")
	}
	return Route{Agent: a, Actuator: b, Type: t}, nil
}

// routeFor returns the route with actuator topic topic (after checking it).
func routeFor(routes []Route, what, topic string) (*Route, error) {
	topic, err := topicbridge.TopicName(topic)
	if err != nil {
		return nil, codes.Wrap(codes.MalformedRequest, what+": "+err.Error(), err)
	}
	for i := range routes {
		if routes[i].Actuator == topic {
			return &routes[i], nil
		}
	}
	return nil, codes.New(codes.MalformedRequest, what+": no route has actuator topic "+topic)
}

// MaxSafeStopBytes bounds a safe-stop spec.
const MaxSafeStopBytes = 64 << 10

// SetSafeStop parses "ACTUATOR_TOPIC=JSON" (the message's JSON form, e.g.
// `/cmd_vel={"linear":{"x":0}}`) and sets it as the safe-stop message of
// the route with that actuator topic.
func SetSafeStop(routes []Route, spec string) error {
	if len(spec) > MaxSafeStopBytes {
		return codes.New(codes.MalformedRequest, "safe stop: spec too long")
	}
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return codes.New(codes.MalformedRequest, "safe stop: want ACTUATOR_TOPIC=JSON")
	}
	r, err := routeFor(routes, "safe stop", topic)
	if err != nil {
		return err
	}
	m, err := msgs.UnmarshalJSON(r.Type, []byte(doc))
	if err != nil {
		return codes.Wrap(codes.MalformedRequest, "safe stop: "+err.Error(), err)
	}
	r.SafeStop = m
	return nil
}

// SetQoS parses "ACTUATOR_TOPIC=QOS" (dds.ParseQoS, e.g.
// `/cmd_vel=best_effort,depth=1`) and sets it as the QoS of the route with
// that actuator topic (its agent reader and actuator writer).
func SetQoS(routes []Route, spec string) error {
	topic, q, ok := strings.Cut(spec, "=")
	if !ok {
		return codes.New(codes.MalformedRequest, "qos: want ACTUATOR_TOPIC=QOS")
	}
	r, err := routeFor(routes, "qos", topic)
	if err != nil {
		return err
	}
	if r.QoS, err = dds.ParseQoS(q); err != nil {
		return codes.Wrap(codes.MalformedRequest, err.Error(), err)
	}
	return nil
}

// SetMapping parses "ACTUATOR_TOPIC=JSON" (payload mappings,
// bridges.ParseMappings; paths into the message's JSON form, e.g. /data/*
// of a Float64MultiArray) and adds them to the route with that actuator
// topic.
func SetMapping(routes []Route, spec string) error {
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return codes.New(codes.MalformedRequest, "payload mapping: want ACTUATOR_TOPIC=JSON")
	}
	r, err := routeFor(routes, "payload mapping", topic)
	if err != nil {
		return err
	}
	maps, err := bridges.ParseMappings(doc)
	if err != nil {
		return codes.Wrap(codes.MalformedRequest, r.Actuator+": "+err.Error(), err)
	}
	r.Mappings = append(r.Mappings, maps...)
	return nil
}

// SetNonPhysical declares the route with actuator topic topic non-physical
// (its messages carry no speed, force, torque or position).
func SetNonPhysical(routes []Route, topic string) error {
	r, err := routeFor(routes, "non-physical", topic)
	if err != nil {
		return err
	}
	r.NonPhysical = true
	return nil
}

// SetStopPolicy parses "ACTUATOR_TOPIC=POLICY" (stopsem.ParsePolicySpec)
// and sets it as the stop policy of the route with that actuator topic.
func SetStopPolicy(routes []Route, spec string) error {
	topic, p, err := stopsem.ParsePolicySpec(spec)
	if err != nil {
		return err
	}
	r, err := routeFor(routes, "stop policy", topic)
	if err != nil {
		return err
	}
	r.Stop = p
	return nil
}

// CheckPhysical refuses a route of a type the bridge does not know by type
// unless it maps its physical values or is declared non-physical; a typed
// motion route cannot be declared non-physical.
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

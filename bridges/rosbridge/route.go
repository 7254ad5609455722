package rosbridge

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// MaxTopicLen bounds a topic name in a route.
const MaxTopicLen = topicbridge.MaxTopicLen

// Route maps an agent-facing topic to an actuator topic.
type Route struct {
	Agent    string    // agent-facing topic the bridge subscribes to, e.g. /agent/cmd_vel
	Actuator string    // actuator topic the bridge publishes on, e.g. /cmd_vel
	Type     msgs.Type // message type of both topics
	// SafeStop is published on Actuator when the route stops (the bridge
	// latched, or a refused command under a stopping policy) and kept for
	// late subscribers until the next actuated command. Nil: a zero Twist
	// for Twist routes, an empty trajectory (which stops a trajectory
	// controller) for JointTrajectory routes, nothing for other types.
	SafeStop msgs.Message

	// Physical payload (docs/ros.md, "Physical payloads"). Twist and
	// JointTrajectory routes are clamped by type (Clamp); a route of any
	// other type has Mappings (paths into the message's JSON form, clamped
	// to the attested envelope) or is NonPhysical, else New refuses it.
	Mappings    []physics.Mapping
	NonPhysical bool

	// Stop semantics (package stopsem, docs/stop-semantics.md): what a
	// refused command means for the route, whether it is a motion route
	// (every route is, unless it says motion=false) and how often its
	// stop is re-sent. Zero: the defaults. Set by SetStopPolicy.
	Stop stopsem.Policy
}

// Resource is the intercept resource of the route: ros:///<actuator topic
// without its leading slash>.
func (r Route) Resource() string { return "ros:///" + strings.TrimPrefix(r.Actuator, "/") }

// safeStop returns the route's safe-stop message, or nil.
func (r Route) safeStop() msgs.Message {
	if r.SafeStop != nil {
		return r.SafeStop
	}
	switch r.Type.Name {
	case msgs.TwistType.Name:
		return &msgs.Twist{}
	case msgs.JointTrajectoryType.Name:
		return &msgs.JointTrajectory{}
	}
	return nil
}

// SetStopPolicy parses "ACTUATOR_TOPIC=POLICY" (stopsem.ParsePolicySpec,
// e.g. `/cmd_vel=deny=hold-then-stop:500ms,resend=100ms`) and sets it as
// the stop policy of the route with that actuator topic in routes.
func SetStopPolicy(routes []Route, spec string) error {
	topic, p, err := stopsem.ParsePolicySpec(spec)
	if err != nil {
		return err
	}
	if topic, err = topicName(topic); err != nil {
		return codes.Wrap(codes.MalformedRequest, "stop policy: "+err.Error(), err)
	}
	for i := range routes {
		if routes[i].Actuator == topic {
			routes[i].Stop = p
			return nil
		}
	}
	return codes.New(codes.MalformedRequest, "stop policy: no route has actuator topic "+topic)
}

// ParseRoute parses "AGENT_TOPIC=ACTUATOR_TOPIC[:TYPE]" (TYPE default
// geometry_msgs/Twist), e.g. "/agent/cmd_vel=/cmd_vel". Topics are global
// names: segments of [A-Za-z0-9_], separated by '/', starting with a letter
// or '/' (a leading '/' is added); the two topics must differ.
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
	a, err := topicName(agent)
	if err != nil {
		return bad(err.Error())
	}
	b, err := topicName(act)
	if err != nil {
		return bad(err.Error())
	}
	if a == b {
		return bad("agent and actuator topics are the same")
	}
	return Route{Agent: a, Actuator: b, Type: t}, nil
}

// topicName checks a global topic name (topicbridge.TopicName).
func topicName(s string) (string, error) { return topicbridge.TopicName(s) }

// MaxSafeStopBytes bounds a safe-stop spec.
const MaxSafeStopBytes = 64 << 10

// SetSafeStop parses "ACTUATOR_TOPIC=JSON" (the message in the JSON mapping
// of msgs.FromJSON, e.g. `/cmd_vel={"linear":{"x":0}}`) and sets it as the
// safe-stop message of the route with that actuator topic in routes.
func SetSafeStop(routes []Route, spec string) error {
	bad := func(msg string, err error) error {
		return codes.Wrap(codes.MalformedRequest, "safe stop: "+msg, err)
	}
	if len(spec) > MaxSafeStopBytes {
		return bad("spec too long", nil)
	}
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return bad("want ACTUATOR_TOPIC=JSON", nil)
	}
	topic, err := topicName(topic)
	if err != nil {
		return bad(err.Error(), err)
	}
	for i := range routes {
		if routes[i].Actuator != topic {
			continue
		}
		var v map[string]any
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil || v == nil || dec.More() {
			return bad("not a JSON object", err)
		}
		m, err := msgs.FromJSON(routes[i].Type, v)
		if err != nil {
			return bad(err.Error(), err)
		}
		if _, err := json.Marshal(msgs.ToJSON(m)); err != nil {
			return bad("not finite", err) // 1e999 decodes to +Inf
		}
		routes[i].SafeStop = m
		return nil
	}
	return bad("no route has actuator topic "+topic, nil)
}

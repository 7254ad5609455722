package mqttbridge

import (
	"fmt"
	"strings"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// Limits on route specs.
const (
	MaxTopicLen      = 256      // bytes of one topic name in a route
	MaxBrokerNameLen = 64       // bytes of the broker name in resources
	MaxSafeStopBytes = 16 << 10 // bytes of a safe-stop spec
)

// Route maps an agent-facing topic to a device topic.
type Route struct {
	Agent  string // topic the bridge subscribes to, e.g. agent/line1/valve7
	Device string // topic the bridge publishes on (QoS 1), e.g. line1/valve7
	// SafeStop is published on Device (QoS 1, not retained) when the bridge
	// latches. Nil: nothing is published for this route (MQTT has no
	// universal "stop" payload; configure one for every actuator).
	SafeStop []byte

	// Physical payload (docs/mqtt.md, "Physical payloads"). Every route
	// has Mappings or is NonPhysical; New refuses one with neither.
	// Mappings name where the payload carries its physical values and in
	// which units; the bridge clamps them to the attested envelope before
	// publishing. NonPhysical declares a route whose payloads carry no
	// mapped quantity (a valve's state, a lamp, a display).
	Mappings    []physics.Mapping
	NonPhysical bool
}

// Resource is the intercept resource of the route on the named broker:
// mqtt://<broker>/<device topic>.
func (r Route) Resource(broker string) string { return "mqtt://" + broker + "/" + r.Device }

// ParseRoute parses "AGENT_TOPIC=DEVICE_TOPIC", e.g.
// "agent/line1/valve7=line1/valve7". Topics are literal MQTT topic names
// whose levels are 1+ characters of [A-Za-z0-9_.-], not "." or "..",
// separated by '/'. No wildcards (+, #), no leading or trailing '/', no empty
// levels, no '$' topics: the device topic becomes the path of a resource,
// which must be in normal form (PROTOCOL.md §2). The two topics must differ.
func ParseRoute(s string) (Route, error) {
	bad := func(msg string) (Route, error) {
		return Route{}, codes.New(codes.MalformedRequest, fmt.Sprintf("route %q: %s", s, msg))
	}
	agent, dev, ok := strings.Cut(s, "=")
	if !ok {
		return bad("want AGENT_TOPIC=DEVICE_TOPIC")
	}
	if err := checkTopic(agent); err != nil {
		return bad(err.Error())
	}
	if err := checkTopic(dev); err != nil {
		return bad(err.Error())
	}
	if agent == dev {
		return bad("agent and device topics are the same")
	}
	return Route{Agent: agent, Device: dev}, nil
}

// checkTopic accepts a literal topic name in the normal form of ParseRoute.
func checkTopic(s string) error {
	if s == "" || len(s) > MaxTopicLen {
		return fmt.Errorf("topic must be 1..%d bytes", MaxTopicLen)
	}
	for _, lvl := range strings.Split(s, "/") {
		if lvl == "" {
			return fmt.Errorf("empty level in topic %q", s)
		}
		if lvl == "." || lvl == ".." {
			return fmt.Errorf("dot level in topic %q", s)
		}
		for i := 0; i < len(lvl); i++ {
			c := lvl[i]
			if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return fmt.Errorf("bad character %q in topic %q", c, s)
			}
		}
	}
	return nil
}

// CheckBrokerName accepts a broker name for resources: 1..64 bytes of
// [a-z0-9.-], starting with a letter or digit (a host-name-like label; it
// names the broker in policy patterns, it is not dialled).
func CheckBrokerName(s string) error {
	if s == "" || len(s) > MaxBrokerNameLen {
		return codes.New(codes.MalformedRequest, fmt.Sprintf("broker name must be 1..%d bytes", MaxBrokerNameLen))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '-')
		if !ok {
			return codes.New(codes.MalformedRequest, fmt.Sprintf("broker name %q: bad character %q at %d (want [a-z0-9.-])", s, c, i))
		}
	}
	if strings.Contains(s, "..") {
		return codes.New(codes.MalformedRequest, fmt.Sprintf("broker name %q: empty label", s))
	}
	return nil
}

// SetSafeStop parses "DEVICE_TOPIC=JSON" (a JSON object, checked by
// ParsePayload, published as given) and sets it as the safe stop of the
// route with that device topic in routes.
func SetSafeStop(routes []Route, spec string) error {
	bad := func(msg string, err error) error {
		return codes.Wrap(codes.MalformedRequest, "safe stop: "+msg, err)
	}
	if len(spec) > MaxSafeStopBytes {
		return bad("spec too long", nil)
	}
	topic, doc, ok := strings.Cut(spec, "=")
	if !ok {
		return bad("want DEVICE_TOPIC=JSON", nil)
	}
	if err := checkTopic(topic); err != nil {
		return bad(err.Error(), err)
	}
	for i := range routes {
		if routes[i].Device != topic {
			continue
		}
		if _, err := ParsePayload([]byte(doc)); err != nil {
			return bad(err.Error(), err)
		}
		routes[i].SafeStop = []byte(doc)
		return nil
	}
	return bad("no route has device topic "+topic, nil)
}

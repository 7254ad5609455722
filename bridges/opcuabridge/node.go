package opcuabridge

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/gopcua/opcua/ua"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// Actions of the bridge's intercepts.
const (
	ActionWrite = "write"
	ActionCall  = "call"
	ActionRead  = "read"
	// ActionSubscribe is a monitored item on a variable (Bridge.Subscribe).
	ActionSubscribe = "subscribe"
)

// SafeWrite is one write of a node's safe state: the node id on the
// controller, the value's type and the value ({"nodeId":"ns=1;s=Speed",
// "type":"Double","value":0}).
type SafeWrite struct {
	NodeID string          `json:"nodeId"`
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value"`

	id *ua.NodeID
	v  *ua.Variant
}

// NodeSpec is one node the bridge exposes to agents, as the integrator
// configures it (docs/opcua.md): its name in resources, the real node on
// the controller, its kind and types, its payload mappings and its safe
// state.
type NodeSpec struct {
	// Path is the node's path in resources, e.g. "Conveyor/Speed":
	// segments of [A-Za-z0-9_-] (a "." inside a segment too), not "." or
	// "..", joined by "/".
	Path string `json:"path"`
	// NodeID is the node on the controller ("ns=1;s=Speed"); for a method
	// ObjectID names the object it is called on.
	NodeID   string `json:"nodeId"`
	ObjectID string `json:"objectId,omitempty"`
	// Kind is "variable" (actions write and read) or "method" (call).
	Kind string `json:"kind"`
	// Type is a variable's built-in type; Args a method's input types.
	Type string   `json:"type,omitempty"`
	Args []string `json:"args,omitempty"`
	// Map names where the params carry physical values (paths into the
	// params: "/value", "/args/0/value"); NonPhysical declares a node that
	// carries none. Every writable node and method has one or the other.
	Map         json.RawMessage `json:"map,omitempty"`
	NonPhysical bool            `json:"nonPhysical,omitempty"`
	// SafeStop is the writes that bring this node's part of the cell to a
	// safe state; StopPolicy is its stop policy (stopsem.ParsePolicy;
	// default: a mapped node is motion).
	SafeStop   []SafeWrite `json:"safeStop,omitempty"`
	StopPolicy string      `json:"stopPolicy,omitempty"`
}

// node is a checked NodeSpec.
type node struct {
	NodeSpec
	ns       string // "ns<index>" of NodeID
	id, obj  *ua.NodeID
	typ      Type
	args     []Type
	maps     []physics.Mapping
	policy   stopsem.Policy
	resource string
}

var (
	nodeIDRE = regexp.MustCompile(`^(ns=[0-9]{1,5};)?[isgb]=.+$`)
	segRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,63}$`)
)

// parseNodeID parses a node id in its explicit string form
// ("ns=1;s=Speed", "i=2259"): gopcua also reads a bare word or an empty
// string as some node, which a typo in a configuration must not become.
func parseNodeID(s string) (*ua.NodeID, error) {
	if !nodeIDRE.MatchString(s) {
		return nil, fmt.Errorf("%q: want [ns=<index>;]<i|s|g|b>=<identifier>", s)
	}
	return ua.ParseNodeID(s)
}

// CheckEndpointName checks the controller's name in resources:
// [a-z0-9.-], 1 to 64 characters, starting with a letter or digit.
func CheckEndpointName(s string) error {
	if !nameRE.MatchString(s) {
		return codes.New(codes.MalformedRequest, fmt.Sprintf("endpoint name %q: want [a-z0-9][a-z0-9.-]{0,63}", s))
	}
	return nil
}

// CheckPath checks a node path in resources.
func CheckPath(p string) error {
	if p == "" || len(p) > 256 {
		return codes.New(codes.MalformedRequest, "node path: 1..256 bytes")
	}
	for _, s := range strings.Split(p, "/") {
		if !segRE.MatchString(s) || s == "." || s == ".." {
			return codes.New(codes.MalformedRequest, fmt.Sprintf("node path %q: segments are [A-Za-z0-9_.-]{1,64}, not . or ..", p))
		}
	}
	return nil
}

// Resource is the intercept resource of a node: opcua://<endpoint name>/
// ns<namespace index>/<node path> (docs/protocol.md §2).
func Resource(endpoint string, ns uint16, path string) string {
	return fmt.Sprintf("opcua://%s/ns%d/%s", endpoint, ns, path)
}

// checkNode checks spec and returns the node.
func checkNode(endpoint string, spec NodeSpec) (*node, error) {
	bad := func(msg string) (*node, error) {
		return nil, codes.New(codes.MalformedRequest, fmt.Sprintf("node %q: %s", spec.Path, msg))
	}
	if err := CheckPath(spec.Path); err != nil {
		return nil, err
	}
	n := &node{NodeSpec: spec}
	id, err := parseNodeID(spec.NodeID)
	if err != nil {
		return bad("nodeId: " + err.Error())
	}
	n.id = id
	n.ns = fmt.Sprintf("ns%d", id.Namespace())
	n.resource = Resource(endpoint, id.Namespace(), spec.Path)
	switch spec.Kind {
	case "variable":
		if n.typ, err = ParseType(spec.Type); err != nil {
			return bad(err.Error())
		}
		if len(spec.Args) > 0 || spec.ObjectID != "" {
			return bad("a variable has no args or objectId")
		}
	case "method":
		if spec.Type != "" {
			return bad("a method has args, not a type")
		}
		if len(spec.Args) > MaxArgs {
			return bad(fmt.Sprintf("over %d args", MaxArgs))
		}
		for _, a := range spec.Args {
			t, err := ParseType(a)
			if err != nil {
				return bad(err.Error())
			}
			n.args = append(n.args, t)
		}
		if n.obj, err = parseNodeID(spec.ObjectID); err != nil {
			return bad("objectId: " + err.Error())
		}
	default:
		return bad("kind is variable or method")
	}
	if len(spec.Map) > 0 {
		if n.maps, err = bridges.ParseMappings(string(spec.Map)); err != nil {
			return bad(err.Error())
		}
	}
	switch {
	case len(n.maps) == 0 && !spec.NonPhysical:
		return bad("no payload mapping: map its physical values (\"map\") or declare it \"nonPhysical\"")
	case len(n.maps) > 0 && spec.NonPhysical:
		return bad("both mapped and nonPhysical")
	}
	for i := range n.SafeStop {
		w := &n.SafeStop[i]
		if w.id, err = parseNodeID(w.NodeID); err != nil {
			return bad("safe stop nodeId: " + err.Error())
		}
		t, err := ParseType(w.Type)
		if err != nil {
			return bad("safe stop: " + err.Error())
		}
		if w.v, err = Variant(t, w.Value); err != nil {
			return bad("safe stop: " + err.Error())
		}
	}
	if spec.StopPolicy != "" {
		if n.policy, err = stopsem.ParsePolicy(spec.StopPolicy); err != nil {
			return bad(err.Error())
		}
	}
	if n.policy, err = n.policy.Resolve(len(n.maps) > 0, len(n.SafeStop) > 0, DefaultResend); err != nil {
		return bad(err.Error())
	}
	if len(n.resource) > 512 {
		return bad("resource over 512 bytes")
	}
	return n, nil
}

// params builds the intercept params of a write of tv (checked against the
// node's type) and returns the value to write.
func (n *node) writeParams(tv Typed) (json.RawMessage, error) {
	if n.Kind != "variable" {
		return nil, codes.New(codes.MalformedRequest, fmt.Sprintf("node %s is a method: call it", n.Path))
	}
	if _, err := TypedVariant(n.typ, tv); err != nil {
		return nil, err
	}
	return json.Marshal(tv)
}

// callParams builds the intercept params of a call with args (checked
// against the method's input types).
func (n *node) callParams(args []Typed) (json.RawMessage, error) {
	if n.Kind != "method" {
		return nil, codes.New(codes.MalformedRequest, fmt.Sprintf("node %s is a variable: write it", n.Path))
	}
	if len(args) != len(n.args) {
		return nil, codes.New(codes.MalformedRequest, fmt.Sprintf("method %s takes %d argument(s), got %d", n.Path, len(n.args), len(args)))
	}
	for i, a := range args {
		if _, err := TypedVariant(n.args[i], a); err != nil {
			return nil, codes.Wrap(codes.MalformedRequest, fmt.Sprintf("argument %d: %v", i, err), err)
		}
	}
	if args == nil {
		args = []Typed{}
	}
	return json.Marshal(struct {
		Args []Typed `json:"args"`
	}{args})
}

// decodeWrite decodes (possibly clamped) write params into the variant to
// write.
func (n *node) decodeWrite(params []byte) (*ua.Variant, error) {
	var tv Typed
	if err := decodeStrict(params, &tv); err != nil {
		return nil, codes.Wrap(codes.MalformedRequest, "params", err)
	}
	return TypedVariant(n.typ, tv)
}

// decodeCall decodes (possibly clamped) call params into the method's
// input arguments.
func (n *node) decodeCall(params []byte) ([]*ua.Variant, error) {
	var p struct {
		Args []Typed `json:"args"`
	}
	if err := decodeStrict(params, &p); err != nil {
		return nil, codes.Wrap(codes.MalformedRequest, "params", err)
	}
	if len(p.Args) != len(n.args) {
		return nil, codes.New(codes.MalformedRequest, "argument count changed")
	}
	out := make([]*ua.Variant, len(p.Args))
	for i, a := range p.Args {
		v, err := TypedVariant(n.args[i], a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

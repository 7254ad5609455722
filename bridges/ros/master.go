package ros

import (
	"context"
	"fmt"

	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
)

// Master is a client of the ROS master API. It is safe for concurrent use.
type Master struct {
	uri      string
	callerID string
	rpc      xmlrpc.Client
}

// NewMaster returns a client of the master at uri (http://host:port/) that
// identifies itself as callerID.
func NewMaster(uri, callerID string) *Master {
	return &Master{uri: uri, callerID: callerID}
}

// URI returns the master's XML-RPC URI.
func (m *Master) URI() string { return m.uri }

// APIError is a ROS API call that answered with a non-success status code
// (-1 error, 0 failure).
type APIError struct {
	Method  string
	Code    int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("ros: %s: status %d: %s", e.Method, e.Code, e.Message)
}

// callAPI performs a ROS API call on uri and returns the value of the
// [code, statusMessage, value] triple.
func callAPI(ctx context.Context, c *xmlrpc.Client, uri, method string, args ...any) (any, error) {
	v, err := c.Call(ctx, uri, method, args...)
	if err != nil {
		return nil, err
	}
	t, ok := v.([]any)
	if !ok || len(t) != 3 {
		return nil, fmt.Errorf("ros: %s: response is not [code, message, value]: %#v", method, v)
	}
	code, ok := t[0].(int)
	if !ok {
		return nil, fmt.Errorf("ros: %s: status code %#v is not an int", method, t[0])
	}
	msg, _ := t[1].(string)
	if code != 1 {
		return nil, &APIError{Method: method, Code: code, Message: msg}
	}
	return t[2], nil
}

func (m *Master) call(ctx context.Context, method string, args ...any) (any, error) {
	return callAPI(ctx, &m.rpc, m.uri, method, append([]any{m.callerID}, args...)...)
}

func stringList(method string, v any) ([]string, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("ros: %s: want a list, got %#v", method, v)
	}
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("ros: %s: want strings, got %#v", method, x)
		}
		out = append(out, s)
	}
	return out, nil
}

// GetURI returns the master's own idea of its URI (a cheap liveness check).
func (m *Master) GetURI(ctx context.Context) (string, error) {
	v, err := m.call(ctx, "getUri")
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// RegisterPublisher registers callerAPI as a publisher of topic and returns
// the slave URIs of the topic's current subscribers.
func (m *Master) RegisterPublisher(ctx context.Context, topic, msgType, callerAPI string) ([]string, error) {
	v, err := m.call(ctx, "registerPublisher", topic, msgType, callerAPI)
	if err != nil {
		return nil, err
	}
	return stringList("registerPublisher", v)
}

// UnregisterPublisher removes the registration; it returns the number of
// registrations removed (0 if there was none).
func (m *Master) UnregisterPublisher(ctx context.Context, topic, callerAPI string) (int, error) {
	v, err := m.call(ctx, "unregisterPublisher", topic, callerAPI)
	n, _ := v.(int)
	return n, err
}

// RegisterSubscriber registers callerAPI as a subscriber of topic and
// returns the slave URIs of the topic's current publishers.
func (m *Master) RegisterSubscriber(ctx context.Context, topic, msgType, callerAPI string) ([]string, error) {
	v, err := m.call(ctx, "registerSubscriber", topic, msgType, callerAPI)
	if err != nil {
		return nil, err
	}
	return stringList("registerSubscriber", v)
}

// UnregisterSubscriber removes the registration; it returns the number of
// registrations removed.
func (m *Master) UnregisterSubscriber(ctx context.Context, topic, callerAPI string) (int, error) {
	v, err := m.call(ctx, "unregisterSubscriber", topic, callerAPI)
	n, _ := v.(int)
	return n, err
}

// LookupNode returns the slave API URI of the node named name.
func (m *Master) LookupNode(ctx context.Context, name string) (string, error) {
	v, err := m.call(ctx, "lookupNode", name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("ros: lookupNode: want a string, got %#v", v)
	}
	return s, nil
}

// SystemState is the master's graph: for each topic (or service) the names
// of the nodes that publish, subscribe to (or provide) it.
type SystemState struct {
	Publishers  map[string][]string
	Subscribers map[string][]string
	Services    map[string][]string
}

// GetSystemState returns the master's graph.
func (m *Master) GetSystemState(ctx context.Context) (SystemState, error) {
	v, err := m.call(ctx, "getSystemState")
	if err != nil {
		return SystemState{}, err
	}
	parts, ok := v.([]any)
	if !ok || len(parts) != 3 {
		return SystemState{}, fmt.Errorf("ros: getSystemState: want [pubs, subs, srvs], got %#v", v)
	}
	var out [3]map[string][]string
	for i, p := range parts {
		out[i] = map[string][]string{}
		entries, ok := p.([]any)
		if !ok {
			return SystemState{}, fmt.Errorf("ros: getSystemState: want a list, got %#v", p)
		}
		for _, e := range entries {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return SystemState{}, fmt.Errorf("ros: getSystemState: bad entry %#v", e)
			}
			name, _ := pair[0].(string)
			nodes, err := stringList("getSystemState", pair[1])
			if err != nil {
				return SystemState{}, err
			}
			out[i][name] = nodes
		}
	}
	return SystemState{Publishers: out[0], Subscribers: out[1], Services: out[2]}, nil
}

// GetTopicTypes returns the type of every topic the master knows.
func (m *Master) GetTopicTypes(ctx context.Context) (map[string]string, error) {
	v, err := m.call(ctx, "getTopicTypes")
	if err != nil {
		return nil, err
	}
	entries, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("ros: getTopicTypes: want a list, got %#v", v)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		pair, err := stringList("getTopicTypes", e)
		if err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("ros: getTopicTypes: bad entry %#v", e)
		}
		out[pair[0]] = pair[1]
	}
	return out, nil
}

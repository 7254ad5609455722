// Package rosmastertest is an in-process fake ROS master for tests: the
// master API subset a node uses (registerPublisher, registerSubscriber,
// unregisterPublisher, unregisterSubscriber, lookupNode, getSystemState,
// getTopicTypes, getUri, getPid), served over real XML-RPC on loopback, and
// publisherUpdate calls to subscribers when the publishers of a topic
// change, as rosmaster does. It has no parameter server and no services.
//
// Use it where a real rosmaster is not needed (the data path between nodes
// never goes through the master); the real one is still what the
// integration tests run against.
package rosmastertest

import (
	"context"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
)

// Master is a running fake master. It is safe for concurrent use.
type Master struct {
	srv *httptest.Server
	rpc xmlrpc.Client
	wg  sync.WaitGroup

	mu    sync.Mutex
	nodes map[string]string            // callerID → slave URI
	pubs  map[string]map[string]string // topic → callerID → slave URI
	subs  map[string]map[string]string
	types map[string]string // topic → type

	// queues holds, per subscriber slave URI, the publisherUpdate calls not
	// yet made; one goroutine per URI makes them in order, as rosmaster's
	// per-subscriber task queue does. Without the order a subscriber could
	// receive an older list after a newer one and drop a live publisher.
	queues map[string][]func()
}

// Start starts a fake master on loopback.
func Start() *Master {
	m := &Master{nodes: map[string]string{}, pubs: map[string]map[string]string{},
		subs: map[string]map[string]string{}, types: map[string]string{}}
	m.srv = httptest.NewServer(xmlrpc.Handler(m.serve))
	return m
}

// URI returns the master's XML-RPC URI (http://127.0.0.1:port/).
func (m *Master) URI() string { return m.srv.URL + "/" }

// Close stops the master and waits for pending publisherUpdate calls.
func (m *Master) Close() {
	m.srv.Close()
	m.wg.Wait()
}

func sorted(set map[string]string) []string {
	out := make([]string, 0, len(set))
	for _, v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func names[V any](set map[string]V) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (m *Master) serve(_ context.Context, method string, p []any) (any, error) {
	str := func(i int) string {
		if i < len(p) {
			s, _ := p[i].(string)
			return s
		}
		return ""
	}
	ok := func(v any) any { return []any{1, "", v} }
	caller := str(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	add := func(reg map[string]map[string]string, topic, uri string) {
		if reg[topic] == nil {
			reg[topic] = map[string]string{}
		}
		reg[topic][caller] = uri
		m.nodes[caller] = uri
	}
	switch method {
	case "getUri":
		return ok(m.URI()), nil
	case "getPid":
		return ok(os.Getpid()), nil
	case "registerPublisher":
		topic, typ, uri := str(1), str(2), str(3)
		add(m.pubs, topic, uri)
		m.types[topic] = typ
		m.notify(topic)
		return ok(sorted(m.subs[topic])), nil
	case "registerSubscriber":
		topic, typ, uri := str(1), str(2), str(3)
		add(m.subs, topic, uri)
		if _, known := m.types[topic]; !known {
			m.types[topic] = typ
		}
		return ok(sorted(m.pubs[topic])), nil
	case "unregisterPublisher", "unregisterSubscriber":
		reg := m.pubs
		if method == "unregisterSubscriber" {
			reg = m.subs
		}
		topic, uri := str(1), str(2)
		if reg[topic][caller] != uri {
			return ok(0), nil
		}
		delete(reg[topic], caller)
		if method == "unregisterPublisher" {
			m.notify(topic)
		}
		return ok(1), nil
	case "lookupNode":
		if uri, found := m.nodes[str(1)]; found {
			return ok(uri), nil
		}
		return []any{-1, "unknown node " + str(1), ""}, nil
	case "getSystemState":
		state := func(reg map[string]map[string]string) []any {
			out := []any{}
			for _, topic := range names(reg) {
				if len(reg[topic]) > 0 {
					out = append(out, []any{topic, names(reg[topic])})
				}
			}
			return out
		}
		return ok([]any{state(m.pubs), state(m.subs), []any{}}), nil
	case "getTopicTypes":
		out := []any{}
		for _, topic := range names(m.types) {
			out = append(out, []string{topic, m.types[topic]})
		}
		return ok(out), nil
	}
	return nil, &xmlrpc.Fault{Code: -32601, String: "fake master: " + method + " not supported"}
}

// notify sends publisherUpdate to every subscriber of topic, in the
// background as rosmaster does, in order per subscriber. Called with m.mu
// held.
func (m *Master) notify(topic string) {
	pubs := sorted(m.pubs[topic])
	for _, uri := range m.subs[topic] {
		call := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = m.rpc.Call(ctx, uri, "publisherUpdate", "/master", topic, pubs)
		}
		if m.queues == nil {
			m.queues = map[string][]func(){}
		}
		q, running := m.queues[uri]
		m.queues[uri] = append(q, call)
		if !running {
			m.wg.Add(1)
			go m.drain(uri)
		}
	}
}

// drain makes uri's queued publisherUpdate calls one after the other until
// its queue is empty.
func (m *Master) drain(uri string) {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		q := m.queues[uri]
		if len(q) == 0 {
			delete(m.queues, uri)
			m.mu.Unlock()
			return
		}
		call := q[0]
		m.queues[uri] = q[1:]
		m.mu.Unlock()
		call()
	}
}

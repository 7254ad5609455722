package opcuabridge

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/sintgate/sintgate/codes"
)

// MaxRequestBytes bounds one front request body.
const MaxRequestBytes = 64 << 10

// Request is one agent request on the front (POST /v1/opcua):
//
//	{"action":"write","node":"ns1/Conveyor/Speed","type":"Double","value":0.4}
//	{"action":"call","node":"ns1/Cell/Home","args":[{"type":"Double","value":1}]}
//	{"action":"read","node":"ns1/Conveyor/Speed"}
type Request struct {
	Action string          `json:"action"`
	Node   string          `json:"node"`
	Type   string          `json:"type,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
	Args   []Typed         `json:"args,omitempty"`
}

// ParseRequest decodes a front request body strictly (unknown members and
// trailing data are refused).
func ParseRequest(body []byte) (Request, error) {
	var r Request
	if err := decodeStrict(body, &r); err != nil {
		return Request{}, codes.Wrap(codes.MalformedRequest, "request: "+err.Error(), err)
	}
	if len(r.Args) > MaxArgs {
		return Request{}, codes.New(codes.MalformedRequest, "request: too many args")
	}
	return r, nil
}

// Handler is the agent-facing front: POST /v1/opcua with
// "Authorization: Bearer <key>" (compared in constant time; an empty key
// refuses every request). The answer is an Outcome; the HTTP status is 200
// when the controller carried the request out, 403 for a deny, 409 while
// the bridge is latched, 400 for a malformed request or a wrong OPC UA
// type, 404 for an unknown node, 502 when the controller or the gateway
// failed or the controller answered a bad status code.
func (b *Bridge) Handler(key string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/opcua", func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			writeOutcome(w, http.StatusUnauthorized, refused("", codes.Unauthenticated, "bearer key required"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
		if err != nil {
			writeOutcome(w, http.StatusRequestEntityTooLarge, refused("", codes.MalformedRequest, "body over 64 KiB"))
			return
		}
		req, err := ParseRequest(body)
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, refused("", codes.MalformedRequest, err.Error()))
			return
		}
		if req.Action == ActionSubscribe {
			if req.Type != "" || len(req.Value) > 0 || len(req.Args) > 0 {
				writeOutcome(w, http.StatusBadRequest, refused("", codes.MalformedRequest, "subscribe takes a node only"))
				return
			}
			b.serveSubscribe(w, r, req.Node)
			return
		}
		var tv *Typed
		if req.Action == ActionWrite {
			tv = &Typed{Type: req.Type, Value: req.Value}
		} else if req.Type != "" || len(req.Value) > 0 {
			writeOutcome(w, http.StatusBadRequest, refused("", codes.MalformedRequest, "type and value belong to a write"))
			return
		}
		o := b.Do(r.Context(), req.Action, req.Node, tv, req.Args)
		writeOutcome(w, statusOf(o), o)
	})
	return mux
}

// serveSubscribe streams a subscription as JSON lines
// (application/x-ndjson): {"value":…} per data change, the current value
// first, and last the Outcome saying why it ended. A subscription that is
// denied or refused before its first value is answered like any request.
func (b *Bridge) serveSubscribe(w http.ResponseWriter, r *http.Request, node string) {
	rc := http.NewResponseController(w)
	started := false
	enc := json.NewEncoder(w)
	o := b.Subscribe(r.Context(), node, func(v json.RawMessage) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(struct {
			Value json.RawMessage `json:"value"`
		}{v}); err != nil {
			return err
		}
		return rc.Flush()
	})
	if !started {
		writeOutcome(w, statusOf(o), o)
		return
	}
	_ = enc.Encode(o)
}

func statusOf(o Outcome) int {
	switch o.Outcome {
	case "written", "called", "read":
		return http.StatusOK
	case "deny":
		return http.StatusForbidden
	case "controller-refused":
		return http.StatusBadGateway
	}
	switch codes.Code(o.Code) {
	case codes.MalformedRequest:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.EstopEngaged:
		return http.StatusConflict
	case codes.InternalError:
		return http.StatusBadGateway
	}
	return http.StatusForbidden
}

func writeOutcome(w http.ResponseWriter, status int, o Outcome) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(o)
}

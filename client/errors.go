package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
)

// APIError is a non-success answer of the gateway that is not a decision:
// the {"error":{"code","message","requestId"}} body of PROTOCOL.md §5.4, or,
// for an endpoint that is not a decision endpoint, the code and reason of a
// deny decision body (e.g. a 401 on an agent-signed e-stop trip). Code is ""
// when the body carried none (a proxy's HTML page, say).
type APIError struct {
	Status    int    // HTTP status
	Code      string // stable code (codes.Code values), or ""
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sintgate: HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap exposes the code as a *codes.Error, so codes.Of(err) gives it.
func (e *APIError) Unwrap() error {
	if e.Code == "" {
		return nil
	}
	return codes.New(codes.Code(e.Code), e.Message)
}

// maxErrorText bounds how much of an unparseable body goes into Message.
const maxErrorText = 256

// apiError builds the error of a non-success response body.
func apiError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var probe struct {
		Error    *api.ErrorDetail `json:"error"`
		Decision *string          `json:"decision"`
		Code     *string          `json:"code"`
		Reason   *string          `json:"reason"`
	}
	if json.Unmarshal(body, &probe) == nil {
		switch {
		case probe.Error != nil:
			e.Code, e.Message, e.RequestID = probe.Error.Code, probe.Error.Message, probe.Error.RequestID
			return e
		case probe.Decision != nil && probe.Code != nil:
			e.Code = *probe.Code
			if probe.Reason != nil {
				e.Message = *probe.Reason
			}
			return e
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > maxErrorText {
		text = text[:maxErrorText] + "…"
	}
	if text == "" {
		text = http.StatusText(status)
	}
	e.Message = text
	return e
}

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
)

// APIError is a non-decision error answer (PROTOCOL.md §5.4). Message is
// public; Cause is logged only.
type APIError struct {
	Status  int
	Code    codes.Code
	Message string
	Cause   error
}

func (e *APIError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func apiErr(status int, c codes.Code, msg string) *APIError {
	return &APIError{Status: status, Code: c, Message: msg}
}

// statusOfCode is the one table from a code to its HTTP status for
// operator endpoints.
var statusOfCode = map[codes.Code]int{
	codes.MalformedRequest: 400, codes.Unauthenticated: 401, codes.StaleRequest: 401,
	codes.ReplayDetected: 401, codes.Forbidden: 403, codes.NotFound: 404, codes.Conflict: 409,
	codes.LedgerUnavailable: 503, codes.InternalError: 500,
}

// errorHandler renders every error returned by a handler.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	c.Set(api.HeaderProtocol, api.Protocol)
	var ae *APIError
	var fe *fiber.Error
	var ce *codes.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &APIError{Status: fe.Code, Code: codes.MalformedRequest, Message: fe.Message}
		switch {
		case fe.Code == fiber.StatusRequestEntityTooLarge:
			ae.Message = "request body exceeds 64 KiB"
		case fe.Code == fiber.StatusNotFound:
			ae.Code = codes.NotFound
		case fe.Code == fiber.StatusMethodNotAllowed:
			ae.Code = codes.NotFound
		case fe.Code >= 500:
			ae.Code, ae.Message = codes.InternalError, "internal error"
		}
	case errors.As(err, &ce):
		st, ok := statusOfCode[ce.Code]
		if !ok {
			st = 422
		}
		ae = &APIError{Status: st, Code: ce.Code, Message: ce.Message, Cause: ce.Cause}
	default:
		ae = &APIError{Status: 500, Code: codes.InternalError, Message: "internal error", Cause: err}
	}
	if ae.Status >= 500 {
		s.Log.Error("request failed", "path", c.Path(), "method", c.Method(), "code", ae.Code, "err", ae)
		if ae.Code != codes.LedgerUnavailable {
			ae.Message = "internal error"
		}
	}
	// A too-large intercept still gets a decision body.
	if ae.Status == fiber.StatusRequestEntityTooLarge && isInterceptPath(c.Path()) {
		code, reason := string(codes.MalformedRequest), ae.Message
		return c.Status(413).JSON(api.Decision{Decision: api.Deny, Code: &code, Reason: &reason})
	}
	return c.Status(ae.Status).JSON(api.ErrorBody{Error: api.ErrorDetail{Code: string(ae.Code), Message: ae.Message, RequestID: c.Get("X-Request-Id")}})
}

func isInterceptPath(p string) bool { return p == "/v1/intercept" || p == "/v1/intercept/batch" }

// decodeBody strictly decodes an operator request body: unknown fields and
// trailing data are MALFORMED_REQUEST.
func decodeBody(c *fiber.Ctx, v any) error {
	b := c.Body()
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiErr(400, codes.MalformedRequest, "invalid body: "+err.Error())
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 {
		return apiErr(400, codes.MalformedRequest, "trailing data after JSON body")
	}
	return nil
}

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

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
		case fe.Code == fiber.StatusRequestHeaderFieldsTooLarge:
			ae.Message = fmt.Sprintf("request line and header exceed %d bytes", MaxHeaderBytes)
		case fe.Code == fiber.StatusBadRequest && unreadRequest(c):
			ae.Message = "malformed HTTP request" // fasthttp's text quotes the request back
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
	switch {
	case unreadRequest(c):
		// The request could not be read (a header over the read buffer,
		// malformed HTTP, a timeout before the header ended): its path is
		// unknown, so the answer is both bodies at once, a §5.2 decision
		// and a §5.4 error (clients ignore unknown response fields). An
		// agent that sent /v1/intercept still gets its decision.
		return c.Status(ae.Status).JSON(unreadBody{Decision: s.refusal(ae), Error: api.ErrorDetail{Code: string(ae.Code), Message: ae.Message}})
	case c.Path() == "/v1/intercept",
		ae.Status == fiber.StatusRequestEntityTooLarge && isInterceptPath(c.Path()):
		// Every refusal of an intercept is a decision (PROTOCOL.md §5.2).
		return c.Status(ae.Status).JSON(s.refusal(ae))
	}
	return c.Status(ae.Status).JSON(api.ErrorBody{Error: api.ErrorDetail{Code: string(ae.Code), Message: ae.Message, RequestID: c.Get("X-Request-Id")}})
}

func isInterceptPath(p string) bool { return p == "/v1/intercept" || p == "/v1/intercept/batch" }

// refusal is the decision body of an intercept refused before the pipeline
// saw it: deny, tier 0, no request id (the body was not read), no ledger
// entry (a rejection before stage 4, §5.1), the active policy's hash.
func (s *Server) refusal(ae *APIError) api.Decision {
	code, reason := string(ae.Code), ae.Message
	if !slices.Contains(codes.All, ae.Code) { // NOT_FOUND for a 405, say: not a deny code
		code = string(codes.MalformedRequest)
		if ae.Status >= 500 {
			code = string(codes.InternalError)
		}
	}
	d := api.Decision{Decision: api.Deny, Code: &code, Reason: &reason}
	if s.Pipeline != nil {
		if h := s.Pipeline.PolicyHash(); h != "" {
			d.PolicyHash = &h
		}
	}
	return d
}

// unreadBody is the answer to a request that could not be read: a decision
// body with the error body's "error" member added.
type unreadBody struct {
	api.Decision
	Error api.ErrorDetail `json:"error"`
}

// unreadKey marks a fasthttp request context whose request failed before
// its header was read (set by markUnread).
const unreadKey = "sint.unread"

// markUnread wraps the fasthttp server's error handler (fiber's, which maps
// the error to a status and calls errorHandler) so that errorHandler knows
// when the request header was never read: fasthttp resets the header then,
// and the path errorHandler would see is "/", not the one the client sent.
func markUnread(next func(*fasthttp.RequestCtx, error)) func(*fasthttp.RequestCtx, error) {
	return func(ctx *fasthttp.RequestCtx, err error) {
		if len(ctx.Request.Header.RawHeaders()) == 0 {
			ctx.SetUserValue(unreadKey, true)
		}
		next(ctx, err)
	}
}

func unreadRequest(c *fiber.Ctx) bool { return c.Context().UserValue(unreadKey) != nil }

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

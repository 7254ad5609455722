package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sintgate/sintgate/client"
)

// operator returns an operator client from --url and --api-key/SINT_API_KEY.
func operator() (*client.Operator, error) {
	k := apiKey()
	if k == "" {
		return nil, &exitError{exitLocal, errors.New("an API key is required: --api-key or SINT_API_KEY")}
	}
	return &client.Operator{BaseURL: flagURL, APIKey: k, HTTP: &http.Client{Timeout: 60 * time.Second}}, nil
}

// call runs one operator request and maps failures to exit codes.
func call(method, path string, in, out any) error {
	op, err := operator()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := op.Do(ctx, method, path, in, out); err != nil {
		return &exitError{exitServer, asHTTPError(err)}
	}
	return nil
}

// httpError is a gateway's refusal as sintctl prints it, the one format of
// every command: "CODE (HTTP n): message".
type httpError struct {
	Status  int
	Code    string
	Message string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// newHTTPError builds an httpError; a refusal without a code (a proxy's
// page, say) gets one from its status ("BAD_GATEWAY").
func newHTTPError(status int, code, message string) *httpError {
	if code == "" {
		code = strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		if code == "" {
			code = "HTTP_ERROR"
		}
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return &httpError{Status: status, Code: code, Message: message}
}

// asHTTPError turns the Go client's *client.APIError into an *httpError;
// any other error is returned as it is.
func asHTTPError(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return newHTTPError(ae.Status, ae.Code, ae.Message)
	}
	return err
}

// httpErrorFromBody reads a refusal's body: a §5.4 error body
// {"error":{"code","message"}} or a decision body {"code","reason"}.
func httpErrorFromBody(status int, body []byte) *httpError {
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Code   *string `json:"code"`
		Reason *string `json:"reason"`
	}
	if json.Unmarshal(body, &b) == nil {
		switch {
		case b.Error != nil:
			return newHTTPError(status, b.Error.Code, b.Error.Message)
		case b.Code != nil:
			msg := ""
			if b.Reason != nil {
				msg = *b.Reason
			}
			return newHTTPError(status, *b.Code, msg)
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 256 {
		text = text[:256] + "…"
	}
	return newHTTPError(status, "", text)
}

// printOut prints v as JSON with -o json, else with the text function.
func printOut(v any, text func()) error {
	if flagOutput == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text()
	return nil
}

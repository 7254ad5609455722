package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Operator is an operator's or service's connection to a gateway,
// authenticated with an API key (Authorization: Bearer sk_<keyId>_<secret>).
// The zero HTTP means http.DefaultClient. Operator is safe for concurrent
// use.
type Operator struct {
	BaseURL string
	HTTP    *http.Client
	APIKey  string
}

func (o *Operator) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(v)
	case json.RawMessage:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, joinURL(o.BaseURL, path), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	return req, nil
}

// Do sends method path with in as the JSON body (nil: no body; []byte or
// json.RawMessage: sent as is; anything else: json.Marshal) and decodes a
// 2xx answer into out (nil: discarded). Any other status returns an
// *APIError parsed from the {"error":{"code","message"}} body.
func (o *Operator) Do(ctx context.Context, method, path string, in, out any) error {
	req, err := o.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	status, body, err := do(o.HTTP, req)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return apiError(status, body)
	}
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = body
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("client: decode %s %s: %w", method, path, err)
	}
	return nil
}

// Open sends a request like Do but returns the response of a 2xx answer
// unread, for streams (GET /v1/ledger/export NDJSON, GET
// /v1/approvals/stream SSE). The caller closes the body. Any other status
// returns an *APIError.
func (o *Operator) Open(ctx context.Context, method, path string, in any) (*http.Response, error) {
	req, err := o.request(ctx, method, path, in)
	if err != nil {
		return nil, err
	}
	c := o.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, apiError(resp.StatusCode, body)
	}
	return resp, nil
}

package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
)

func agentHeaders(c *fiber.Ctx) gateway.AgentHeaders {
	return gateway.AgentHeaders{
		AgentID:   c.Get(api.HeaderAgentID),
		Timestamp: c.Get(api.HeaderAgentTimestamp),
		Sig:       c.Get(api.HeaderAgentSig),
	}
}

func (s *Server) intercept(c *fiber.Ctx) error {
	// The body is copied: fasthttp reuses its buffer after the handler.
	body := bytes.Clone(c.Body())
	if s.Metrics != nil {
		s.Metrics.InFlight(1)
		defer s.Metrics.InFlight(-1)
	}
	res := s.Pipeline.Intercept(c.UserContext(), gateway.Input{Body: body, Headers: agentHeaders(c), Remote: c.IP()})
	return writeDecision(c.Status(res.Status), &res.Body)
}

// answerBufs holds encoding buffers for decision bodies.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeDecision sends d as the JSON body: the bytes and headers of
// c.JSON(d) (api.Decision.AppendJSON is tested byte-equal to json.Marshal),
// encoded without reflection into a pooled buffer.
func writeDecision(c *fiber.Ctx, d *api.Decision) error {
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	b, err := d.AppendJSON((*bp)[:0])
	*bp = b[:0]
	if err != nil {
		return err
	}
	c.Response().SetBody(b)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// batchItem is one result of /v1/intercept/batch.
type batchItem struct {
	Status   int          `json:"status"`
	Decision api.Decision `json:"decision"`
}

// interceptBatch runs up to 50 intercepts. The batch body is
// {"items":[{"headers":{"X-Agent-Id","X-Agent-Timestamp","X-Agent-Sig"},"body":<the signed request object>}]}
// since each item is signed on its own exact bytes; the answer is
// {"results":[{"status","decision"}]} in item order.
func (s *Server) interceptBatch(c *fiber.Ctx) error {
	var in struct {
		Items []struct {
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"items"`
	}
	if !gateway.JSONDepthOK(c.Body(), gateway.MaxJSONDepth) {
		return apiErr(400, codes.MalformedRequest, "JSON nesting too deep")
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if len(in.Items) == 0 || len(in.Items) > gateway.MaxBatchItems {
		return apiErr(400, codes.MalformedRequest, fmt.Sprintf("items must hold 1..%d intercepts", gateway.MaxBatchItems))
	}
	out := make([]batchItem, len(in.Items))
	for i, it := range in.Items {
		h := gateway.AgentHeaders{AgentID: it.Headers[api.HeaderAgentID], Timestamp: it.Headers[api.HeaderAgentTimestamp], Sig: it.Headers[api.HeaderAgentSig]}
		res := s.Pipeline.Intercept(c.UserContext(), gateway.Input{Body: bytes.Clone(it.Body), Headers: h, Remote: c.IP()})
		out[i] = batchItem{Status: res.Status, Decision: res.Body}
	}
	return c.JSON(fiber.Map{"results": out})
}

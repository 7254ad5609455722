package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/risk"
)

// RiskBuffer is a risk-stream client's buffer: a client that falls this
// many events behind is disconnected (close code 1008, "too slow").
const RiskBuffer = 512

// riskWriteTimeout bounds one write to a stream client.
const riskWriteTimeout = 5 * time.Second

func (s *Server) riskRoutes() {
	s.App.Get("/v1/risk/snapshot", s.op("read"), s.riskSnapshot)
	s.App.Get("/v1/risk/stream", s.riskWSAuth, s.riskStream())
}

func (s *Server) riskMonitor() (*risk.Monitor, error) {
	if s.Operator.Risk == nil {
		return nil, apiErr(503, codes.InternalError, "the risk monitor is not configured")
	}
	return s.Operator.Risk, nil
}

// riskSnapshot is GET /v1/risk/snapshot: every tracked agent's current
// risk (riskiest first) and the recent alerts (newest first).
func (s *Server) riskSnapshot(c *fiber.Ctx) error {
	m, err := s.riskMonitor()
	if err != nil {
		return err
	}
	agents, alerts := m.Tracker.Snapshot(s.now())
	subs, dropped := m.Hub.Stats()
	return c.JSON(fiber.Map{"at": s.now().UnixMilli(), "agents": agents, "alerts": alerts,
		"stream": fiber.Map{"subscribers": subs, "droppedSlowClients": dropped}, "alertThreshold": risk.AlertThreshold})
}

// riskWSAuth authenticates the upgrade like the approvals WebSocket: API
// key (read) in Authorization, or in the bearer.<key> subprotocol together
// with sint.v1, which the server selects (wsOffersSubprotocol).
func (s *Server) riskWSAuth(c *fiber.Ctx) error {
	if _, err := s.riskMonitor(); err != nil {
		return err
	}
	if !websocket.IsWebSocketUpgrade(c) {
		return apiErr(426, codes.MalformedRequest, "a WebSocket upgrade is required")
	}
	if !wsOffersSubprotocol(c) {
		return apiErr(400, codes.MalformedRequest, "a client sending its key in the bearer subprotocol must offer the "+Subprotocol+" subprotocol")
	}
	if _, err := s.requireOp(c, "read"); err != nil {
		return err
	}
	return c.Next()
}

// riskClientMsg is a client→server message: {"type":"filter","agentId",
// "resource","minRisk"} replaces the subscription's filter and is answered
// {"type":"filter","ok":true,"filter":{…}} (or ok false with an error).
type riskClientMsg struct {
	Type string `json:"type"`
	risk.Filter
}

// riskStream is GET /v1/risk/stream: server→client
// {"type":"decision","event":{…}} for every decision passing the filter.
// The hub never waits for the client: when its buffer is full it is
// dropped and the connection closed with 1008 "too slow".
func (s *Server) riskStream() fiber.Handler {
	return websocket.New(func(conn *websocket.Conn) {
		m := s.Operator.Risk
		sub, err := m.Hub.Subscribe(&risk.Filter{}, RiskBuffer)
		if err != nil {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many subscribers"), time.Now().Add(time.Second))
			return
		}
		defer m.Hub.Unsubscribe(sub)
		op, _ := conn.Locals(operatorLocal).(*Operator)
		if op == nil {
			return
		}
		keyCtx, release := s.watchKey(context.Background(), op, "read")
		defer release()
		out := make(chan any, 8) // filter acknowledgements
		done := make(chan struct{})
		go func() {
			defer close(done)
			conn.SetReadLimit(4 << 10)
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				var in riskClientMsg
				if err := decodeStrict(msg, &in); err != nil || in.Type != "filter" || !in.Filter.Valid() {
					select {
					case out <- fiber.Map{"type": "filter", "ok": false, "error": fiber.Map{"code": string(codes.MalformedRequest), "message": "want {\"type\":\"filter\",\"agentId\"?,\"resource\"?,\"minRisk\"? in [0,1]}"}}:
					default:
					}
					continue
				}
				f := in.Filter
				sub.SetFilter(&f)
				select {
				case out <- fiber.Map{"type": "filter", "ok": true, "filter": f}:
				default:
				}
			}
		}()
		// The reader must be gone before the handler returns (the
		// connection's buffers are reused): a second for the client's close
		// frame, then stop reading.
		defer func() { _ = conn.SetReadDeadline(time.Now().Add(time.Second)); <-done }()
		write := func(v any) error {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			_ = conn.SetWriteDeadline(time.Now().Add(riskWriteTimeout))
			return conn.WriteMessage(websocket.TextMessage, b)
		}
		ping := time.NewTicker(30 * time.Second)
		defer ping.Stop()
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					reason := "stream closed"
					if sub.Dropped() {
						reason = "too slow"
					}
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason), time.Now().Add(time.Second))
					return
				}
				if err := write(fiber.Map{"type": "decision", "event": ev}); err != nil {
					return
				}
			case v := <-out:
				if err := write(v); err != nil {
					return
				}
			case <-ping.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(riskWriteTimeout)); err != nil {
					return
				}
			case <-done:
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return
			case <-keyCtx.Done(): // the API key was deleted
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "API key deleted"), time.Now().Add(time.Second))
				return
			}
		}
	}, websocket.Config{Subprotocols: []string{Subprotocol}})
}

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/approvals"
)

// StreamSocketBuffer is the kernel send buffer of an SSE connection.
const StreamSocketBuffer = 64 << 10

// Subprotocol is the WebSocket subprotocol of the approval stream (§4).
const Subprotocol = "sint.v1"

// lastEventID reads the resume point: the Last-Event-ID header, or the
// lastEventId query parameter (for clients that cannot set headers).
func lastEventID(c *fiber.Ctx) (uint64, bool, error) {
	v := c.Get("Last-Event-ID")
	if v == "" {
		v = c.Query("lastEventId")
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, false, apiErr(400, codes.MalformedRequest, "Last-Event-ID must be a ledger sequence number")
	}
	return n, true, nil
}

// subscribe registers a stream client and returns its subscription and
// resume point (the hub's position when there is none).
func (s *Server) subscribe(c *fiber.Ctx) (*approvals.Hub, *approvals.Sub, uint64, error) {
	v, err := s.voter()
	if err != nil {
		return nil, nil, 0, err
	}
	hub := v.Events()
	if hub == nil {
		return nil, nil, 0, &APIError{Status: 503, Code: codes.InternalError, Message: "approval streams are not configured"}
	}
	after, resume, err := lastEventID(c)
	if err != nil {
		return nil, nil, 0, err
	}
	sub, err := hub.Subscribe()
	if err != nil {
		return nil, nil, 0, &APIError{Status: 503, Code: codes.InternalError, Message: "approval streams are stopping", Cause: err}
	}
	if !resume || after > sub.From {
		after = sub.From
	}
	return hub, sub, after, nil
}

// streamCoalesce is how long a stream writer collects events before it
// flushes them to the client in one write (one syscall per client per
// window instead of one per event).
const streamCoalesce = 10 * time.Millisecond

// replay sends the backlog (after, sub.From] then the live events until the
// subscription ends or send fails. send may buffer; flush (if non-nil) is
// called at most streamCoalesce after an event was sent. tick is called on
// every heartbeat.
func replay(ctx context.Context, hub *approvals.Hub, sub *approvals.Sub, after uint64, send func(approvals.Event) error, flush, tick func() error) error {
	if err := hub.Backlog(ctx, after, sub.From, send); err != nil {
		return err
	}
	if flush != nil {
		if err := flush(); err != nil {
			return err
		}
	}
	t := time.NewTicker(sub.Heartbeat)
	defer t.Stop()
	ft := time.NewTimer(time.Hour)
	ft.Stop()
	defer ft.Stop()
	pending := false
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				if flush != nil && pending {
					_ = flush()
				}
				if sub.Dropped() {
					return errors.New("stream client too slow: disconnected")
				}
				return nil
			}
			if err := send(ev); err != nil {
				return err
			}
			if flush != nil && !pending {
				pending = true
				ft.Reset(streamCoalesce)
			}
		case <-ft.C:
			pending = false
			if err := flush(); err != nil {
				return err
			}
		case <-t.C:
			if err := tick(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// approvalStream is GET /v1/approvals/stream (SSE).
func (s *Server) approvalStream(c *fiber.Ctx) error {
	hub, sub, after, err := s.subscribe(c)
	if err != nil {
		return err
	}
	c.Set("Content-Type", "text/event-stream")
	c.Set("Cache-Control", "no-cache")
	c.Set("X-Accel-Buffering", "no")
	conn := c.Context().Conn()
	if tc, ok := conn.(interface{ SetWriteBuffer(int) error }); ok { // *net.TCPConn, lingerConn
		// Bound what the kernel holds for a client that stopped reading.
		_ = tc.SetWriteBuffer(StreamSocketBuffer)
	}
	log := s.Log
	ctx, release := s.watchKey(context.Background(), operatorOf(c), "read")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		defer hub.Unsubscribe(sub)
		flush := func() error {
			_ = conn.SetWriteDeadline(time.Now().Add(sub.WriteTimeout))
			return w.Flush()
		}
		if _, err := fmt.Fprintf(w, "retry: 1000\n: connected at %d\n\n", sub.From); err != nil || flush() != nil {
			return
		}
		var line []byte
		send := func(ev approvals.Event) error {
			// A write that overflows the buffer goes to the client: bound it too.
			if w.Available() < len(ev.Data)+64 {
				_ = conn.SetWriteDeadline(time.Now().Add(sub.WriteTimeout))
			}
			line = append(line[:0], "id: "...)
			line = strconv.AppendUint(line, ev.Seq, 10)
			line = append(line, "\nevent: "...)
			line = append(line, ev.Name...)
			line = append(line, "\ndata: "...)
			line = append(line, ev.Data...)
			line = append(line, "\n\n"...)
			_, err := w.Write(line)
			return err
		}
		tick := func() error {
			if _, err := w.WriteString(": heartbeat\n\n"); err != nil {
				return err
			}
			return flush()
		}
		err := replay(ctx, hub, sub, after, send, flush, tick)
		if err == nil {
			err = flush()
		}
		if errors.Is(context.Cause(ctx), errKeyGone) {
			// The client's key is gone: say so, then end the response.
			_, _ = w.WriteString("event: closed\ndata: {\"code\":\"UNAUTHENTICATED\",\"reason\":\"" + errKeyGone.Error() + "\"}\n\n")
			_ = flush()
		}
		if err != nil {
			log.Debug("approval stream ended", "err", err)
		}
	})
	return nil
}

// approvalWSAuth authenticates the WebSocket upgrade: the API key comes in
// Authorization, or in the bearer.<key> subprotocol together with sint.v1
// (wsOffersSubprotocol).
func (s *Server) approvalWSAuth(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return apiErr(426, codes.MalformedRequest, "a WebSocket upgrade is required")
	}
	if !wsOffersSubprotocol(c) {
		return apiErr(400, codes.MalformedRequest, "a client sending its key in the bearer subprotocol must offer the "+Subprotocol+" subprotocol")
	}
	if _, err := s.requireOp(c, "read"); err != nil {
		return err
	}
	hub, sub, after, err := s.subscribe(c)
	if err != nil {
		return err
	}
	c.Locals("sint.sub", sub)
	c.Locals("sint.hub", hub)
	c.Locals("sint.after", after)
	return c.Next()
}

// wsMessage is a client→server message.
type wsMessage struct {
	Type          string `json:"type"`
	ApprovalID    string `json:"approvalId"`
	Reason        string `json:"reason"`
	StandingForMs int64  `json:"standingForMs"`
}

// approvalWS is GET /v1/approvals/ws: the stream's events server→client as
// {"type":"event","id","event","data"}, votes client→server as
// {"type":"approve"|"deny","approvalId","reason"} answered with
// {"type":"result","approvalId","ok","approval"|"error"}.
func (s *Server) approvalWS() fiber.Handler {
	return websocket.New(func(conn *websocket.Conn) {
		sub, _ := conn.Locals("sint.sub").(*approvals.Sub)
		hub, _ := conn.Locals("sint.hub").(*approvals.Hub)
		after, _ := conn.Locals("sint.after").(uint64)
		op, _ := conn.Locals(operatorLocal).(*Operator)
		if sub == nil || hub == nil || op == nil {
			return
		}
		defer hub.Unsubscribe(sub)
		ctx, release := s.watchKey(context.Background(), op, "read")
		defer release()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wmu sync.Mutex
		write := func(v any) error {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			wmu.Lock()
			defer wmu.Unlock()
			_ = conn.SetWriteDeadline(time.Now().Add(sub.WriteTimeout))
			return conn.WriteMessage(websocket.TextMessage, b)
		}
		readDone := make(chan struct{})
		// The reader must be gone before the handler returns (the
		// connection's buffers are reused): give the client a second to
		// answer the close frame, then stop reading.
		defer func() { _ = conn.SetReadDeadline(time.Now().Add(time.Second)); <-readDone }()
		go func() {
			defer close(readDone)
			defer cancel()
			conn.SetReadLimit(64 << 10)
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				_ = write(s.wsVote(ctx, op, msg))
			}
		}()
		send := func(ev approvals.Event) error {
			return write(fiber.Map{"type": "event", "id": ev.Seq, "event": ev.Name, "data": ev.Data})
		}
		tick := func() error {
			wmu.Lock()
			defer wmu.Unlock()
			return conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(sub.WriteTimeout))
		}
		if err := replay(ctx, hub, sub, after, send, nil, tick); err != nil {
			s.Log.Debug("approval websocket ended", "err", err)
		}
		closing := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if errors.Is(context.Cause(ctx), errKeyGone) {
			closing = websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "API key deleted")
		}
		wmu.Lock()
		_ = conn.WriteControl(websocket.CloseMessage, closing, time.Now().Add(time.Second))
		wmu.Unlock()
	}, websocket.Config{Subprotocols: []string{Subprotocol}})
}

// wsVote applies one client message under the same rules as the HTTP routes.
func (s *Server) wsVote(ctx context.Context, op *Operator, msg []byte) fiber.Map {
	var m wsMessage
	fail := func(c codes.Code, id, text string) fiber.Map {
		return fiber.Map{"type": "result", "approvalId": id, "ok": false, "error": fiber.Map{"code": string(c), "message": text}}
	}
	if err := decodeStrict(msg, &m); err != nil {
		return fail(codes.MalformedRequest, "", "invalid message: "+err.Error())
	}
	if m.Type != approvals.VoteApprove && m.Type != approvals.VoteDeny {
		return fail(codes.MalformedRequest, m.ApprovalID, `type must be "approve" or "deny"`)
	}
	// Every vote re-reads the key that opened the stream: a key deleted
	// since (here or on another replica) or without approve cannot vote.
	op, cerr := s.voteOperator(ctx, op)
	if cerr != nil {
		return fail(cerr.Code, m.ApprovalID, cerr.Message)
	}
	v, err := s.voter()
	if err != nil {
		return fail(codes.InternalError, m.ApprovalID, "approvals are not configured")
	}
	a, err := v.Vote(ctx, m.ApprovalID, approvals.Vote{OperatorID: op.OperatorID, Vote: m.Type, Reason: m.Reason, StandingForMs: m.StandingForMs})
	if err != nil {
		var ce *codes.Error
		if errors.As(err, &ce) {
			return fail(ce.Code, m.ApprovalID, ce.Message)
		}
		s.Log.Error("websocket vote", "err", err)
		return fail(codes.InternalError, m.ApprovalID, "internal error")
	}
	return fiber.Map{"type": "result", "approvalId": m.ApprovalID, "ok": true, "approval": approvalView(a)}
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

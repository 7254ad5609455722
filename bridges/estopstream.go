package bridges

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sintgate/sintgate/client"
)

// Stream event names of the e-stop (PROTOCOL.md §7).
const (
	EventEstopTripped = "estop.tripped"
	EventEstopReset   = "estop.reset"
)

// EstopEvent is one pushed e-stop event.
type EstopEvent struct {
	Tripped bool   // estop.tripped; false: estop.reset
	Epoch   uint64 // the breaker epoch the event names (0 if it named none)
	Reason  string
	Source  string
	// TrippedAt is when the trip happened (unix ms; the trip entry's
	// trippedAt, 0 if it named none): the entry itself may reach the
	// ledger, and so the stream, later.
	TrippedAt int64
}

// EstopSubscriber streams pushed e-stop events. OperatorEstop implements it
// over the approvals stream (GET /v1/approvals/stream, SSE, scope read).
type EstopSubscriber interface {
	// SubscribeEstop calls connected once the stream is open, then on for
	// every e-stop event, until ctx ends or the stream breaks. It returns
	// why it ended (never nil).
	SubscribeEstop(ctx context.Context, connected func(), on func(EstopEvent)) error
}

// PollOnly hides the push side of an EstopReader: a bridge given
// PollOnly{r} only polls.
type PollOnly struct{ EstopReader }

// DefaultStreamIdle bounds how long the stream may stay silent (no event, no
// heartbeat; the gateway sends one every 15 s) before it counts as broken.
const DefaultStreamIdle = 45 * time.Second

// MaxStreamLine bounds one SSE line the subscriber keeps; the rest of a
// longer line (an approval with large params) is skipped.
const MaxStreamLine = 64 << 10

// errStreamEnded is returned when the gateway closed the stream.
var errStreamEnded = errors.New("e-stop stream ended")

// errStreamIdle is the cause of a stream silent for longer than its bound.
var errStreamIdle = errors.New("e-stop stream silent for too long")

// SubscribeEstop implements EstopSubscriber: it opens GET
// /v1/approvals/stream with the operator key and passes on the estop.*
// events. The stream has no overall timeout (Op.HTTP's is dropped); a
// stream silent for longer than DefaultStreamIdle, or that does not open
// within it, is broken.
func (o OperatorEstop) SubscribeEstop(ctx context.Context, connected func(), on func(EstopEvent)) error {
	hc := http.DefaultClient
	if o.Op.HTTP != nil {
		hc = o.Op.HTTP
	}
	sc := *hc
	sc.Timeout = 0
	op := client.Operator{BaseURL: o.Op.BaseURL, APIKey: o.Op.APIKey, HTTP: &sc}
	idle := o.StreamIdle
	if idle <= 0 {
		idle = DefaultStreamIdle
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := time.AfterFunc(idle, func() { cancel(errStreamIdle) })
	defer t.Stop()
	resp, err := op.Open(ctx, http.MethodGet, "/v1/approvals/stream", nil)
	if err != nil {
		if c := context.Cause(ctx); c != nil {
			return c
		}
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("e-stop stream: content type %q is not text/event-stream", ct)
	}
	if connected != nil {
		connected()
	}
	err = ReadEstopEvents(resp.Body, func() { t.Reset(idle) }, on)
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return err
}

// ReadEstopEvents reads an SSE stream (the approvals stream) from r and
// calls on for every estop.tripped and estop.reset event, and activity (if
// not nil) for every line. Other events are skipped. An estop.tripped event
// whose data cannot be read is still passed on (as a trip with no epoch):
// a trip is never dropped. It returns the read error, or an error when r
// ends.
func ReadEstopEvents(r io.Reader, activity func(), on func(EstopEvent)) error {
	br := bufio.NewReaderSize(r, MaxStreamLine)
	var event string
	var data []byte
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errStreamEnded
			}
			return err
		}
		if activity != nil {
			activity()
		}
		if len(line) == 0 { // dispatch
			if ev, ok := estopEventOf(event, data); ok {
				on(ev)
			}
			event, data = "", data[:0]
			continue
		}
		if line[0] == ':' { // comment: heartbeat, connected
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			if len(data)+len(value) <= MaxStreamLine {
				data = append(data, value...)
			}
		}
	}
}

// readLine returns the next line without its end (\n, \r\n), at most
// MaxStreamLine bytes of it (the rest is skipped).
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		kept := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return kept, nil
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

// estopEventOf maps one dispatched SSE event to an EstopEvent.
func estopEventOf(event string, data []byte) (EstopEvent, bool) {
	var ev EstopEvent
	switch event {
	case EventEstopTripped:
		ev.Tripped = true
	case EventEstopReset:
	default:
		return EstopEvent{}, false
	}
	var d struct {
		Epoch     uint64 `json:"epoch"`
		Reason    string `json:"reason"`
		Source    string `json:"source"`
		TrippedAt int64  `json:"trippedAt"`
	}
	if json.Unmarshal(data, &d) == nil {
		ev.Epoch, ev.Reason, ev.Source, ev.TrippedAt = d.Epoch, d.Reason, d.Source, d.TrippedAt
	}
	return ev, true
}

// Follow subscribes to s and applies every pushed event (Pushed) until ctx
// ends. A broken stream is opened again after a pause (100 ms, doubling to
// 5 s while it keeps failing); meanwhile the poll alone watches. log may be
// nil.
func (w *EstopWatch) Follow(ctx context.Context, s EstopSubscriber, apply func(PollAction), log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	const minPause, maxPause = 100 * time.Millisecond, 5 * time.Second
	pause := minPause
	for {
		var up time.Time
		sctx, cancel := context.WithCancel(ctx)
		w.smu.Lock()
		w.reopen = cancel
		w.smu.Unlock()
		err := s.SubscribeEstop(sctx,
			func() {
				up = time.Now()
				w.setStreaming(true)
				log.Info("e-stop stream connected")
			},
			func(ev EstopEvent) { w.Pushed(ev, apply) })
		w.setStreaming(false)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !up.IsZero() && time.Since(up) > time.Second {
			pause = minPause
		}
		log.Warn("e-stop stream broken: polling only until it is back", "err", err, "retryIn", pause.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

// Streaming reports whether a pushed e-stop stream is connected (Follow).
func (w *EstopWatch) Streaming() bool {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.streaming
}

// endStream ends the current stream, if any (Follow opens it again).
func (w *EstopWatch) endStream() {
	w.smu.Lock()
	defer w.smu.Unlock()
	if w.reopen != nil {
		w.reopen()
	}
}

func (w *EstopWatch) setStreaming(v bool) {
	w.smu.Lock()
	w.streaming = v
	w.smu.Unlock()
}

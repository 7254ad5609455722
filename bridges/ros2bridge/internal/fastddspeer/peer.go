// Package fastddspeer runs sint-fastdds-peer, a Fast DDS C++ program set up
// like a ROS 2 node (rmw_fastrtps conventions: topic rt/<name>, type
// pkg::msg::dds_::Name_, XCDR1 little-endian, keyless, reliable / volatile /
// keep-last 10 by default), as the real agent-side publisher and
// actuator-side subscriber of the ROS 2 bridge's tests.
//
// The program is built by `scripts/services.sh up fastdds` from
// bridges/ros2bridge/testdata/fastdds (its type support is generated from
// the IDL there by fastddsgen) and found through SINT_FASTDDS_PEER. Messages
// cross the process boundary as JSON with ROS 2 field names (non-finite
// floats as the strings "NaN", "Infinity", "-Infinity"), and received
// samples carry their serialized payload exactly as it arrived: Fast DDS
// pads a payload with zero bytes to a multiple of 4 on the wire and leaves
// the encapsulation options at 00 00, so Received.CDR can be up to 3 bytes
// longer than what Encode returns for the same message.
//
// Every process a test starts is stopped by t.Cleanup (stdin closed, then
// killed after 5 s), and its stderr goes to the test log. Under CI=true a
// missing peer fails the test; elsewhere it skips it, naming the command
// that builds the peer.
//
// In a test:
//
//	o := fastddspeer.Options{Topic: "/cmd_vel", Type: "geometry_msgs/msg/Twist",
//		Domain: fastddspeer.RandomDomain(), LoopbackOnly: true}
//	sub, err := fastddspeer.StartSubscriber(ctx, t, o)
//	pub, err := fastddspeer.StartPublisher(ctx, t, o)
//	err = pub.WaitMatched(ctx, 1) // a message published before the match is lost
//	err = pub.Publish([]byte(`{"linear":{"x":0.5}}`))
//	r, err := sub.Next(ctx)       // r.JSON, r.CDR, r.At
//
// This package is pure Go: it only starts processes.
package fastddspeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
)

// EnvPeer names the variable holding the peer binary's path.
const EnvPeer = "SINT_FASTDDS_PEER"

// BuildCommand is the shell command that builds the peer and exports EnvPeer.
const BuildCommand = `scripts/services.sh up fastdds && eval "$(scripts/services.sh env fastdds)"`

// DefaultDepth is the keep-last depth of ROS 2's default QoS profile.
const DefaultDepth = 10

// replyTimeout bounds Publish's wait for the peer to confirm a write.
const replyTimeout = 10 * time.Second

// stopGrace is how long Cleanup waits for a peer to exit after its stdin
// closed before killing it.
const stopGrace = 5 * time.Second

// ErrUndecodable is returned by Subscriber.Next for a received payload that
// is not a valid message of the subscriber's type (the Received carries its
// bytes).
var ErrUndecodable = errors.New("fastddspeer: received a payload that does not decode")

// ErrNoPeer is returned by Path when SINT_FASTDDS_PEER names no executable.
var ErrNoPeer = errors.New("fastddspeer: sint-fastdds-peer unavailable")

// Options configures one publisher or subscriber.
type Options struct {
	// Topic is the ROS 2 topic ("/cmd_vel"); the DDS topic is rt/cmd_vel.
	Topic string
	// DDSTopic, when set, is the DDS topic name verbatim (no rt/ mapping):
	// for tests of what a wrong name does.
	DDSTopic string
	// Type is the ROS 2 type ("geometry_msgs/msg/Twist" or "geometry_msgs/Twist").
	Type string
	// Domain is the DDS domain id, 0..232. Tests should take RandomDomain()
	// to stay apart from other DDS processes on the machine.
	Domain int
	// BestEffort selects best-effort reliability; the zero value is ROS 2's
	// default, reliable.
	BestEffort bool
	// TransientLocal selects transient-local durability (a late reader gets
	// the writer's last Depth messages); the zero value is ROS 2's default,
	// volatile.
	TransientLocal bool
	// Depth is the keep-last history depth; 0 means DefaultDepth.
	Depth int
	// DDSType, when set, is announced as the DDS type name instead of the
	// type's own (pkg::msg::dds_::Name_): a node that lies about its type.
	DDSType string
	// Raw (publishers only) makes the publisher send payloads given as
	// bytes with PublishCDR, unchecked: a broken or hostile node.
	Raw bool
	// TypeHash, when set, is announced in the endpoint's USER_DATA as
	// "typehash=<TypeHash>;", as ROS 2 Iron and later nodes do; the zero
	// value announces none, as Humble.
	TypeHash string
	// LoopbackOnly restricts the participant to UDP on 127.0.0.1 with
	// unicast discovery there and no shared memory (what ROS 2 calls
	// localhost-only); the other side must be configured the same way.
	LoopbackOnly bool
}

func (o Options) args(mode string) ([]string, error) {
	if o.Type == "" {
		return nil, errors.New("fastddspeer: Options.Type is required")
	}
	if o.Topic == "" && o.DDSTopic == "" {
		return nil, errors.New("fastddspeer: Options.Topic is required")
	}
	if o.Domain < 0 || o.Domain > 232 {
		return nil, fmt.Errorf("fastddspeer: domain %d outside 0..232", o.Domain)
	}
	a := []string{mode, "--type", o.Type, "--domain", strconv.Itoa(o.Domain)}
	if o.DDSTopic != "" {
		a = append(a, "--dds-topic", o.DDSTopic)
	} else {
		a = append(a, "--topic", o.Topic)
	}
	depth := o.Depth
	if depth == 0 {
		depth = DefaultDepth
	}
	a = append(a, "--depth", strconv.Itoa(depth))
	if o.BestEffort {
		a = append(a, "--best-effort")
	}
	if o.TransientLocal {
		a = append(a, "--transient-local")
	}
	if o.LoopbackOnly {
		a = append(a, "--loopback")
	}
	if o.DDSType != "" {
		a = append(a, "--dds-type", o.DDSType)
	}
	if o.TypeHash != "" {
		a = append(a, "--type-hash", o.TypeHash)
	}
	if o.Raw {
		if mode != "pub" {
			return nil, errors.New("fastddspeer: Options.Raw is for publishers")
		}
		a = append(a, "--raw")
	}
	return a, nil
}

// RandomDomain returns a domain id in 1..232 for one test: domains keep
// concurrent tests (and other processes on the machine) from discovering
// each other and from running out of per-domain participant ports.
func RandomDomain() int { return 1 + rand.IntN(232) }

// Path returns the peer binary named by SINT_FASTDDS_PEER, or an error
// wrapping ErrNoPeer that says how to build it.
func Path() (string, error) {
	p := strings.TrimSpace(os.Getenv(EnvPeer))
	if p == "" {
		return "", fmt.Errorf("%w: %s is not set; build it with: %s", ErrNoPeer, EnvPeer, BuildCommand)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v; build it with: %s", ErrNoPeer, err, BuildCommand)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file; build it with: %s", ErrNoPeer, p, BuildCommand)
	}
	return p, nil
}

// Require returns the peer's path for a test, or skips it (fails it under
// CI=true) with a message saying how to build the peer.
func Require(tb testing.TB) string {
	tb.Helper()
	p := strings.TrimSpace(os.Getenv(EnvPeer))
	if p == "" {
		// Looked up in PATH, where it is not: testenv reports it missing.
		p = "sint-fastdds-peer"
	}
	return testenv.Program(tb, p, BuildCommand)
}

// Received is one sample a Subscriber took.
type Received struct {
	// JSON is the message with ROS 2 field names.
	JSON []byte
	// CDR is the serialized payload as it arrived, the 4-byte
	// encapsulation header included.
	CDR []byte
	// At is the peer's CLOCK_REALTIME when it took the sample.
	At time.Time
	// SourceAt is the writer's source timestamp.
	SourceAt time.Time
}

// event is one line of the peer's stdout.
type event struct {
	Event    string          `json:"event"`
	Count    int             `json:"count"`
	TNs      int64           `json:"t_ns"`
	SrcTNs   int64           `json:"src_t_ns"`
	Data     json.RawMessage `json:"data"`
	CDR      string          `json:"cdr"`
	Message  string          `json:"message"`
	Kind     string          `json:"kind"`
	UserData *string         `json:"user_data"`
}

// Discovered is a remote endpoint of the peer's topic as discovery
// announced it to the peer.
type Discovered struct {
	Kind     string // "reader" or "writer"
	UserData []byte // its USER_DATA as it arrived
}

// taken is one entry of a subscriber's queue.
type taken struct {
	r   Received
	err error
}

type sendResult struct {
	at  time.Time
	err error
}

// proc is one running peer process and what it reported.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every report
	matched int
	msgs    []taken
	sent    []sendResult
	found   []Discovered
	tail    []string // last stderr lines, for errors
	exitErr error

	done chan struct{} // closed once the process exited and its output is read
}

func start(ctx context.Context, tb testing.TB, mode string, o Options) (*proc, error) {
	tb.Helper()
	bin := Require(tb)
	args, err := o.args(mode)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ROS_LOCALHOST_ONLY=0")
	p := &proc{
		name:    fmt.Sprintf("fastdds %s %s", mode, firstNonEmpty(o.Topic, o.DDSTopic)),
		cmd:     cmd,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("fastddspeer: start %s: %w", bin, err)
	}
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			tb.Logf("%s: %s", p.name, line)
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 20 {
				p.tail = p.tail[len(p.tail)-20:]
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			p.handle(tb, sc.Bytes())
		}
		<-errDone
		werr := cmd.Wait()
		p.mu.Lock()
		if werr != nil {
			p.exitErr = werr
		} else {
			p.exitErr = errors.New("exited")
		}
		p.mu.Unlock()
		close(p.done)
	}()
	tb.Cleanup(p.stop)
	return p, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// handle applies one stdout line.
func (p *proc) handle(tb testing.TB, line []byte) {
	var ev event
	if err := json.Unmarshal(line, &ev); err != nil {
		tb.Logf("%s: unparsable output %q: %v", p.name, line, err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Event {
	case "matched":
		p.matched = ev.Count
	case "sent":
		p.sent = append(p.sent, sendResult{at: time.Unix(0, ev.TNs)})
	case "error":
		p.sent = append(p.sent, sendResult{err: fmt.Errorf("fastddspeer: %s refused a message: %s", p.name, ev.Message)})
	case "msg":
		cdr, err := hex.DecodeString(ev.CDR)
		if err != nil {
			tb.Logf("%s: bad cdr hex: %v", p.name, err)
			return
		}
		p.msgs = append(p.msgs, taken{r: Received{
			JSON:     append([]byte(nil), ev.Data...),
			CDR:      cdr,
			At:       time.Unix(0, ev.TNs),
			SourceAt: time.Unix(0, ev.SrcTNs),
		}})
	case "discovered":
		var ud []byte
		if ev.UserData != nil {
			var err error
			if ud, err = hex.DecodeString(*ev.UserData); err != nil {
				tb.Logf("%s: bad user_data hex: %v", p.name, err)
				return
			}
		}
		p.found = append(p.found, Discovered{Kind: ev.Kind, UserData: ud})
	case "undecodable":
		cdr, err := hex.DecodeString(ev.CDR)
		if err != nil {
			tb.Logf("%s: bad cdr hex: %v", p.name, err)
			return
		}
		p.msgs = append(p.msgs, taken{
			r:   Received{CDR: cdr, At: time.Unix(0, ev.TNs)},
			err: fmt.Errorf("%w: %x", ErrUndecodable, cdr),
		})
	default:
		tb.Logf("%s: unknown event %q", p.name, line)
		return
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// await waits until cond (called with p.mu held) holds, ctx ends or the
// process exits.
func (p *proc) await(ctx context.Context, what string, cond func() bool) error {
	for {
		p.mu.Lock()
		ok := cond()
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-p.done:
			p.mu.Lock()
			ok := cond()
			p.mu.Unlock()
			if ok {
				return nil
			}
			return p.exitError(what)
		case <-ctx.Done():
			return fmt.Errorf("fastddspeer: %s: waiting for %s: %w", p.name, what, ctx.Err())
		}
	}
}

func (p *proc) exitError(what string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Errorf("fastddspeer: %s ended while waiting for %s: %v; stderr: %s",
		p.name, what, p.exitErr, strings.Join(p.tail, " | "))
}

func (p *proc) waitMatched(ctx context.Context, n int) error {
	return p.await(ctx, fmt.Sprintf("%d matched endpoint(s)", n), func() bool { return p.matched >= n })
}

// waitDiscovered waits until discovery announced a remote endpoint of the
// topic for which match holds, and returns it.
func (p *proc) waitDiscovered(ctx context.Context, match func(Discovered) bool) (Discovered, error) {
	var d Discovered
	err := p.await(ctx, "a discovered endpoint", func() bool {
		for _, f := range p.found {
			if match(f) {
				d = f
				return true
			}
		}
		return false
	})
	return d, err
}

func (p *proc) matchedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.matched
}

// stop closes stdin (the peer leaves the domain cleanly) and kills the
// process if it has not exited within stopGrace.
func (p *proc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Publisher is a running `sint-fastdds-peer pub`.
type Publisher struct {
	p    *proc
	wmu  sync.Mutex // one message in flight: replies come in order
	next int        // index of the next unread send result
}

// StartPublisher starts a Fast DDS publisher of o.Type on o.Topic. It
// returns once the process runs; call WaitMatched before the first Publish
// (matching can take a second, and a message sent before it is lost).
func StartPublisher(ctx context.Context, tb testing.TB, o Options) (*Publisher, error) {
	tb.Helper()
	p, err := start(ctx, tb, "pub", o)
	if err != nil {
		return nil, err
	}
	return &Publisher{p: p}, nil
}

// WaitMatched waits until at least n readers are matched.
func (pb *Publisher) WaitMatched(ctx context.Context, n int) error { return pb.p.waitMatched(ctx, n) }

// Matched is the current number of matched readers.
func (pb *Publisher) Matched() int { return pb.p.matchedCount() }

// WaitDiscovered waits until discovery announced to the publisher a remote
// endpoint of its topic for which match holds (e.g. a reader and its
// USER_DATA), and returns it.
func (pb *Publisher) WaitDiscovered(ctx context.Context, match func(Discovered) bool) (Discovered, error) {
	return pb.p.waitDiscovered(ctx, match)
}

// Publish publishes one message (JSON with ROS 2 field names) and returns
// once the peer wrote it, or with the peer's reason for refusing it.
func (pb *Publisher) Publish(msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	_, err := pb.PublishAt(ctx, msg)
	return err
}

// PublishCDR publishes payload (encapsulation header included) as is; the
// publisher must have been started with Options.Raw.
func (pb *Publisher) PublishCDR(ctx context.Context, payload []byte) error {
	_, err := pb.send(ctx, []byte(hex.EncodeToString(payload)))
	return err
}

// PublishAt is Publish, returning the peer's CLOCK_REALTIME just before
// the write (the start of a latency measurement).
func (pb *Publisher) PublishAt(ctx context.Context, msg []byte) (time.Time, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, msg); err != nil {
		return time.Time{}, fmt.Errorf("fastddspeer: message is not JSON: %w", err)
	}
	return pb.send(ctx, buf.Bytes())
}

// send writes one input line and waits for the peer's answer to it.
func (pb *Publisher) send(ctx context.Context, line []byte) (time.Time, error) {
	var buf bytes.Buffer
	buf.Write(line)
	buf.WriteByte('\n')
	pb.wmu.Lock()
	defer pb.wmu.Unlock()
	if _, err := pb.p.stdin.Write(buf.Bytes()); err != nil {
		return time.Time{}, fmt.Errorf("fastddspeer: write to %s: %w", pb.p.name, err)
	}
	idx := pb.next
	if err := pb.p.await(ctx, "the write confirmation", func() bool { return len(pb.p.sent) > idx }); err != nil {
		return time.Time{}, err
	}
	pb.next++
	pb.p.mu.Lock()
	r := pb.p.sent[idx]
	pb.p.mu.Unlock()
	return r.at, r.err
}

// Subscriber is a running `sint-fastdds-peer sub`.
type Subscriber struct {
	p    *proc
	next int // index of the next unread message
	mu   sync.Mutex
}

// StartSubscriber starts a Fast DDS subscriber of o.Type on o.Topic. Every
// sample it takes is kept until Next returns it.
func StartSubscriber(ctx context.Context, tb testing.TB, o Options) (*Subscriber, error) {
	tb.Helper()
	p, err := start(ctx, tb, "sub", o)
	if err != nil {
		return nil, err
	}
	return &Subscriber{p: p}, nil
}

// WaitMatched waits until at least n writers are matched.
func (s *Subscriber) WaitMatched(ctx context.Context, n int) error { return s.p.waitMatched(ctx, n) }

// Matched is the current number of matched writers.
func (s *Subscriber) Matched() int { return s.p.matchedCount() }

// WaitDiscovered waits until discovery announced to the subscriber a remote
// endpoint of its topic for which match holds (e.g. a writer and its
// USER_DATA), and returns it.
func (s *Subscriber) WaitDiscovered(ctx context.Context, match func(Discovered) bool) (Discovered, error) {
	return s.p.waitDiscovered(ctx, match)
}

// Next returns the next sample received, waiting for one until ctx ends. A
// payload that did not decode as the subscriber's type is returned as an
// error wrapping ErrUndecodable, with its bytes in Received.CDR.
func (s *Subscriber) Next(ctx context.Context) (Received, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.next
	if err := s.p.await(ctx, "a message", func() bool { return len(s.p.msgs) > idx }); err != nil {
		return Received{}, err
	}
	s.next++
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.p.msgs[idx].r, s.p.msgs[idx].err
}

// Count is the number of samples received so far (read or not).
func (s *Subscriber) Count() int {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return len(s.p.msgs)
}

// Encode serializes msg (JSON with ROS 2 field names) as Fast DDS does for
// typ: the returned bytes start with the encapsulation header.
func Encode(ctx context.Context, typ string, msg []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, msg); err != nil {
		return nil, fmt.Errorf("fastddspeer: message is not JSON: %w", err)
	}
	out, err := run(ctx, "encode", typ, buf.Bytes())
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		return nil, fmt.Errorf("fastddspeer: encode output is not hex: %w", err)
	}
	return b, nil
}

// Decode deserializes cdr (encapsulation header included) as Fast DDS
// does for typ and returns the message as JSON with ROS 2 field names.
func Decode(ctx context.Context, typ string, cdr []byte) ([]byte, error) {
	out, err := run(ctx, "decode", typ, []byte(hex.EncodeToString(cdr)))
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(out), nil
}

// run runs a one-shot mode with one input line.
func run(ctx context.Context, mode, typ string, line []byte) ([]byte, error) {
	bin, err := Path()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, mode, "--type", typ)
	cmd.Stdin = bytes.NewReader(append(append([]byte(nil), line...), '\n'))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("fastddspeer: %s %s: %w: %s", mode, typ, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

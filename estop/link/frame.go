// Package link is the authenticated frame link between the gateway and the
// e-stop controller (PROTOCOL.md §8): TCP, length-prefixed frames
// {ver, type, seq, unixMs, payload} with an HMAC-SHA256 tag, heartbeats in
// both directions and a watchdog on each side.
//
// # Concepts
//
//   - Codec seals outgoing frames and opens incoming ones. Opening verifies
//     the tag, the version, the type, the sequence number (strictly
//     increasing: replays and reordering are dropped) and the timestamp
//     (within MaxSkew). Every dropped frame is counted in Stats.
//   - Session runs one connection: it sends a heartbeat every Interval and
//     ends with ErrHeartbeatLost when no valid frame arrived for Timeout.
//   - Server is the gateway side: it accepts controller connections and
//     drives an estop.Breaker (link loss and a pressed controller button
//     trip it; a healthy link clears the latch).
//   - The controller side lives in package firmware.
//
// # Wire format
//
//	u32  length of the rest (big endian), 52..MaxFrame
//	u8   ver (1)
//	u8   type (1 heartbeat, 2 trip, 3 state, 4 reset-request)
//	u64  seq (big endian)
//	i64  unixMs (big endian)
//	u16  payload length
//	...  payload (JSON, see Status)
//	[32] HMAC-SHA256(direction key, ver..payload)
//
// Each direction has its own key, HMAC-SHA256(shared key, "sintgate-estop/v1
// gateway" or "… controller"), so a frame cannot be reflected back to its
// sender.
package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the frame format version.
const Version = 1

// Limits.
const (
	headerLen  = 1 + 1 + 8 + 8 + 2
	macLen     = sha256.Size
	MinFrame   = headerLen + macLen // smallest frame body (empty payload)
	MaxPayload = 1024               // bytes
	MaxFrame   = MinFrame + MaxPayload
	MinKeyLen  = 16 // bytes of shared key
)

// Type is a frame type.
type Type uint8

// Frame types.
const (
	Heartbeat    Type = 1
	Trip         Type = 2
	StateFrame   Type = 3
	ResetRequest Type = 4
)

func (t Type) String() string {
	switch t {
	case Heartbeat:
		return "heartbeat"
	case Trip:
		return "trip"
	case StateFrame:
		return "state"
	case ResetRequest:
		return "reset-request"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Frame is a decoded frame.
type Frame struct {
	Ver     uint8
	Type    Type
	Seq     uint64
	UnixMs  int64
	Payload []byte
}

// Errors of Open. Every one is a dropped frame.
var (
	ErrMalformed = errors.New("link: malformed frame")
	ErrBadMAC    = errors.New("link: bad MAC")
	ErrReplayed  = errors.New("link: replayed or out-of-order sequence number")
	ErrStale     = errors.New("link: timestamp outside the allowed skew")
)

// Role is the side of the link a Codec speaks for.
type Role uint8

// Roles.
const (
	RoleGateway Role = iota
	RoleController
)

func (r Role) peer() Role { return 1 - r }

func directionKey(shared []byte, sender Role) []byte {
	m := hmac.New(sha256.New, shared)
	if sender == RoleGateway {
		io.WriteString(m, "sintgate-estop/v1 gateway")
	} else {
		io.WriteString(m, "sintgate-estop/v1 controller")
	}
	return m.Sum(nil)
}

// Decode parses a frame body (without the length prefix) and returns the
// frame and its tag, without verifying anything but the structure. It never
// panics on any input.
func Decode(body []byte) (Frame, []byte, error) {
	if len(body) < MinFrame || len(body) > MaxFrame {
		return Frame{}, nil, fmt.Errorf("%w: length %d", ErrMalformed, len(body))
	}
	f := Frame{
		Ver:    body[0],
		Type:   Type(body[1]),
		Seq:    binary.BigEndian.Uint64(body[2:10]),
		UnixMs: int64(binary.BigEndian.Uint64(body[10:18])),
	}
	n := int(binary.BigEndian.Uint16(body[18:20]))
	if headerLen+n+macLen != len(body) {
		return Frame{}, nil, fmt.Errorf("%w: payload length %d in a %d-byte frame", ErrMalformed, n, len(body))
	}
	f.Payload = body[headerLen : headerLen+n]
	return f, body[headerLen+n:], nil
}

// Stats counts frames. All fields are safe for concurrent use.
type Stats struct {
	Sent, Received                     atomic.Uint64
	Malformed, BadMAC, Replayed, Stale atomic.Uint64
}

// Dropped is the total of dropped frames.
func (s *Stats) Dropped() uint64 {
	return s.Malformed.Load() + s.BadMAC.Load() + s.Replayed.Load() + s.Stale.Load()
}

// Codec seals and opens frames for one side of the link. It is safe for
// concurrent use. The receive sequence state persists across connections, so
// frames recorded from an earlier connection cannot be replayed into a later
// one.
type Codec struct {
	sendKey, recvKey []byte
	seq              atomic.Uint64
	maxSkew          time.Duration
	Stats            Stats

	mu      sync.Mutex
	lastSeq uint64
}

// NewCodec returns a codec for role with the shared key. Outgoing sequence
// numbers start after seqStart; use the process start time in nanoseconds so
// that a restarted sender stays ahead of what its peer has seen. maxSkew
// bounds |unixMs − now| of accepted frames (0 disables the check).
func NewCodec(key []byte, role Role, seqStart uint64, maxSkew time.Duration) (*Codec, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("link: key of %d bytes, want at least %d", len(key), MinKeyLen)
	}
	c := &Codec{sendKey: directionKey(key, role), recvKey: directionKey(key, role.peer()), maxSkew: maxSkew}
	c.seq.Store(seqStart)
	return c, nil
}

// Seal encodes a frame of type t with the next sequence number, including
// the 4-byte length prefix.
func (c *Codec) Seal(t Type, now time.Time, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("link: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	return sealWith(c.sendKey, Frame{Ver: Version, Type: t, Seq: c.seq.Add(1), UnixMs: now.UnixMilli(), Payload: payload}), nil
}

func sealWith(key []byte, f Frame) []byte {
	n := headerLen + len(f.Payload) + macLen
	buf := make([]byte, 4+n)
	binary.BigEndian.PutUint32(buf[0:4], uint32(n))
	b := buf[4:]
	b[0] = f.Ver
	b[1] = byte(f.Type)
	binary.BigEndian.PutUint64(b[2:10], f.Seq)
	binary.BigEndian.PutUint64(b[10:18], uint64(f.UnixMs))
	binary.BigEndian.PutUint16(b[18:20], uint16(len(f.Payload)))
	copy(b[headerLen:], f.Payload)
	m := hmac.New(sha256.New, key)
	m.Write(b[:headerLen+len(f.Payload)])
	copy(b[headerLen+len(f.Payload):], m.Sum(nil))
	return buf
}

// Open verifies a frame body (without the length prefix) from the peer and
// returns it. Checks, in order: structure, tag, version and type, timestamp,
// sequence. A frame that fails is counted and dropped; the sequence state
// only advances for frames that pass every check.
func (c *Codec) Open(body []byte, now time.Time) (Frame, error) {
	f, tag, err := Decode(body)
	if err != nil {
		c.Stats.Malformed.Add(1)
		return Frame{}, err
	}
	m := hmac.New(sha256.New, c.recvKey)
	m.Write(body[:len(body)-macLen])
	if !hmac.Equal(m.Sum(nil), tag) {
		c.Stats.BadMAC.Add(1)
		return Frame{}, ErrBadMAC
	}
	if f.Ver != Version || f.Type < Heartbeat || f.Type > ResetRequest {
		c.Stats.Malformed.Add(1)
		return Frame{}, fmt.Errorf("%w: version %d type %d", ErrMalformed, f.Ver, f.Type)
	}
	if c.maxSkew > 0 {
		if d := now.Sub(time.UnixMilli(f.UnixMs)); d > c.maxSkew || d < -c.maxSkew {
			c.Stats.Stale.Add(1)
			return Frame{}, fmt.Errorf("%w: %v", ErrStale, d)
		}
	}
	c.mu.Lock()
	if f.Seq <= c.lastSeq {
		c.mu.Unlock()
		c.Stats.Replayed.Add(1)
		return Frame{}, fmt.Errorf("%w: %d ≤ %d", ErrReplayed, f.Seq, c.lastSeq)
	}
	c.lastSeq = f.Seq
	c.mu.Unlock()
	c.Stats.Received.Add(1)
	f.Payload = append([]byte(nil), f.Payload...)
	return f, nil
}

// ReadFrame reads one length-prefixed frame body from r. A length outside
// MinFrame..MaxFrame is an error (the stream cannot be resynchronised, so the
// caller closes the connection).
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < MinFrame || n > MaxFrame {
		return nil, fmt.Errorf("%w: length prefix %d", ErrMalformed, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

package msgs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/sintgate/sintgate/codes"
)

// Encapsulation is the 4-byte header of an XCDR1 little-endian payload.
var Encapsulation = [4]byte{0x00, 0x01, 0x00, 0x00}

// MaxMessageBytes bounds a payload Decode accepts.
const MaxMessageBytes = 4 << 20

// errShort and friends are wrapped into MALFORMED_REQUEST by Decode.
var (
	errShort = errors.New("truncated")
)

// writer appends CDR to a buffer; offsets for alignment are relative to the
// start of the body (after the encapsulation header).
type writer struct{ b []byte }

func (w *writer) align(n int) {
	for (len(w.b)-4)%n != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *writer) u8(v uint8) { w.b = append(w.b, v) }

func (w *writer) boolean(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

func (w *writer) u32(v uint32) { w.align(4); w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) i32(v int32)  { w.u32(uint32(v)) }
func (w *writer) f64(v float64) {
	w.align(8)
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
}

func (w *writer) str(s string) {
	w.u32(uint32(len(s) + 1))
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
}

func (w *writer) f64s(v []float64) {
	w.u32(uint32(len(v)))
	for _, x := range v {
		w.f64(x)
	}
}

func (w *writer) strs(v []string) {
	w.u32(uint32(len(v)))
	for _, s := range v {
		w.str(s)
	}
}

// reader decodes CDR; the first error sticks.
type reader struct {
	b   []byte // body, without the encapsulation header
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) align(n int) bool {
	if r.err != nil {
		return false
	}
	pad := (n - r.off%n) % n
	if r.off+pad > len(r.b) {
		r.fail(errShort)
		return false
	}
	r.off += pad
	return true
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail(errShort)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) boolean() bool {
	switch v := r.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail(fmt.Errorf("bool byte %d", v))
		return false
	}
}

func (r *reader) u32() uint32 {
	if !r.align(4) {
		return 0
	}
	if s := r.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) i32() int32 { return int32(r.u32()) }

func (r *reader) f64() float64 {
	if !r.align(8) {
		return 0
	}
	if s := r.take(8); s != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(s))
	}
	return 0
}

// seqLen reads a sequence length and checks that n elements of at least
// minSize bytes each fit in what is left, so a hostile length allocates
// nothing.
func (r *reader) seqLen(minSize int) int {
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(len(r.b)-r.off) {
		r.fail(fmt.Errorf("sequence of %d elements exceeds the %d bytes left", n, len(r.b)-r.off))
		return 0
	}
	return int(n)
}

func (r *reader) str() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if n == 0 {
		r.fail(errors.New("string without its terminating NUL"))
		return ""
	}
	s := r.take(int(min(n, uint32(math.MaxInt32))))
	if s == nil {
		return ""
	}
	if s[len(s)-1] != 0 {
		r.fail(errors.New("string without its terminating NUL"))
		return ""
	}
	if !utf8.Valid(s[:len(s)-1]) {
		r.fail(errors.New("string is not valid UTF-8"))
		return ""
	}
	return string(s[:len(s)-1])
}

func (r *reader) f64s() []float64 {
	n := r.seqLen(8)
	if n == 0 {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.f64()
	}
	return v
}

func (r *reader) strs() []string {
	n := r.seqLen(5)
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = r.str()
	}
	return v
}

// Encode returns the serialized payload of m: the encapsulation header and
// the CDR body.
func Encode(m Message) []byte {
	w := writer{b: append(make([]byte, 0, 64), Encapsulation[:]...)}
	m.marshal(&w)
	return w.b
}

// Decode decodes a serialized payload (encapsulation header included) as a
// message of type t. Errors are MALFORMED_REQUEST.
func Decode(t Type, b []byte) (Message, error) {
	bad := func(msg string) (Message, error) {
		return nil, codes.New(codes.MalformedRequest, "ros2 cdr: "+t.Name+": "+msg)
	}
	if t.New == nil {
		return bad("unknown message type")
	}
	if len(b) > MaxMessageBytes {
		return bad(fmt.Sprintf("payload over %d bytes", MaxMessageBytes))
	}
	if len(b) < 4 {
		return bad("no encapsulation header")
	}
	if b[0] != 0x00 || b[1] != 0x01 {
		return bad(fmt.Sprintf("encapsulation %02x%02x, want 0001 (XCDR1 little-endian)", b[0], b[1]))
	}
	r := reader{b: b[4:]}
	m := t.New()
	m.unmarshal(&r)
	if r.err != nil {
		return bad(r.err.Error())
	}
	// The RTPS payload may be padded to a multiple of 4 bytes.
	if rest := len(r.b) - r.off; rest > 3 || (rest > 0 && len(b)%4 != 0) {
		return bad(fmt.Sprintf("%d bytes after the message", rest))
	}
	return m, nil
}

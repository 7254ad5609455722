package msgs

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sintgate/sintgate/codes"
)

// Writer appends ROS 1 serialized fields to a byte slice. The zero Writer is
// ready to use. A Writer is not safe for concurrent use.
type Writer struct {
	buf []byte
}

// NewWriter returns a Writer that appends to dst (which may be nil).
func NewWriter(dst []byte) *Writer { return &Writer{buf: dst} }

// Bytes returns the bytes written so far; it aliases the Writer's buffer.
func (w *Writer) Bytes() []byte { return w.buf }

// Reset empties the Writer, keeping its buffer for reuse.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// Uint8 writes one byte.
func (w *Writer) Uint8(v uint8) { w.buf = append(w.buf, v) }

// Bool writes a bool as one byte, 0 or 1.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

// Uint32 writes a little-endian uint32.
func (w *Writer) Uint32(v uint32) { w.buf = binary.LittleEndian.AppendUint32(w.buf, v) }

// Int32 writes a little-endian int32.
func (w *Writer) Int32(v int32) { w.Uint32(uint32(v)) }

// Float64 writes a little-endian IEEE-754 float64.
func (w *Writer) Float64(v float64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(v))
}

// String writes a uint32 byte length followed by the bytes of s.
func (w *Writer) String(s string) {
	w.Uint32(uint32(len(s)))
	w.buf = append(w.buf, s...)
}

// Time writes a ROS time (uint32 secs, uint32 nsecs).
func (w *Writer) Time(t Time) { w.Uint32(t.Sec); w.Uint32(t.Nsec) }

// Duration writes a ROS duration (int32 secs, int32 nsecs).
func (w *Writer) Duration(d Duration) { w.Int32(d.Sec); w.Int32(d.Nsec) }

// Float64s writes a uint32 element count followed by the elements.
func (w *Writer) Float64s(v []float64) {
	w.Uint32(uint32(len(v)))
	for _, f := range v {
		w.Float64(f)
	}
}

// Strings writes a uint32 element count followed by each string.
func (w *Writer) Strings(v []string) {
	w.Uint32(uint32(len(v)))
	for _, s := range v {
		w.String(s)
	}
}

// Reader decodes ROS 1 serialized fields from a byte slice. The first error
// is sticky: after it every read returns a zero value and Err reports it, so
// a decoder can read all fields and check Err once. Length prefixes are
// capped against the remaining input before anything is allocated.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a Reader over b. The Reader does not copy b; strings it
// returns are copies.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first decoding error, or nil.
func (r *Reader) Err() error { return r.err }

// Remaining returns the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

// Done returns the sticky error, or an error if unread bytes remain.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if n := r.Remaining(); n != 0 {
		r.err = malformed(fmt.Sprintf("%d trailing bytes", n))
	}
	return r.err
}

func malformed(msg string) error {
	return codes.New(codes.MalformedRequest, "ros message: "+msg)
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Remaining() {
		r.err = malformed(fmt.Sprintf("need %d bytes at offset %d, have %d", n, r.off, r.Remaining()))
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

// Uint8 reads one byte.
func (r *Reader) Uint8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads one byte; any non-zero value is true, as in roscpp and rospy.
func (r *Reader) Bool() bool { return r.Uint8() != 0 }

// Uint32 reads a little-endian uint32.
func (r *Reader) Uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// Int32 reads a little-endian int32.
func (r *Reader) Int32() int32 { return int32(r.Uint32()) }

// Float64 reads a little-endian IEEE-754 float64.
func (r *Reader) Float64() float64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// String reads a length-prefixed string. ROS strings are bytes; invalid
// UTF-8 is kept as is.
func (r *Reader) String() string {
	n := r.Uint32()
	b := r.take(int(min(uint64(n), uint64(math.MaxInt32))))
	if b == nil {
		return ""
	}
	return string(b)
}

// Time reads a ROS time.
func (r *Reader) Time() Time { return Time{Sec: r.Uint32(), Nsec: r.Uint32()} }

// Duration reads a ROS duration.
func (r *Reader) Duration() Duration { return Duration{Sec: r.Int32(), Nsec: r.Int32()} }

// ArrayLen reads a uint32 element count and checks that count elements of at
// least minElemSize bytes each fit in the remaining input. It returns 0 and
// sets the sticky error when they cannot.
func (r *Reader) ArrayLen(minElemSize int) int {
	n := r.Uint32()
	if r.err != nil {
		return 0
	}
	if minElemSize < 1 {
		minElemSize = 1
	}
	if uint64(n)*uint64(minElemSize) > uint64(r.Remaining()) {
		r.err = malformed(fmt.Sprintf("array of %d elements (≥ %d bytes each) exceeds the %d bytes left", n, minElemSize, r.Remaining()))
		return 0
	}
	return int(n)
}

// Float64s reads a length-prefixed float64 array. An empty array decodes as
// a nil slice.
func (r *Reader) Float64s() []float64 {
	n := r.ArrayLen(8)
	if n == 0 {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.Float64()
	}
	return v
}

// Strings reads a length-prefixed string array. An empty array decodes as a
// nil slice.
func (r *Reader) Strings() []string {
	n := r.ArrayLen(4)
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = r.String()
	}
	return v
}

// Package tcpros encodes and decodes the TCPROS wire format of ROS 1: the
// connection header exchanged when a subscriber connects to a publisher, and
// the length-prefixed message frames that follow.
//
// A connection header is a uint32 little-endian byte length followed by
// fields, each a uint32 length and "key=value" bytes. A frame is a uint32
// length followed by one serialized message. Both decoders treat their input
// as hostile: lengths are checked against a caller-given maximum and the
// bytes actually present before anything is allocated.
//
// The codec is pure except for ReadHeader/ReadFrame/WriteFrame, which only
// read or write the io.Reader/io.Writer they are given.
package tcpros

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sintgate/sintgate/codes"
)

// Limits on untrusted TCPROS input.
const (
	// MaxHeaderSize is the largest connection header accepted, in bytes.
	// Full message definitions of large types are a few tens of KB.
	MaxHeaderSize = 256 << 10
	// DefaultMaxFrameSize is the largest message frame accepted unless a
	// caller chooses another bound.
	DefaultMaxFrameSize = 16 << 20
)

// Well-known connection header keys.
const (
	KeyCallerID          = "callerid"
	KeyTopic             = "topic"
	KeyType              = "type"
	KeyMD5               = "md5sum"
	KeyMessageDefinition = "message_definition"
	KeyTCPNoDelay        = "tcp_nodelay"
	KeyLatching          = "latching"
	KeyError             = "error"
	KeyProbe             = "probe"
	KeyService           = "service"
)

// Header is a decoded connection header.
type Header map[string]string

func malformed(format string, args ...any) error {
	return codes.New(codes.MalformedRequest, "tcpros: "+fmt.Sprintf(format, args...))
}

// AppendHeader appends the encoding of h, with its leading total length, to
// dst. Fields are written in sorted key order so the encoding is
// deterministic.
func AppendHeader(dst []byte, h Header) []byte {
	keys := make([]string, 0, len(h))
	total := 0
	for k, v := range h {
		keys = append(keys, k)
		total += 4 + len(k) + 1 + len(v)
	}
	sort.Strings(keys)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(total))
	for _, k := range keys {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(k)+1+len(h[k])))
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = append(dst, h[k]...)
	}
	return dst
}

// DecodeHeader decodes the fields of a connection header (the bytes after
// the total length). Every field must hold a '=' and a non-empty key; a
// repeated key is an error.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) > MaxHeaderSize {
		return nil, malformed("header of %d bytes exceeds %d", len(b), MaxHeaderSize)
	}
	h := Header{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, malformed("truncated field length")
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, malformed("field of %d bytes exceeds the %d left", n, len(b))
		}
		field := string(b[:n])
		b = b[n:]
		k, v, ok := strings.Cut(field, "=")
		if !ok || k == "" {
			return nil, malformed("field %.40q has no key=value", field)
		}
		if _, dup := h[k]; dup {
			return nil, malformed("repeated field %q", k)
		}
		h[k] = v
	}
	return h, nil
}

// ReadHeader reads one length-prefixed connection header from r.
func ReadHeader(r io.Reader) (Header, error) {
	b, err := ReadFrame(r, nil, MaxHeaderSize)
	if err != nil {
		return nil, err
	}
	return DecodeHeader(b)
}

// WriteHeader writes h to w as one write.
func WriteHeader(w io.Writer, h Header) error {
	_, err := w.Write(AppendHeader(nil, h))
	return err
}

// AppendFrame appends a frame holding msg (length prefix and bytes) to dst.
func AppendFrame(dst, msg []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(msg)))
	return append(dst, msg...)
}

// ErrFrameTooLarge is wrapped by ReadFrame's error when a length prefix is
// above the caller's bound.
var ErrFrameTooLarge = codes.New(codes.MalformedRequest, "tcpros: frame too large")

// ReadFrame reads one length-prefixed frame of at most max bytes from r,
// reusing buf when it is large enough. The returned slice aliases buf (or a
// new buffer) and is valid until the next call with the same buf. A clean
// EOF before the length prefix returns io.EOF.
func ReadFrame(r io.Reader, buf []byte, max int) ([]byte, error) {
	var lenb [4]byte
	if _, err := io.ReadFull(r, lenb[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(lenb[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

package tcpros

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

// rospyHeader is the connection header rostopic (rospy 1.15) sends when it
// subscribes to /chatter as std_msgs/String, field order as rospy writes
// it. Built by hand from the TCPROS spec: each field is length + key=value.
func rospyHeader() []byte {
	fields := []string{
		"message_definition=string data\n",
		"callerid=/rostopic_1_2",
		"tcp_nodelay=0",
		"md5sum=992ce8a1687cec8c8bd883ec73ca41d1",
		"topic=/chatter",
		"type=std_msgs/String",
	}
	var body []byte
	for _, f := range fields {
		body = append(body, byte(len(f)), 0, 0, 0)
		body = append(body, f...)
	}
	return append([]byte{byte(len(body)), 0, 0, 0}, body...)
}

func TestReadHeader(t *testing.T) {
	want := Header{
		KeyMessageDefinition: "string data\n", KeyCallerID: "/rostopic_1_2", KeyTCPNoDelay: "0",
		KeyMD5: "992ce8a1687cec8c8bd883ec73ca41d1", KeyTopic: "/chatter", KeyType: "std_msgs/String",
	}
	t.Run("allow/rospy-subscriber", func(t *testing.T) {
		h, err := ReadHeader(bytes.NewReader(rospyHeader()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(h, want) {
			t.Fatalf("got %#v", h)
		}
	})
	t.Run("allow/round-trip", func(t *testing.T) {
		h, err := ReadHeader(bytes.NewReader(AppendHeader(nil, want)))
		if err != nil || !reflect.DeepEqual(h, want) {
			t.Fatalf("got %#v, %v", h, err)
		}
	})
	t.Run("allow/value-with-equals", func(t *testing.T) {
		h, err := DecodeHeader([]byte("\x05\x00\x00\x00a=b=c"))
		if err != nil || h["a"] != "b=c" {
			t.Fatalf("got %#v, %v", h, err)
		}
	})
	t.Run("allow/deterministic-encoding", func(t *testing.T) {
		if !bytes.Equal(AppendHeader(nil, want), AppendHeader(nil, want)) {
			t.Fatal("encoding not deterministic")
		}
	})
}

func TestHeaderErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
	}{
		{"deny/truncated-field-length", []byte{1, 0}},
		{"deny/field-length-beyond-input", []byte{9, 0, 0, 0, 'a', '=', 'b'}},
		{"deny/field-length-4GiB", []byte{0xff, 0xff, 0xff, 0xff, 'a'}},
		{"deny/no-equals", []byte{3, 0, 0, 0, 'a', 'b', 'c'}},
		{"deny/empty-key", []byte{2, 0, 0, 0, '=', 'x'}},
		{"deny/repeated-key", []byte{3, 0, 0, 0, 'a', '=', '1', 3, 0, 0, 0, 'a', '=', '2'}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeHeader(tc.in); codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("want MALFORMED_REQUEST, got %v", err)
			}
		})
	}
	t.Run("deny/header-larger-than-limit", func(t *testing.T) {
		in := []byte{0, 0, 0x10, 0} // 1 MiB claimed, nothing follows
		if _, err := ReadHeader(bytes.NewReader(in)); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestReadFrame(t *testing.T) {
	t.Run("allow/two-frames-reuse-buffer", func(t *testing.T) {
		stream := AppendFrame(AppendFrame(nil, []byte("hello")), []byte{})
		r := bytes.NewReader(stream)
		buf := make([]byte, 0, 16)
		f, err := ReadFrame(r, buf, 100)
		if err != nil || string(f) != "hello" {
			t.Fatalf("%q %v", f, err)
		}
		f, err = ReadFrame(r, buf, 100)
		if err != nil || len(f) != 0 {
			t.Fatalf("%q %v", f, err)
		}
		if _, err := ReadFrame(r, buf, 100); err != io.EOF {
			t.Fatalf("want io.EOF at clean end, got %v", err)
		}
	})
	t.Run("deny/too-large", func(t *testing.T) {
		_, err := ReadFrame(bytes.NewReader(AppendFrame(nil, make([]byte, 11))), nil, 10)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("deny/truncated-body", func(t *testing.T) {
		_, err := ReadFrame(bytes.NewReader([]byte{5, 0, 0, 0, 'a'}), nil, 10)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("deny/truncated-length", func(t *testing.T) {
		_, err := ReadFrame(bytes.NewReader([]byte{5, 0}), nil, 10)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v", err)
		}
	})
}

// FuzzDecodeHeader: no panic; accepted headers re-encode and decode equal.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(rospyHeader()[4:])
	f.Add([]byte("\x05\x00\x00\x00a=b=c"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'a'})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := DecodeHeader(in)
		if err != nil {
			return
		}
		h2, err := DecodeHeader(AppendHeader(nil, h)[4:])
		if err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip: %#v → %#v, %v", h, h2, err)
		}
	})
}

// FuzzReadFrame: no panic and no allocation beyond the bound.
func FuzzReadFrame(f *testing.F) {
	f.Add(AppendFrame(nil, []byte("hello")), uint16(100))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, uint16(100))
	f.Add([]byte{5, 0, 0, 0, 'a'}, uint16(10))
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		b, err := ReadFrame(bytes.NewReader(in), nil, int(max))
		if err == nil && len(b) > int(max) {
			t.Fatalf("frame of %d bytes above bound %d", len(b), max)
		}
	})
}

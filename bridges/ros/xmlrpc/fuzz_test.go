package xmlrpc

import (
	"reflect"
	"testing"
)

// FuzzDecodeResponse: no panic on any input; a decoded value re-encodes and
// decodes to the same value.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(pythonResponse)
	f.Add(cppResponse)
	f.Add(string(EncodeFault(1, "x")))
	f.Add(`<methodResponse><params><param><value><struct><member><name>a</name><value><base64>aGk=</base64></value></member></struct></value></param></params></methodResponse>`)
	f.Fuzz(func(t *testing.T, in string) {
		v, err := DecodeResponse([]byte(in))
		if err != nil {
			return
		}
		b, err := EncodeResponse(v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		v2, err := DecodeResponse(b)
		if err != nil {
			t.Fatalf("decode of re-encoding: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip: %#v != %#v", v, v2)
		}
	})
}

// FuzzDecodeCall: no panic on any method call document.
func FuzzDecodeCall(f *testing.F) {
	b, _ := EncodeCall("requestTopic", "/c", "/t", []any{[]any{"TCPROS"}})
	f.Add(string(b))
	f.Add(`<methodCall><methodName>getPid</methodName><params><param><value>/x</value></param></params></methodCall>`)
	f.Add(`<methodCall><methodName>shutdown</methodName></methodCall>`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _, _ = DecodeCall([]byte(in))
	})
}

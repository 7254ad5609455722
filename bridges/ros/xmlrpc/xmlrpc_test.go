package xmlrpc

import (
	"context"
	"net/http/httptest"
	"reflect"
	"testing"

	kolo "github.com/kolo/xmlrpc"
)

// pythonResponse is what rosmaster (python xmlrpc.client) sends for
// registerPublisher: every string typed.
const pythonResponse = `<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><array><data>
<value><int>1</int></value>
<value><string>Registered [/talker] as publisher of [/chatter]</string></value>
<value><array><data>
<value><string>http://host:4242/</string></value>
</data></array></value>
</data></array></value>
</param>
</params>
</methodResponse>
`

// cppResponse is the same answer as roscpp's XmlRpc++ sends it: untyped
// strings, i4 integers, no whitespace between elements.
const cppResponse = `<?xml version="1.0"?>
<methodResponse><params><param>
	<value><array><data><value><i4>1</i4></value><value>Registered [/talker] as publisher of [/chatter]</value><value><array><data><value>http://host:4242/</value></data></array></value></data></array></value>
</param></params></methodResponse>
`

var wantRegister = []any{1, "Registered [/talker] as publisher of [/chatter]", []any{"http://host:4242/"}}

func TestDecodeResponse(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"allow/python-typed-strings", pythonResponse, wantRegister},
		{"allow/cpp-untyped-strings", cppResponse, wantRegister},
		{"allow/untyped-keeps-whitespace", `<methodResponse><params><param><value>  a b  </value></param></params></methodResponse>`, "  a b  "},
		{"allow/untyped-empty", `<methodResponse><params><param><value></value></param></params></methodResponse>`, ""},
		{"allow/typed-empty-string", `<methodResponse><params><param><value><string/></value></param></params></methodResponse>`, ""},
		{"allow/entities", `<methodResponse><params><param><value>a&amp;b&lt;c</value></param></params></methodResponse>`, "a&b<c"},
		{"allow/struct-bool-double-base64", `<methodResponse><params><param><value><struct>
			<member><name>b</name><value><boolean>1</boolean></value></member>
			<member><name>d</name><value><double>-1.5</double></value></member>
			<member><name>x</name><value><base64>aGk=</base64></value></member>
			<member><name>s</name><value>plain</value></member>
			</struct></value></param></params></methodResponse>`,
			map[string]any{"b": true, "d": -1.5, "x": []byte("hi"), "s": "plain"}},
		{"allow/empty-array", `<methodResponse><params><param><value><array><data/></array></value></param></params></methodResponse>`, []any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeResponse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestKoloMisdecodesUntyped documents why the package decodes responses
// itself: kolo/xmlrpc handles the python form but not roscpp's.
func TestKoloMisdecodesUntyped(t *testing.T) {
	var typed any
	if err := kolo.Response(pythonResponse).Unmarshal(&typed); err != nil {
		t.Fatalf("kolo should decode the typed form: %v", err)
	}
	var untyped any
	err := kolo.Response(cppResponse).Unmarshal(&untyped)
	if err == nil && reflect.DeepEqual(untyped, wantRegister) {
		t.Skip("kolo/xmlrpc now decodes untyped strings; the custom decoder could go")
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := ""
	for i := 0; i <= MaxDepth+1; i++ {
		deep += "<value><array><data>"
	}
	cases := []struct{ name, in string }{
		{"deny/empty", ``},
		{"deny/not-xml", `hello`},
		{"deny/wrong-root", `<methodCall/>`},
		{"deny/unclosed", `<methodResponse><params><param><value><string>x</string>`},
		{"deny/two-params", `<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>`},
		{"deny/bad-int", `<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>`},
		{"deny/bad-boolean", `<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>`},
		{"deny/unknown-type", `<methodResponse><params><param><value><blob>1</blob></value></param></params></methodResponse>`},
		{"deny/text-and-type", `<methodResponse><params><param><value>x<int>1</int></value></param></params></methodResponse>`},
		{"deny/too-deep", `<methodResponse><params><param>` + deep},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := DecodeResponse([]byte(tc.in)); err == nil {
				t.Fatalf("want an error, got %#v", v)
			}
		})
	}
	t.Run("deny/fault", func(t *testing.T) {
		_, err := DecodeResponse(EncodeFault(7, "nope"))
		f, ok := err.(*Fault)
		if !ok || f.Code != 7 || f.String != "nope" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCallRoundTrip(t *testing.T) {
	args := []any{"/caller", "/topic", []any{"TCPROS"}, 42, true, -0.25, map[string]any{"k": "v"}}
	cases := []struct {
		name  string
		build func() ([]byte, error)
	}{
		{"kolo-encoded", func() ([]byte, error) { return EncodeCall("requestTopic", args...) }},
		{"cpp-untyped", func() ([]byte, error) {
			return []byte(`<?xml version="1.0"?><methodCall><methodName>requestTopic</methodName><params>` +
				`<param><value>/caller</value></param><param><value>/topic</value></param>` +
				`<param><value><array><data><value>TCPROS</value></data></array></value></param>` +
				`<param><value><i4>42</i4></value></param><param><value><boolean>1</boolean></value></param>` +
				`<param><value><double>-0.25</double></value></param>` +
				`<param><value><struct><member><name>k</name><value>v</value></member></struct></value></param>` +
				`</params></methodCall>`), nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			m, ps, err := DecodeCall(b)
			if err != nil {
				t.Fatal(err)
			}
			if m != "requestTopic" || !reflect.DeepEqual(ps, args) {
				t.Fatalf("got %s %#v", m, ps)
			}
		})
	}
}

func TestEncodeResponseRoundTrip(t *testing.T) {
	v := []any{1, "a<&>b", []any{[]string{"TCPROS", "127.0.0.1"}, int64(1) << 40}, map[string]any{"x": false}, nil, []byte{0, 1}}
	b, err := EncodeResponse(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{1, "a<&>b", []any{[]any{"TCPROS", "127.0.0.1"}, 1 << 40}, map[string]any{"x": false}, nil, []byte{0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if _, err := EncodeResponse(struct{}{}); err == nil {
		t.Fatal("unsupported type must be an error")
	}
}

func TestClientServer(t *testing.T) {
	srv := httptest.NewServer(Handler(func(ctx context.Context, method string, params []any) (any, error) {
		switch method {
		case "echo":
			return params, nil
		case "fail":
			return nil, &Fault{Code: 3, String: "boom"}
		}
		return nil, &Fault{Code: -32601, String: "no such method " + method}
	}))
	defer srv.Close()
	var c Client
	ctx := context.Background()
	t.Run("allow/echo", func(t *testing.T) {
		got, err := c.Call(ctx, srv.URL, "echo", "x", 1)
		if err != nil || !reflect.DeepEqual(got, []any{"x", 1}) {
			t.Fatalf("%#v %v", got, err)
		}
	})
	t.Run("deny/fault", func(t *testing.T) {
		_, err := c.Call(ctx, srv.URL, "fail")
		if f, ok := err.(*Fault); !ok || f.Code != 3 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("deny/cancelled-context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Call(cctx, srv.URL, "echo"); err == nil {
			t.Fatal("want an error")
		}
	})
}

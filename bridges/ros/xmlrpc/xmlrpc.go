// Package xmlrpc is the XML-RPC layer of the ROS 1 client: a value codec
// that decodes method calls and responses from rosmaster (python), rospy and
// roscpp nodes, an encoder for method responses, and a context-aware client
// that encodes its requests with github.com/kolo/xmlrpc.
//
// Why a decoder of our own: kolo/xmlrpc's decoder cannot put an untyped
// `<value>text</value>` (the XML-RPC default string form, which roscpp's
// XmlRpc++ sends for every string) into an interface{} and trims the
// whitespace of such strings; it also has no method-call decoder, which the
// node's slave API server needs. Both forms, `<value><string>x</string></value>`
// and `<value>x</value>`, decode here to the Go string "x", with whitespace
// kept exactly.
//
// Decoded values are: string, int (i4/int/i8), bool, float64, []byte
// (base64), []any (array), map[string]any (struct), nil (<nil/>), and
// dateTime.iso8601 as its string text. Limits against hostile peers:
// MaxBodySize bytes of XML and MaxDepth levels of nesting.
//
// The codec is pure; Client does network I/O and takes a context.
package xmlrpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	kolo "github.com/kolo/xmlrpc"
	"github.com/sintgate/sintgate/codes"
)

// Limits on untrusted XML-RPC input.
const (
	// MaxBodySize is the largest request or response body read, in bytes.
	MaxBodySize = 4 << 20
	// MaxDepth is the deepest nesting of arrays and structs accepted.
	MaxDepth = 32
)

// Fault is an XML-RPC fault response.
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("xmlrpc fault %d: %s", f.Code, f.String) }

func malformed(format string, args ...any) error {
	return codes.New(codes.MalformedRequest, "xmlrpc: "+fmt.Sprintf(format, args...))
}

type decoder struct {
	d *xml.Decoder
}

func newDecoder(b []byte) *decoder {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		// ROS peers send UTF-8 or ASCII; accept the common ISO-8859-1
		// label too since python's xmlrpc may emit it for ASCII payloads.
		switch strings.ToLower(charset) {
		case "utf-8", "us-ascii", "ascii", "iso-8859-1", "latin-1":
			return in, nil
		}
		return nil, malformed("unsupported charset %q", charset)
	}
	return &decoder{d: d}
}

// next returns the next start/end element or non-blank char data, skipping
// comments, processing instructions and directives.
func (dec *decoder) next() (xml.Token, error) {
	for {
		tok, err := dec.d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, malformed("unexpected end of document")
			}
			return nil, malformed("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return t.Copy(), nil
			}
		}
	}
}

// expectStart reads the next element start and checks its name.
func (dec *decoder) expectStart(name string) error {
	tok, err := dec.next()
	if err != nil {
		return err
	}
	if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != name {
		return malformed("want <%s>, got %s", name, describe(tok))
	}
	return nil
}

func (dec *decoder) expectEnd(name string) error {
	tok, err := dec.next()
	if err != nil {
		return err
	}
	if e, ok := tok.(xml.EndElement); !ok || e.Name.Local != name {
		return malformed("want </%s>, got %s", name, describe(tok))
	}
	return nil
}

func describe(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	case xml.CharData:
		return fmt.Sprintf("text %.20q", string(t))
	}
	return fmt.Sprintf("%T", tok)
}

// text reads character data up to the end element name and returns it
// unmodified.
func (dec *decoder) text(name string) (string, error) {
	var sb strings.Builder
	for {
		tok, err := dec.d.Token()
		if err != nil {
			return "", malformed("in <%s>: %v", name, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			if t.Name.Local != name {
				return "", malformed("want </%s>, got </%s>", name, t.Name.Local)
			}
			return sb.String(), nil
		case xml.StartElement:
			return "", malformed("unexpected <%s> in <%s>", t.Name.Local, name)
		}
	}
}

// value decodes the content of a <value> element whose start tag has been
// read, through its end tag.
func (dec *decoder) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, malformed("nesting deeper than %d", MaxDepth)
	}
	var untyped strings.Builder
	for {
		tok, err := dec.d.Token()
		if err != nil {
			return nil, malformed("in <value>: %v", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			untyped.Write(t)
		case xml.EndElement:
			// No type element: the XML-RPC default type, string, whitespace
			// and all.
			return untyped.String(), nil
		case xml.StartElement:
			if len(bytes.TrimSpace([]byte(untyped.String()))) != 0 {
				return nil, malformed("text mixed with <%s> in <value>", t.Name.Local)
			}
			v, err := dec.typed(t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			return v, dec.expectEnd("value")
		}
	}
}

func (dec *decoder) typed(typ string, depth int) (any, error) {
	switch typ {
	case "array":
		if err := dec.expectStart("data"); err != nil {
			return nil, err
		}
		out := []any{}
		for {
			tok, err := dec.next()
			if err != nil {
				return nil, err
			}
			if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "data" {
				break
			}
			if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != "value" {
				return nil, malformed("want <value> in <data>, got %s", describe(tok))
			}
			v, err := dec.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, dec.expectEnd("array")
	case "struct":
		out := map[string]any{}
		for {
			tok, err := dec.next()
			if err != nil {
				return nil, err
			}
			if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "struct" {
				return out, nil
			}
			if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != "member" {
				return nil, malformed("want <member> in <struct>, got %s", describe(tok))
			}
			if err := dec.expectStart("name"); err != nil {
				return nil, err
			}
			name, err := dec.text("name")
			if err != nil {
				return nil, err
			}
			if err := dec.expectStart("value"); err != nil {
				return nil, err
			}
			v, err := dec.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[name] = v
			if err := dec.expectEnd("member"); err != nil {
				return nil, err
			}
		}
	case "nil":
		return nil, dec.expectEnd("nil")
	}
	s, err := dec.text(typ)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "string":
		return s, nil
	case "i4", "int", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, malformed("bad <%s> %.20q", typ, s)
		}
		return int(n), nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, malformed("bad <boolean> %.20q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, malformed("bad <double> %.20q", s)
		}
		return f, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, malformed("bad <base64>")
		}
		return b, nil
	case "dateTime.iso8601":
		return s, nil
	}
	return nil, malformed("unknown value type <%s>", typ)
}

func (dec *decoder) params() ([]any, error) {
	var out []any
	for {
		tok, err := dec.next()
		if err != nil {
			return nil, err
		}
		if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "params" {
			return out, nil
		}
		if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != "param" {
			return nil, malformed("want <param>, got %s", describe(tok))
		}
		if err := dec.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := dec.value(1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if err := dec.expectEnd("param"); err != nil {
			return nil, err
		}
	}
}

// DecodeCall decodes an XML-RPC methodCall document.
func DecodeCall(b []byte) (method string, params []any, err error) {
	dec := newDecoder(b)
	if err := dec.expectStart("methodCall"); err != nil {
		return "", nil, err
	}
	if err := dec.expectStart("methodName"); err != nil {
		return "", nil, err
	}
	if method, err = dec.text("methodName"); err != nil {
		return "", nil, err
	}
	method = strings.TrimSpace(method)
	tok, err := dec.next()
	if err != nil {
		return "", nil, err
	}
	switch t := tok.(type) {
	case xml.EndElement:
		if t.Name.Local != "methodCall" {
			return "", nil, malformed("want </methodCall>, got %s", describe(tok))
		}
		return method, nil, nil
	case xml.StartElement:
		if t.Name.Local != "params" {
			return "", nil, malformed("want <params>, got %s", describe(tok))
		}
	default:
		return "", nil, malformed("unexpected %s", describe(tok))
	}
	if params, err = dec.params(); err != nil {
		return "", nil, err
	}
	return method, params, dec.expectEnd("methodCall")
}

// DecodeResponse decodes an XML-RPC methodResponse document. A fault
// response yields a *Fault error.
func DecodeResponse(b []byte) (any, error) {
	dec := newDecoder(b)
	if err := dec.expectStart("methodResponse"); err != nil {
		return nil, err
	}
	tok, err := dec.next()
	if err != nil {
		return nil, err
	}
	s, ok := tok.(xml.StartElement)
	if !ok {
		return nil, malformed("want <params> or <fault>, got %s", describe(tok))
	}
	switch s.Name.Local {
	case "fault":
		if err := dec.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := dec.value(1)
		if err != nil {
			return nil, err
		}
		m, _ := v.(map[string]any)
		f := &Fault{}
		f.Code, _ = m["faultCode"].(int)
		f.String, _ = m["faultString"].(string)
		return nil, f
	case "params":
		ps, err := dec.params()
		if err != nil {
			return nil, err
		}
		if len(ps) != 1 {
			return nil, malformed("response has %d params, want 1", len(ps))
		}
		return ps[0], dec.expectEnd("methodResponse")
	}
	return nil, malformed("want <params> or <fault>, got %s", describe(tok))
}

// AppendValue appends the XML-RPC encoding of v (a <value> element). It
// supports the types DecodeCall yields plus int32, int64, uint32, []string,
// [][]string and []int; any other type is an error.
func AppendValue(dst []byte, v any) ([]byte, error) {
	dst = append(dst, "<value>"...)
	switch x := v.(type) {
	case nil:
		dst = append(dst, "<nil/>"...)
	case string:
		dst = append(dst, "<string>"...)
		dst = appendEscaped(dst, x)
		dst = append(dst, "</string>"...)
	case bool:
		if x {
			dst = append(dst, "<boolean>1</boolean>"...)
		} else {
			dst = append(dst, "<boolean>0</boolean>"...)
		}
	case int:
		dst = appendInt(dst, int64(x))
	case int32:
		dst = appendInt(dst, int64(x))
	case int64:
		dst = appendInt(dst, x)
	case uint32:
		dst = appendInt(dst, int64(x))
	case float64:
		dst = append(dst, "<double>"...)
		dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
		dst = append(dst, "</double>"...)
	case []byte:
		dst = append(dst, "<base64>"...)
		dst = base64.StdEncoding.AppendEncode(dst, x)
		dst = append(dst, "</base64>"...)
	case []any:
		return appendArray(dst, len(x), func(i int) any { return x[i] })
	case []string:
		return appendArray(dst, len(x), func(i int) any { return x[i] })
	case []int:
		return appendArray(dst, len(x), func(i int) any { return x[i] })
	case [][]string:
		return appendArray(dst, len(x), func(i int) any { return x[i] })
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, "<struct>"...)
		for _, k := range keys {
			dst = append(dst, "<member><name>"...)
			dst = appendEscaped(dst, k)
			dst = append(dst, "</name>"...)
			var err error
			if dst, err = AppendValue(dst, x[k]); err != nil {
				return nil, err
			}
			dst = append(dst, "</member>"...)
		}
		dst = append(dst, "</struct>"...)
	default:
		return nil, fmt.Errorf("xmlrpc: cannot encode %T", v)
	}
	return append(dst, "</value>"...), nil
}

func appendInt(dst []byte, n int64) []byte {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		dst = append(dst, "<i4>"...)
		dst = strconv.AppendInt(dst, n, 10)
		return append(dst, "</i4>"...)
	}
	dst = append(dst, "<i8>"...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "</i8>"...)
}

func appendArray(dst []byte, n int, at func(int) any) ([]byte, error) {
	dst = append(dst, "<array><data>"...)
	for i := 0; i < n; i++ {
		var err error
		if dst, err = AppendValue(dst, at(i)); err != nil {
			return nil, err
		}
	}
	return append(dst, "</data></array></value>"...), nil
}

func appendEscaped(dst []byte, s string) []byte {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return append(dst, b.Bytes()...)
}

const xmlHeader = `<?xml version="1.0"?>` + "\n"

// EncodeResponse returns a methodResponse document carrying v.
func EncodeResponse(v any) ([]byte, error) {
	dst := append([]byte(xmlHeader), "<methodResponse><params><param>"...)
	dst, err := AppendValue(dst, v)
	if err != nil {
		return nil, err
	}
	return append(dst, "</param></params></methodResponse>\n"...), nil
}

// EncodeFault returns a methodResponse document carrying a fault.
func EncodeFault(code int, msg string) []byte {
	dst := append([]byte(xmlHeader), "<methodResponse><fault>"...)
	dst, _ = AppendValue(dst, map[string]any{"faultCode": code, "faultString": msg})
	return append(dst, "</fault></methodResponse>\n"...)
}

// EncodeCall returns a methodCall document, encoded by kolo/xmlrpc.
func EncodeCall(method string, args ...any) ([]byte, error) {
	return kolo.EncodeMethodCall(method, args...)
}

// Client calls XML-RPC methods over HTTP. The zero Client uses
// http.DefaultClient. A Client is safe for concurrent use.
type Client struct {
	HTTP *http.Client
}

// ErrHTTP reports a non-2xx HTTP status from an XML-RPC server.
var ErrHTTP = errors.New("xmlrpc: HTTP error status")

// Call invokes method at url with args and returns the decoded result.
// Requests are encoded by kolo/xmlrpc; responses are decoded by
// DecodeResponse. ctx bounds the whole exchange.
func (c *Client) Call(ctx context.Context, url, method string, args ...any) (any, error) {
	body, err := EncodeCall(method, args...)
	if err != nil {
		return nil, fmt.Errorf("xmlrpc: encode %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("xmlrpc: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "text/xml")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("xmlrpc: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("xmlrpc: %s %s: read: %w", method, url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%w %d from %s (%s)", ErrHTTP, resp.StatusCode, url, method)
	}
	if len(b) > MaxBodySize {
		return nil, malformed("response larger than %d bytes", MaxBodySize)
	}
	return DecodeResponse(b)
}

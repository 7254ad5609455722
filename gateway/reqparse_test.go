package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/tokens"
)

// The oracle: ParseRequest as it was before the hand-written decoder
// (encoding/json with DisallowUnknownFields and UseNumber, twice, and two
// regexps). The new parser must agree with it on every input outside the
// documented stricter classes (docs/decisions.md).

var (
	oracleUUIDv7Re = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	oracleHexKeyRe = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func oracleValidUUIDv7(s string) bool { return len(s) == 36 && oracleUUIDv7Re.MatchString(s) }
func oracleValidKeyHex(s string) bool { return len(s) == 64 && oracleHexKeyRe.MatchString(s) }

// decodeStrict decodes exactly one JSON value from b into v, rejecting
// unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// oracleDecode is the decoding half of the old ParseRequest: depth, the
// struct, and the params object. It refuses a body that does not start with
// an object (encoding/json decodes a top-level null into the zero request,
// which the checks then refuse; the new decoder refuses it at once).
func oracleDecode(body []byte) (*Request, error) {
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("too big")
	}
	if !JSONDepthOK(body, MaxJSONDepth) {
		return nil, fmt.Errorf("too deep")
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("not an object")
	}
	r := &Request{Body: body}
	if err := decodeStrict(body, &r.InterceptRequest); err != nil {
		return nil, err
	}
	q := &r.InterceptRequest
	if len(q.Params) > 0 && !bytes.Equal(bytes.TrimSpace(q.Params), []byte("null")) {
		var p map[string]any
		if err := decodeStrict(q.Params, &p); err != nil || p == nil {
			return nil, fmt.Errorf("params must be a JSON object")
		}
		r.Params = p
	}
	return r, nil
}

// oracleParseRequest is the old ParseRequest, verbatim but for the names.
func oracleParseRequest(body []byte) (*Request, *codes.Error) {
	if len(body) > MaxBodyBytes {
		return nil, malformed("body exceeds %d bytes", MaxBodyBytes)
	}
	if !JSONDepthOK(body, MaxJSONDepth) {
		return nil, malformed("JSON nesting deeper than %d", MaxJSONDepth)
	}
	r := &Request{Body: body}
	if err := decodeStrict(body, &r.InterceptRequest); err != nil {
		return nil, malformed("invalid request body: %v", err)
	}
	q := &r.InterceptRequest
	switch {
	case !oracleValidUUIDv7(q.RequestID):
		return nil, malformed("requestId must be a UUIDv7")
	case !oracleValidKeyHex(q.AgentID):
		return nil, malformed("agentId must be 64 lowercase hex characters")
	case q.Timestamp <= 0:
		return nil, malformed("timestamp must be unix milliseconds")
	case q.TokenID == "" && q.Token == "":
		return nil, malformed("one of tokenId or token is required")
	case q.TokenID != "" && q.Token != "":
		return nil, malformed("tokenId and token are exclusive")
	case q.TokenID != "" && !oracleValidUUIDv7(q.TokenID):
		return nil, malformed("tokenId must be a UUIDv7")
	case len(q.Chain) > 0 && q.Token == "":
		return nil, malformed("chain is only allowed with an inline token")
	case len(q.Chain) > MaxChainLen:
		return nil, malformed("chain longer than %d", MaxChainLen)
	case len(q.Token) > MaxTokenBytes:
		return nil, malformed("token exceeds %d bytes", MaxTokenBytes)
	case len(q.Resource) == 0 || len(q.Resource) > MaxResourceBytes:
		return nil, malformed("resource must be 1..%d bytes", MaxResourceBytes)
	case !tokens.ValidAction(q.Action):
		return nil, malformed("action must match [a-z0-9._-]{1,64}")
	case len(q.RecentActions) > MaxRecentActions:
		return nil, malformed("recentActions longer than %d", MaxRecentActions)
	}
	for _, c := range q.Chain {
		if len(c) > MaxTokenBytes {
			return nil, malformed("chain token exceeds %d bytes", MaxTokenBytes)
		}
	}
	for _, a := range q.RecentActions {
		if len(a) > maxRecentEntryLen {
			return nil, malformed("recentActions entry too long")
		}
	}
	if err := tokens.NormalResource(q.Resource); err != nil {
		return nil, malformed("resource not in normal form: %v", err)
	}
	if len(q.Params) > 0 && !bytes.Equal(bytes.TrimSpace(q.Params), []byte("null")) {
		var p map[string]any
		if err := decodeStrict(q.Params, &p); err != nil || p == nil {
			return nil, malformed("params must be a JSON object")
		}
		r.Params = p
	}
	// The old pipeline hashed the params only when it recorded the
	// decision; ParseRequest now refuses params it cannot hash.
	h, err := attest.ParamsHash(q.Params)
	if err != nil {
		return nil, malformed("params cannot be canonicalised (RFC 8785): %v", err)
	}
	r.ParamsHash = h
	return r, nil
}

// benchBody is what cmd/sint-bench sends.
const benchBody = `{"requestId":"019ab3c1-5e2f-7a10-9c3d-4e5f60718293","agentId":"` +
	"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29" +
	`","timestamp":1763928000000,"tokenId":"019ab3c1-5d00-7b21-8a4c-0f1e2d3c4b5a","resource":"ros:///cmd_vel","action":"publish","params":{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}}`

// trajectoryBody is a ~4 KB joint trajectory for a 6-axis arm.
func trajectoryBody() string {
	var b strings.Builder
	b.WriteString(`{"requestId":"019ab3c1-5e2f-7a10-9c3d-4e5f60718293","agentId":"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",`)
	b.WriteString(`"timestamp":1763928000000,"tokenId":"019ab3c1-5d00-7b21-8a4c-0f1e2d3c4b5a","resource":"ros:///arm/joint_trajectory","action":"publish",`)
	b.WriteString(`"params":{"header":{"frame_id":"base_link","stamp":{"sec":1763928000,"nanosec":0}},`)
	b.WriteString(`"joint_names":["joint_1","joint_2","joint_3","joint_4","joint_5","joint_6"],"points":[`)
	for i := range 16 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"positions":[`)
		for j := range 6 {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(0.1*float64(i)-0.05*float64(j), 'f', 4, 64))
		}
		b.WriteString(`],"velocities":[`)
		for j := range 6 {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(0.02*float64(j+1), 'f', 3, 64))
		}
		b.WriteString(`],"accelerations":[0,0,0,0,0,0],"time_from_start":{"sec":` + strconv.Itoa(i/4) + `,"nanosec":` + strconv.Itoa(i%4*250000000) + `}}`)
	}
	b.WriteString(`]},"physicalContext":{"humanDetected":false,"currentVelocityMps":0.2,"currentPosition":{"x":1,"y":2}},`)
	b.WriteString(`"recentActions":["ros:///arm/joint_trajectory publish","ros:///cmd_vel publish"]}`)
	return b.String()
}

func BenchmarkParseRequest(b *testing.B) {
	bodies := []struct{ name, body string }{
		{"bench", benchBody},
		{"trajectory", trajectoryBody()},
	}
	impls := []struct {
		name  string
		parse func([]byte) (*Request, *codes.Error)
	}{
		{"old", oracleParseRequest},
		{"new", ParseRequest},
	}
	for _, bd := range bodies {
		body := []byte(bd.body)
		for _, im := range impls {
			b.Run(bd.name+"/"+im.name, func(b *testing.B) {
				if _, err := im.parse(body); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					im.parse(body)
				}
			})
		}
	}
}

// stricterClass names the documented class (docs/decisions.md, 17) of a body
// that encoding/json accepted and the new decoder must refuse, or "" if the
// body is in none. It is written without the new decoder: encoding/json's
// token stream, utf8.Valid and a scan of the escapes.
func stricterClass(body []byte) string {
	if !utf8.Valid(body) {
		// The oracle accepted it, so the invalid bytes are inside strings.
		return "invalid-utf8"
	}
	if hasLoneSurrogateEscape(body) {
		return "lone-surrogate"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if c := walkKeys(dec); c != "" {
		return c
	}
	if len(bytes.Trim(body[dec.InputOffset():], " \t\r\n")) != 0 {
		return "trailing-non-json-space"
	}
	return ""
}

// hasLoneSurrogateEscape reports a \u escape of a surrogate that is not a
// high one followed at once by an escaped low one. body must be valid JSON,
// where a backslash only occurs inside strings and starts an escape.
func hasLoneSurrogateEscape(body []byte) bool {
	u := func(i int) (int, bool) {
		if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 32)
		return int(n), err == nil
	}
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			i++
			continue
		}
		r, ok := u(i)
		if !ok {
			i += 2
			continue
		}
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := u(i + 6)
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 12
		default:
			i += 6
		}
	}
	return false
}

// structFields are the JSON names of the struct levels of the body, by path.
var structFields = map[string][]string{
	"":                                {"requestId", "agentId", "timestamp", "tokenId", "token", "chain", "resource", "action", "params", "physicalContext", "recentActions"},
	"physicalContext":                 {"humanDetected", "currentVelocityMps", "currentPosition"},
	"physicalContext.currentPosition": {"x", "y"},
}

// walkKeys reads one value from dec and reports "duplicate-key" for a key
// repeated in an object and "case-variant-name" for a struct-level key that
// encoding/json matched case-insensitively.
func walkKeys(dec *json.Decoder) string {
	type frame struct {
		obj  bool
		path string // struct path of this object, or "-" outside the struct levels
		keys map[string]bool
		key  string // last key read
		val  bool   // a value is expected next (else a key or the end)
	}
	var stack []*frame
	child := func() string { // the struct path of the value about to start
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if !f.obj || f.path == "-" {
			return "-"
		}
		p := f.key
		if f.path != "" {
			p = f.path + "." + f.key
		}
		if _, ok := structFields[p]; ok {
			return p
		}
		return "-"
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && !top.val {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return ""
				}
				stack[len(stack)-1].val = false
				continue
			}
			k := tok.(string)
			if top.keys[k] {
				return "duplicate-key"
			}
			top.keys[k] = true
			if names, ok := structFields[top.path]; ok {
				exact, folded := false, false
				for _, n := range names {
					exact = exact || k == n
					folded = folded || strings.EqualFold(k, n)
				}
				if folded && !exact {
					return "case-variant-name"
				}
			}
			top.key, top.val = k, true
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, path: child(), keys: map[string]bool{}})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: "-"})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value (or a closed array) completed.
		if len(stack) == 0 {
			return ""
		}
		if f := stack[len(stack)-1]; f.obj {
			f.val = false
		}
	}
}

// checkAgainstOracle holds the new parser to the oracle on body, at the
// decoder level (so that bodies with bad ids still compare their decoding)
// and for ParseRequest as a whole. It returns the stricter class of a body
// the oracle accepted and the new parser refused.
func checkAgainstOracle(t *testing.T, body []byte) (class string) {
	t.Helper()
	var got *Request
	var gotErr error
	if len(body) > MaxBodyBytes {
		gotErr = fmt.Errorf("too big")
	} else {
		got = &Request{Body: body}
		if gotErr = decodeIntercept(body, got); gotErr != nil {
			got = nil
		}
	}
	want, wantErr := oracleDecode(body)
	if wantErr == nil {
		class = stricterClass(body)
	}
	compare := func(level string, got, want *Request, gotOK, wantOK bool) {
		t.Helper()
		switch {
		case gotOK && !wantOK:
			t.Fatalf("%s: new parser accepts what encoding/json refuses: %q", level, body)
		case !gotOK && wantOK && class == "":
			t.Fatalf("%s: new parser refuses what encoding/json accepts, in no stricter class: %q", level, body)
		case gotOK && class != "":
			t.Fatalf("%s: new parser accepts a body of stricter class %s: %q", level, class, body)
		case gotOK && wantOK:
			if !reflect.DeepEqual(got.InterceptRequest, want.InterceptRequest) {
				t.Fatalf("%s: request differs on %q\n got %#v\nwant %#v", level, body, got.InterceptRequest, want.InterceptRequest)
			}
			if !bytes.Equal(got.InterceptRequest.Params, want.InterceptRequest.Params) {
				t.Fatalf("%s: raw params differ on %q: %q != %q", level, body, got.InterceptRequest.Params, want.InterceptRequest.Params)
			}
			if !reflect.DeepEqual(got.Params, want.Params) {
				t.Fatalf("%s: params differ on %q\n got %#v\nwant %#v", level, body, got.Params, want.Params)
			}
			if !bytes.Equal(got.Body, body) {
				t.Fatalf("%s: body not kept", level)
			}
		}
	}
	compare("decode", got, want, gotErr == nil, wantErr == nil)

	gr, gerr := ParseRequest(body)
	wr, werr := oracleParseRequest(body)
	if (gr == nil) == (gerr == nil) {
		t.Fatal("exactly one of request and error must be set")
	}
	if gerr != nil && gerr.Code != codes.MalformedRequest {
		t.Fatalf("code %s", gerr.Code)
	}
	if werr != nil && wantErr == nil && class != "" {
		// The checks refused what the oracle decoded: no longer a
		// stricter-class exception at this level.
		class = ""
	}
	compare("ParseRequest", gr, wr, gerr == nil, werr == nil)
	return class
}

// fuzzCorpusFlag rewrites testdata/fuzz/FuzzParseRequestMatchesOracle from
// the table cases below (go test -run TestParseRequestEdgeCases -update-fuzz-seeds).
var fuzzCorpusFlag = flag.Bool("update-fuzz-seeds", false, "rewrite the seed corpus of FuzzParseRequestMatchesOracle from the table tests")

const (
	okBoth   = iota // both parsers accept, equally
	denyBoth        // both refuse
	stricter        // encoding/json accepted, the new parser refuses (class given)
)

type edgeCase struct {
	name  string
	body  string
	want  int
	class string // for stricter
}

// with returns validBody with old replaced by new once (it must occur).
func with(old, new string) string {
	if !strings.Contains(validBody, old) {
		panic("with: " + old + " not in validBody")
	}
	return strings.Replace(validBody, old, new, 1)
}

// withParams returns validBody with params p.
func withParams(p string) string { return with(`{"linear":{"x":0.4}}`, p) }

// withField adds a top-level member before "params".
func withField(m string) string { return with(`"params"`, m+`,"params"`) }

const validToken = `"token":"eyJhbGciOiJFZERTQSJ9.e30.c2ln"`

func edgeCases() []edgeCase {
	return []edgeCase{
		// The stricter classes.
		{"deny/case-variant-name", with(`"requestId"`, `"RequestId"`), stricter, "case-variant-name"},
		{"deny/case-variant-name-all-caps", with(`"action"`, `"ACTION"`), stricter, "case-variant-name"},
		{"deny/case-variant-name-kelvin-sign", with(`"tokenId"`, "\"to\u212aenId\""), stricter, "case-variant-name"},
		{"deny/case-variant-name-long-s", with(`"resource"`, "\"re\u017fource\""), stricter, "case-variant-name"},
		{"deny/case-variant-name-in-physical-context", withField(`"physicalContext":{"HumanDetected":true}`), stricter, "case-variant-name"},
		{"deny/case-variant-name-in-current-position", withField(`"physicalContext":{"currentPosition":{"X":1}}`), stricter, "case-variant-name"},
		{"deny/duplicate-key-top-level", withField(`"resource":"ros:///estop"`), stricter, "duplicate-key"},
		{"deny/duplicate-key-top-level-null", withField(`"tokenId":null`), stricter, "duplicate-key"},
		{"deny/duplicate-key-escaped", withField(`"re\u0073ource":"ros:///estop"`), stricter, "duplicate-key"},
		{"deny/duplicate-key-in-params", withParams(`{"linear":{"x":0.4},"linear":{"x":9}}`), stricter, "duplicate-key"},
		{"deny/duplicate-key-in-params-nested", withParams(`{"linear":{"x":0.4,"x":9}}`), stricter, "duplicate-key"},
		{"deny/duplicate-key-in-params-array", withParams(`{"p":[{"a":1,"a":2}]}`), stricter, "duplicate-key"},
		{"deny/duplicate-key-in-params-escaped", withParams(`{"a":1,"\u0061":2}`), stricter, "duplicate-key"},
		{"deny/duplicate-key-in-physical-context", withField(`"physicalContext":{"humanDetected":false,"humanDetected":true}`), stricter, "duplicate-key"},
		{"deny/duplicate-key-physical-context-merge", withField(`"physicalContext":{"humanDetected":true},"physicalContext":{"currentVelocityMps":1}`), stricter, "duplicate-key"},
		{"deny/invalid-utf8-in-string", withParams("{\"note\":\"caf\xe9\"}"), stricter, "invalid-utf8"},
		{"deny/invalid-utf8-in-params-key", withParams("{\"\xff\":1}"), stricter, "invalid-utf8"},
		{"deny/invalid-utf8-overlong", withParams("{\"a\":\"\xc0\xaf\"}"), stricter, "invalid-utf8"},
		{"deny/invalid-utf8-encoded-surrogate", withParams("{\"a\":\"\xed\xa0\x80\"}"), stricter, "invalid-utf8"},
		{"deny/invalid-utf8-truncated", withParams("{\"a\":\"\xe2\x82\"}"), stricter, "invalid-utf8"},
		{"deny/lone-high-surrogate", withParams(`{"a":"\ud800"}`), stricter, "lone-surrogate"},
		{"deny/lone-high-surrogate-at-end", withParams(`{"a":"x\uDBFF"}`), stricter, "lone-surrogate"},
		{"deny/lone-low-surrogate", withParams(`{"a":"\udc00x"}`), stricter, "lone-surrogate"},
		{"deny/reversed-surrogate-pair", withParams(`{"a":"\udc00\ud800"}`), stricter, "lone-surrogate"},
		{"deny/high-surrogate-then-bmp-escape", withParams(`{"a":"\ud800\u0041"}`), stricter, "lone-surrogate"},
		{"deny/lone-surrogate-in-key", withParams(`{"\ud83d":1}`), stricter, "lone-surrogate"},
		{"deny/trailing-vertical-tab", validBody + "\v", stricter, "trailing-non-json-space"},
		{"deny/trailing-form-feed", validBody + "\f", stricter, "trailing-non-json-space"},
		{"deny/trailing-nbsp", validBody + "\u00a0", stricter, "trailing-non-json-space"},
		{"deny/trailing-nel", validBody + "\u0085", stricter, "trailing-non-json-space"},
		{"deny/trailing-line-separator", validBody + " \u2028\n", stricter, "trailing-non-json-space"},

		// Accepted by both, equally.
		{"ok/valid", validBody, okBoth, ""},
		{"ok/bench-body", benchBody, okBoth, ""},
		{"ok/trajectory-body", trajectoryBody(), okBoth, ""},
		{"ok/json-whitespace-everywhere", " \t\r\n{ \"requestId\" :\"01935f2c-7a1b-7c3d-8e4f-0123456789ab\" ,\n\"agentId\"\t:\"0000000000000000000000000000000000000000000000000000000000000001\",\"timestamp\" : 1763928000000 ,\"tokenId\":\"01935f2c-7a1b-7c3d-8e4f-0123456789ac\",\"resource\":\"ros:///cmd_vel\",\"action\":\"publish\",\"params\" : { \"a\" : [ 1 , { } , [ ] ] } } \r\n\t", okBoth, ""},
		{"ok/escaped-field-name", with(`"requestId"`, `"request\u0049d"`), okBoth, ""},
		{"ok/escaped-string-value", with(`"publish"`, `"pub\u006cish"`), okBoth, ""},
		{"ok/surrogate-pair", withParams(`{"emoji":"\ud83d\ude00","upper":"\uD83D\uDE00"}`), okBoth, ""},
		{"ok/utf8-text", withParams(`{"note":"déjà vu – 東京 😀","\u00e9":"é"}`), okBoth, ""},
		{"ok/literal-replacement-char", withParams("{\"a\":\"\uFFFD\",\"b\":\"\\ufffd\",\"c\":\"\\uffff\"}"), okBoth, ""},
		{"ok/all-escapes", withParams(`{"s":"\"\\\/\b\f\n\r\t\u0000\u001f"}`), okBoth, ""},
		{"ok/params-null", withParams(`null`), okBoth, ""},
		{"ok/params-empty", withParams(`{}`), okBoth, ""},
		{"ok/params-absent", with(`,"params":{"linear":{"x":0.4}}`, ``), okBoth, ""},
		{"ok/params-every-type", withParams(`{"s":"x","n":-0.5e+3,"i":-0,"b":true,"f":false,"z":null,"a":[],"o":{},"deep":[[{"x":[1E2]}]]}`), okBoth, ""},
		{"ok/params-big-numbers", withParams(`{"tiny":1e-999,"long":123456789012345678901234567890,"big":1e308}`), okBoth, ""},
		{"deny/params-number-outside-double-range", withParams(`{"huge":1e999}`), denyBoth, ""},
		{"deny/params-negative-number-outside-double-range", withParams(`{"p":[{"x":-2e308}]}`), denyBoth, ""},
		{"ok/token-id-null-with-token", with(`"tokenId":"01935f2c-7a1b-7c3d-8e4f-0123456789ac"`, `"tokenId":null,`+validToken), okBoth, ""},
		{"ok/token-with-chain", with(`"tokenId":"01935f2c-7a1b-7c3d-8e4f-0123456789ac"`, validToken+`,"chain":["a.b.c","d.e.f"]`), okBoth, ""},
		{"ok/token-with-empty-chain", with(`"tokenId":"01935f2c-7a1b-7c3d-8e4f-0123456789ac"`, validToken+`,"chain":[]`), okBoth, ""},
		{"ok/chain-null", with(`"tokenId":"01935f2c-7a1b-7c3d-8e4f-0123456789ac"`, validToken+`,"chain":null`), okBoth, ""},
		{"ok/recent-actions", withField(`"recentActions":["ros:///cmd_vel publish",null,""]`), okBoth, ""},
		{"ok/recent-actions-empty", withField(`"recentActions":[]`), okBoth, ""},
		{"ok/physical-context-full", withField(`"physicalContext":{"humanDetected":false,"currentVelocityMps":0.2,"currentPosition":{"x":1,"y":-2.5e0}}`), okBoth, ""},
		{"ok/physical-context-nulls", withField(`"physicalContext":{"humanDetected":null,"currentVelocityMps":null,"currentPosition":null}`), okBoth, ""},
		{"ok/physical-context-null", withField(`"physicalContext":null`), okBoth, ""},
		{"ok/physical-context-empty", withField(`"physicalContext":{}`), okBoth, ""},
		{"ok/current-position-empty", withField(`"physicalContext":{"currentPosition":{}}`), okBoth, ""},
		{"ok/current-position-null-x", withField(`"physicalContext":{"currentPosition":{"x":null,"y":3}}`), okBoth, ""},
		{"ok/velocity-underflow", withField(`"physicalContext":{"currentVelocityMps":1e-400}`), okBoth, ""},
		{"ok/velocity-negative-zero", withField(`"physicalContext":{"currentVelocityMps":-0}`), okBoth, ""},
		{"ok/timestamp-max-int64", with(`1763928000000`, `9223372036854775807`), okBoth, ""},
		{"ok/depth-32", withParams(strings.Repeat(`{"a":`, 31) + "1" + strings.Repeat("}", 31)), okBoth, ""},
		{"ok/del-in-string", withParams("{\"a\":\"x\x7fy\"}"), okBoth, ""},
		{"ok/brackets-in-strings", withParams(`{"a":"[[[[{{{{","b":"\"]]]]"}`), okBoth, ""},

		// Refused by both.
		{"deny/top-level-null", `null`, denyBoth, ""},
		{"deny/top-level-array", `[` + validBody + `]`, denyBoth, ""},
		{"deny/empty-body", ``, denyBoth, ""},
		{"deny/only-whitespace", " \n", denyBoth, ""},
		{"deny/empty-object", `{}`, denyBoth, ""},
		{"deny/leading-bom", "\ufeff" + validBody, denyBoth, ""},
		{"deny/leading-vertical-tab", "\v" + validBody, denyBoth, ""},
		{"deny/trailing-nul", validBody + "\x00", denyBoth, ""},
		{"deny/trailing-comma", with(`}}}`, `}},}`), denyBoth, ""},
		{"deny/trailing-comma-in-params", withParams(`{"a":1,}`), denyBoth, ""},
		{"deny/trailing-comma-in-array", withParams(`{"a":[1,]}`), denyBoth, ""},
		{"deny/second-object", validBody + ` {}`, denyBoth, ""},
		{"deny/unterminated-string", validBody[:40], denyBoth, ""},
		{"deny/missing-colon", with(`"action":`, `"action" `), denyBoth, ""},
		{"deny/single-quotes", withParams(`{'a':1}`), denyBoth, ""},
		{"deny/control-char-in-string", withParams("{\"a\":\"x\ty\"}"), denyBoth, ""},
		{"deny/control-char-1f-in-string", withParams("{\"a\":\"x\x1fy\"}"), denyBoth, ""},
		{"deny/nul-in-string", with(`"publish"`, "\"pub\x00\""), denyBoth, ""},
		{"deny/bad-escape", withParams(`{"a":"\x41"}`), denyBoth, ""},
		{"deny/short-unicode-escape", withParams(`{"a":"\u12"}`), denyBoth, ""},
		{"deny/unknown-field", withField(`"surprise":1`), denyBoth, ""},
		{"deny/unknown-field-in-physical-context", withField(`"physicalContext":{"speed":1}`), denyBoth, ""},
		{"deny/unknown-field-in-current-position", withField(`"physicalContext":{"currentPosition":{"z":1}}`), denyBoth, ""},
		{"deny/timestamp-fraction", with(`1763928000000`, `1763928000000.5`), denyBoth, ""},
		{"deny/timestamp-integral-fraction", with(`1763928000000`, `1763928000000.0`), denyBoth, ""},
		{"deny/timestamp-exponent", with(`1763928000000`, `1.763928e12`), denyBoth, ""},
		{"deny/timestamp-negative-zero", with(`1763928000000`, `-0`), denyBoth, ""},
		{"deny/timestamp-negative", with(`1763928000000`, `-1763928000000`), denyBoth, ""},
		{"deny/timestamp-overflow", with(`1763928000000`, `9223372036854775808`), denyBoth, ""},
		{"deny/timestamp-string", with(`1763928000000`, `"1763928000000"`), denyBoth, ""},
		{"deny/timestamp-null", with(`1763928000000`, `null`), denyBoth, ""},
		{"deny/timestamp-leading-zero", with(`1763928000000`, `01763928000000`), denyBoth, ""},
		{"deny/timestamp-plus", with(`1763928000000`, `+1763928000000`), denyBoth, ""},
		{"deny/request-id-null", with(`"01935f2c-7a1b-7c3d-8e4f-0123456789ab"`, `null`), denyBoth, ""},
		{"deny/request-id-number", with(`"01935f2c-7a1b-7c3d-8e4f-0123456789ab"`, `7`), denyBoth, ""},
		{"deny/resource-array", with(`"ros:///cmd_vel"`, `["ros:///cmd_vel"]`), denyBoth, ""},
		{"deny/params-array", withParams(`[1,2]`), denyBoth, ""},
		{"deny/params-string", withParams(`"{}"`), denyBoth, ""},
		{"deny/params-number", withParams(`1`), denyBoth, ""},
		{"deny/params-true", withParams(`true`), denyBoth, ""},
		{"deny/params-bad-literal", withParams(`{"a":nul}`), denyBoth, ""},
		{"deny/params-bad-number", withParams(`{"a":1.}`), denyBoth, ""},
		{"deny/params-bad-exponent", withParams(`{"a":1e}`), denyBoth, ""},
		{"deny/params-leading-zero", withParams(`{"a":01}`), denyBoth, ""},
		{"deny/params-nan", withParams(`{"a":NaN}`), denyBoth, ""},
		{"deny/chain-number-element", with(`"tokenId":"01935f2c-7a1b-7c3d-8e4f-0123456789ac"`, validToken+`,"chain":[1]`), denyBoth, ""},
		{"deny/chain-without-token", withField(`"chain":["a.b.c"]`), denyBoth, ""},
		{"deny/recent-actions-object", withField(`"recentActions":{}`), denyBoth, ""},
		{"deny/human-detected-string", withField(`"physicalContext":{"humanDetected":"true"}`), denyBoth, ""},
		{"deny/human-detected-number", withField(`"physicalContext":{"humanDetected":1}`), denyBoth, ""},
		{"deny/velocity-out-of-range", withField(`"physicalContext":{"currentVelocityMps":1e999}`), denyBoth, ""},
		{"deny/position-out-of-range", withField(`"physicalContext":{"currentPosition":{"x":-1e309}}`), denyBoth, ""},
		{"deny/physical-context-array", withField(`"physicalContext":[]`), denyBoth, ""},
		{"deny/depth-33", withParams(strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32)), denyBoth, ""},
		{"deny/depth-33-arrays", withParams(`{"a":` + strings.Repeat(`[`, 32) + strings.Repeat("]", 32) + `}`), denyBoth, ""},
		{"deny/body-too-big", withParams(`{"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`), denyBoth, ""},
		{"deny/token-and-token-id", withField(validToken), denyBoth, ""},
	}
}

// TestParseRequestEdgeCases runs each edge case through both parsers and
// checks the expected outcome.
func TestParseRequestEdgeCases(t *testing.T) {
	cases := edgeCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			class := checkAgainstOracle(t, body)
			_, gerr := ParseRequest(body)
			_, werr := oracleParseRequest(body)
			switch tc.want {
			case okBoth:
				if gerr != nil || werr != nil {
					t.Fatalf("want both to accept: new %v, oracle %v", gerr, werr)
				}
			case denyBoth:
				if gerr == nil || werr == nil {
					t.Fatalf("want both to refuse: new %v, oracle %v", gerr, werr)
				}
			case stricter:
				// The oracle refuses too when the stricter class is inside
				// params that RFC 8785 cannot hash (a lone surrogate): the
				// decoder-level comparison in checkAgainstOracle still holds
				// encoding/json to accepting it.
				if gerr == nil || (werr != nil && !strings.Contains(werr.Message, "params cannot be canonicalised")) {
					t.Fatalf("want only the new parser to refuse: new %v, oracle %v", gerr, werr)
				}
				if werr == nil && class != tc.class {
					t.Fatalf("stricter class %q, want %q", class, tc.class)
				}
				if got := stricterClass(body); got != tc.class {
					t.Fatalf("stricter class of the body %q, want %q", got, tc.class)
				}
			}
		})
	}
	if *fuzzCorpusFlag {
		dir := filepath.Join("testdata", "fuzz", "FuzzParseRequestMatchesOracle")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			if len(tc.body) > 8<<10 {
				continue // the fuzzer does not need the huge ones as files
			}
			name := "seed-" + strings.ReplaceAll(tc.name, "/", "-")
			data := "go test fuzz v1\n[]byte(" + strconv.Quote(tc.body) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// FuzzParseRequestMatchesOracle: on every input the new parser and the
// encoding/json oracle agree (accept/deny; on accept equal fields, equal raw
// params bytes, equal decoded params), except for bodies in a documented
// stricter class, which the new parser must refuse.
func FuzzParseRequestMatchesOracle(f *testing.F) {
	for _, tc := range edgeCases() {
		f.Add([]byte(tc.body))
	}
	for _, s := range []string{
		validBody, `{"requestId":`, validBody + `{}`, `{}`, `{"requestId":"x","params":{"a":[1,{"b":"c"}]}}`,
		strings.Replace(validBody, `"action"`, `"surprise":1,"action"`, 1),
		strings.Replace(validBody, "ros:///cmd_vel", "ros:///a/./cmd_vel", 1),
		strings.Replace(validBody, "ros:///cmd_vel", "ros:///cmd%5Fvel", 1),
		strings.Replace(validBody, `"publish"`, `"Publish!"`, 1),
		strings.Replace(validBody, `"params"`, `"physicalContext":{"currentVelocityMps":1e999},"params"`, 1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstOracle(t, b)
		_ = requestIDOf(b)
	})
}

// TestValidIDsMatchOracle compares the hand-written id checks with the
// regexps they replace on every single-byte substitution of valid ids and
// on neighbouring lengths.
func TestValidIDsMatchOracle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid string
		got   func(string) bool
		want  func(string) bool
	}{
		{"uuidv7", "01935f2c-7a1b-7c3d-8e4f-0123456789ab", ValidUUIDv7, oracleValidUUIDv7},
		{"uuidv7-variant-b", "01935f2c-7a1b-7c3d-bfff-abcdef012345", ValidUUIDv7, oracleValidUUIDv7},
		{"key-hex", "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", ValidKeyHex, oracleValidKeyHex},
		{"key-hex-all-digits", strings.Repeat("0123456789abcdef", 4), ValidKeyHex, oracleValidKeyHex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.got(tc.valid) {
				t.Fatalf("valid id refused: %s", tc.valid)
			}
			for i := range len(tc.valid) {
				b := []byte(tc.valid)
				for c := range 256 {
					b[i] = byte(c)
					if s := string(b); tc.got(s) != tc.want(s) {
						t.Fatalf("%q: got %v, regexp %v", s, tc.got(s), tc.want(s))
					}
				}
			}
			for _, s := range []string{"", tc.valid[1:], tc.valid + "0", tc.valid + "\n", strings.ToUpper(tc.valid)} {
				if tc.got(s) != tc.want(s) {
					t.Fatalf("%q: got %v, regexp %v", s, tc.got(s), tc.want(s))
				}
			}
		})
	}
}

// TestParamsMatchOracleRandom builds random params (nesting, escapes,
// non-ASCII text, numbers of every form, JSON whitespace, the odd duplicate
// or lone surrogate) and holds the new parser to the oracle on each, which
// reaches shapes that byte mutation of the seeds rarely does.
func TestParamsMatchOracleRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ws := func() string {
		if rng.IntN(4) == 0 {
			return pick(" ", "\n", "\t", "\r\n  ")
		}
		return ""
	}
	str := func() string {
		var b strings.Builder
		b.WriteByte('"')
		for range rng.IntN(6) {
			b.WriteString(pick("a", "Z", "é", "東", "😀", `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\u0000`, `\ud83d\ude00`, `\uFFFF`, "[", "}", " ", `\b`))
		}
		if rng.IntN(50) == 0 {
			b.WriteString(pick(`\ud800`, `\udc00`, "\xff", "\xed\xa0\x80")) // stricter classes
		}
		b.WriteByte('"')
		return b.String()
	}
	num := func() string {
		return pick("0", "-0", "1", "-17", "0.5", "-0.25e-3", "1E9", "1e+2", "123456789012345678901234567890", "1e999", "1e-999", "3.14159")
	}
	var val func(depth int) string
	val = func(depth int) string {
		k := rng.IntN(9)
		if depth > 6 && k < 2 {
			k = 2 + rng.IntN(7)
		}
		switch k {
		case 0: // object
			var b strings.Builder
			b.WriteString("{" + ws())
			n := rng.IntN(5)
			keys := map[string]bool{}
			for i := range n {
				if i > 0 {
					b.WriteString("," + ws())
				}
				key := str()
				if keys[key] && rng.IntN(3) != 0 {
					key = `"k` + strconv.Itoa(i) + `"`
				}
				keys[key] = true
				b.WriteString(key + ws() + ":" + ws() + val(depth+1) + ws())
			}
			b.WriteString("}")
			return b.String()
		case 1: // array
			var b strings.Builder
			b.WriteString("[" + ws())
			for i := range rng.IntN(5) {
				if i > 0 {
					b.WriteString("," + ws())
				}
				b.WriteString(val(depth+1) + ws())
			}
			b.WriteString("]")
			return b.String()
		case 2, 3:
			return str()
		case 4, 5:
			return num()
		default:
			return pick("true", "false", "null")
		}
	}
	classes := map[string]int{}
	for range 3000 {
		var p strings.Builder
		p.WriteString("{")
		for i := range 1 + rng.IntN(4) {
			if i > 0 {
				p.WriteString(",")
			}
			p.WriteString(`"p` + strconv.Itoa(i) + `":` + ws() + val(1))
		}
		p.WriteString("}")
		classes[checkAgainstOracle(t, []byte(withParams(p.String())))]++
	}
	t.Logf("stricter classes met: %v", classes)
}

// TestRequestFieldsMatchOracleRandom builds random top-level objects: the
// protocol's fields in random order, some missing, some null, some of the
// wrong type, some case-variant or repeated, with JSON whitespace between
// tokens, and holds the new parser to the oracle on each.
func TestRequestFieldsMatchOracleRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ws := func() string {
		if rng.IntN(5) == 0 {
			return pick(" ", "\n", "\t ")
		}
		return ""
	}
	anyValue := func() string {
		return pick(`null`, `true`, `0`, `-0`, `1.5`, `1e3`, `"x"`, `[]`, `{}`, `["a"]`, `[null]`, `{"a":1}`, `9223372036854775808`, `1e999`)
	}
	fields := []struct {
		name string
		good []string
	}{
		{"requestId", []string{`"01935f2c-7a1b-7c3d-8e4f-0123456789ab"`, `"01935F2C-7A1B-7C3D-8E4F-0123456789AB"`}},
		{"agentId", []string{`"0000000000000000000000000000000000000000000000000000000000000001"`}},
		{"timestamp", []string{`1763928000000`, `-0`, `1763928000000.0`}},
		{"tokenId", []string{`"01935f2c-7a1b-7c3d-8e4f-0123456789ac"`, `""`}},
		{"token", []string{`"eyJhbGciOiJFZERTQSJ9.e30.c2ln"`, `""`}},
		{"chain", []string{`["a.b.c"]`, `[]`, `["a.b.c",null,"d.e.f"]`}},
		{"resource", []string{`"ros:///cmd_vel"`, `"ros:\/\/\/cmd_vel"`, `"ros:///a//b"`}},
		{"action", []string{`"publish"`, `"estop"`, `"Publish"`}},
		{"params", []string{`{"linear":{"x":0.4}}`, `null`, `{}`, `[1]`}},
		{"physicalContext", []string{`{"humanDetected":true,"currentVelocityMps":0.2,"currentPosition":{"x":1,"y":2}}`, `{}`, `{"currentPosition":{"y":null}}`, `{"humanDetected":null}`, `{"currentVelocityMps":-1e-400}`}},
		{"recentActions", []string{`["ros:///cmd_vel publish"]`, `[]`, `[null]`}},
	}
	classes := map[string]int{}
	decoded, accepted := 0, 0
	for range 5000 {
		var b strings.Builder
		b.WriteString(ws() + "{" + ws())
		n := 0
		inline := rng.IntN(2) == 0 // token instead of tokenId
		for _, i := range rng.Perm(len(fields)) {
			f := fields[i]
			switch f.name {
			case "requestId", "agentId", "timestamp", "resource", "action":
				if rng.IntN(30) == 0 {
					continue
				}
			case "tokenId":
				if inline && rng.IntN(10) != 0 {
					continue
				}
			case "token", "chain":
				if !inline && rng.IntN(10) != 0 {
					continue
				}
			default:
				if rng.IntN(3) == 0 {
					continue
				}
			}
			name := f.name
			switch rng.IntN(40) {
			case 0:
				name = strings.ToUpper(name[:1]) + name[1:]
			case 1:
				name = "x" + name
			}
			v := f.good[rng.IntN(len(f.good))]
			switch rng.IntN(12) {
			case 0:
				v = "null"
			case 1:
				v = anyValue()
			}
			reps := 1
			if rng.IntN(40) == 0 {
				reps = 2
			}
			for range reps {
				if n > 0 {
					b.WriteString(ws() + "," + ws())
				}
				b.WriteString(`"` + name + `"` + ws() + ":" + ws() + v)
				n++
			}
		}
		b.WriteString(ws() + "}" + ws())
		body := []byte(b.String())
		classes[checkAgainstOracle(t, body)]++
		if _, err := oracleDecode(body); err == nil {
			decoded++
		}
		if _, err := oracleParseRequest(body); err == nil {
			accepted++
		}
	}
	t.Logf("oracle decoded %d, accepted %d; stricter classes met: %v", decoded, accepted, classes)
}

// TestParseRequestErrorEchoesLittle: a deny's reason quotes at most 64 bytes
// of an unknown or repeated key, however long the key.
func TestParseRequestErrorEchoesLittle(t *testing.T) {
	long := strings.Repeat("k", 10_000)
	for name, body := range map[string]string{
		"unknown-field":      withField(`"` + long + `":1`),
		"duplicate-key":      withParams(`{"` + long + `":1,"` + long + `":2}`),
		"unknown-in-context": withField(`"physicalContext":{"` + long + `":1}`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRequest([]byte(body))
			if err == nil {
				t.Fatal("accepted")
			}
			if len(err.Message) > 200 {
				t.Fatalf("message of %d bytes: %.100s…", len(err.Message), err.Message)
			}
		})
	}
}

package gateway

// A single-pass strict decoder of the intercept body (PROTOCOL.md §5). It
// replaces encoding/json on the hot path: it accepts what encoding/json with
// DisallowUnknownFields and UseNumber accepted, except where that was lax
// (docs/decisions.md, entry 17):
//
//   - field names must be spelled exactly (encoding/json folds case);
//   - a key may appear once per object, in params too (encoding/json keeps
//     the last);
//   - strings must be valid UTF-8 and must not hold a lone surrogate escape
//     (encoding/json substitutes U+FFFD for both);
//   - only JSON whitespace may follow the body (the old trailing check
//     trimmed \v, \f, U+0085, U+00A0 and other Unicode spaces);
//   - the body must be an object (a top-level null decoded into the zero
//     request before, which the schema checks then refused anyway).
//
// The differential fuzz test FuzzParseRequestMatchesOracle holds it to the
// old encoding/json decoder on everything else.

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sintgate/sintgate/api"
)

// parseError is a syntax or schema error of the body, with the byte offset
// where it was found.
type parseError struct {
	off int
	msg string
}

func (e *parseError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

// Bits of the top-level fields seen so far (duplicate detection).
const (
	seenRequestID = 1 << iota
	seenAgentID
	seenTimestamp
	seenTokenID
	seenToken
	seenChain
	seenResource
	seenAction
	seenParams
	seenPhysicalContext
	seenRecentActions
)

// reqScanner walks one body. It is used once and is not safe for
// concurrent use.
type reqScanner struct {
	b     []byte
	i     int // next byte to read
	depth int // objects and arrays open at b[i]

	// While params are built, strings without escapes are substrings of src,
	// one copy of the params bytes b[srcOff:srcOff+len(src)], instead of one
	// allocation each.
	src    string
	srcOff int

	// vals is a stack of array elements being collected, so that each []any
	// is allocated once at its final length.
	vals []any

	// short holds the unescaped short top-level strings (ids, resource,
	// action) until the end, when they become substrings of one allocation.
	short  [5]span
	nshort int
}

// span is a string value b[start:end] that dst will be set to.
type span struct {
	dst        *string
	start, end int
}

// decodeIntercept decodes body, a JSON object with the fields of
// api.InterceptRequest, into r.InterceptRequest and r.Params. It checks the
// JSON grammar (RFC 8259), the nesting depth (MaxJSONDepth), field names and
// types, and that params is an object or null; the value checks are
// ParseRequest's. InterceptRequest.Params aliases body.
func decodeIntercept(body []byte, r *Request) error {
	s := reqScanner{b: body}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.fail("the body must be a JSON object")
	}
	if err := s.request(&r.InterceptRequest, &r.Params); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the JSON object")
	}
	s.flushShort()
	return nil
}

// flushShort sets the deferred short strings, all substrings of one copy.
// In a request that passes the checks they are at most 712 bytes together,
// so keeping one of them alive (an agentId in a map, say) keeps little else.
func (s *reqScanner) flushShort() {
	n := 0
	for _, sp := range s.short[:s.nshort] {
		n += sp.end - sp.start
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, sp := range s.short[:s.nshort] {
		sb.Write(s.b[sp.start:sp.end])
	}
	all, off := sb.String(), 0
	for _, sp := range s.short[:s.nshort] {
		n := sp.end - sp.start
		*sp.dst = all[off : off+n]
		off += n
	}
}

func (s *reqScanner) fail(msg string) error { return &parseError{off: s.i, msg: msg} }

// maxQuotedKey bounds how much of a key an error message (which the deny's
// reason carries back) repeats.
const maxQuotedKey = 64

// quoteKey quotes a key for an error message, cut to maxQuotedKey bytes.
func quoteKey(k string) string {
	if len(k) > maxQuotedKey {
		return strconv.Quote(k[:maxQuotedKey]) + "…"
	}
	return strconv.Quote(k)
}

// ws skips JSON whitespace (RFC 8259 §2: space, tab, LF, CR and nothing else).
func (s *reqScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end of the input.
func (s *reqScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// open consumes '{' or '[' and counts the nesting.
func (s *reqScanner) open() error {
	s.depth++
	if s.depth > MaxJSONDepth {
		return s.fail("JSON nesting deeper than " + strconv.Itoa(MaxJSONDepth))
	}
	s.i++
	return nil
}

// next is called after a member or element: it consumes the ',' before the
// next one and reports true, or consumes the closing byte and reports false.
func (s *reqScanner) next(closing byte) (bool, error) {
	s.ws()
	switch s.peek() {
	case ',':
		s.i++
		return true, nil
	case closing:
		s.i++
		s.depth--
		return false, nil
	}
	return false, s.fail("expected ',' or '" + string(closing) + "'")
}

// members walks an object from its '{', calling member for each key with the
// scanner at the start of the value; member must consume the value. The key
// is b[start:end], written with escapes if esc (see keyBytes).
func (s *reqScanner) members(member func(start, end int, esc bool) error) error {
	if err := s.open(); err != nil {
		return err
	}
	s.ws()
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		s.ws()
		start, end, esc, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.peek() != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		s.ws()
		if err := member(start, end, esc); err != nil {
			return err
		}
		more, err := s.next('}')
		if err != nil || !more {
			return err
		}
	}
}

// request decodes the top-level object.
func (s *reqScanner) request(q *api.InterceptRequest, params *map[string]any) error {
	var seen uint
	return s.members(func(start, end int, esc bool) error {
		key := s.keyBytes(start, end, esc)
		var bit uint
		var err error
		switch string(key) {
		case "requestId":
			bit, err = seenRequestID, s.shortField(&q.RequestID)
		case "agentId":
			bit, err = seenAgentID, s.shortField(&q.AgentID)
		case "timestamp":
			bit, err = seenTimestamp, s.int64Field(&q.Timestamp)
		case "tokenId":
			bit, err = seenTokenID, s.shortField(&q.TokenID)
		case "token":
			bit, err = seenToken, s.stringField(&q.Token)
		case "chain":
			bit, err = seenChain, s.stringsField(&q.Chain)
		case "resource":
			bit, err = seenResource, s.shortField(&q.Resource)
		case "action":
			bit, err = seenAction, s.shortField(&q.Action)
		case "params":
			bit, err = seenParams, s.paramsField(&q.Params, params)
		case "physicalContext":
			bit, err = seenPhysicalContext, s.physicalContext(&q.PhysicalContext)
		case "recentActions":
			bit, err = seenRecentActions, s.stringsField(&q.RecentActions)
		default:
			return s.fail("unknown field " + quoteKey(string(key)))
		}
		if seen&bit != 0 {
			return s.fail("duplicate field " + quoteKey(string(key)))
		}
		seen |= bit
		return err
	})
}

// null consumes the literal null if it is next and reports whether it was.
func (s *reqScanner) null() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

func (s *reqScanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// stringField decodes a string or null (which leaves *dst as it is, as
// encoding/json does).
func (s *reqScanner) stringField(dst *string) error {
	if isNull, err := s.null(); isNull || err != nil {
		return err
	}
	if s.peek() != '"' {
		return s.fail("expected a string")
	}
	start, end, esc, err := s.str()
	if err != nil {
		return err
	}
	*dst = s.makeString(start, end, esc)
	return nil
}

// shortField is stringField for the short top-level strings: one without
// escapes, up to MaxResourceBytes, is set by flushShort at the end.
func (s *reqScanner) shortField(dst *string) error {
	if s.peek() != '"' || s.nshort == len(s.short) {
		return s.stringField(dst)
	}
	start, end, esc, err := s.str()
	switch {
	case err != nil:
		return err
	case esc || end-start > MaxResourceBytes:
		*dst = s.makeString(start, end, esc)
	default:
		s.short[s.nshort] = span{dst, start, end}
		s.nshort++
	}
	return nil
}

// stringsField decodes an array of strings (a null element is "") or null
// (nil). An empty array is an empty, non-nil slice, as encoding/json makes.
func (s *reqScanner) stringsField(dst *[]string) error {
	if isNull, err := s.null(); isNull || err != nil {
		*dst = nil
		return err
	}
	if s.peek() != '[' {
		return s.fail("expected an array of strings")
	}
	if err := s.open(); err != nil {
		return err
	}
	out := []string{}
	s.ws()
	if s.peek() == ']' {
		s.i++
		s.depth--
		*dst = out
		return nil
	}
	for {
		s.ws()
		var v string
		if err := s.stringField(&v); err != nil {
			return err
		}
		out = append(out, v)
		more, err := s.next(']')
		if err != nil {
			return err
		}
		if !more {
			*dst = out
			return nil
		}
	}
}

// int64Field decodes an integer that fits an int64 or null (which leaves *dst
// as it is). Like strconv.ParseInt, which encoding/json uses, it refuses a
// fraction or an exponent (1.0, 1e3) and accepts -0 as 0.
func (s *reqScanner) int64Field(dst *int64) error {
	if isNull, err := s.null(); isNull || err != nil {
		return err
	}
	start, isInt, err := s.number()
	if err != nil {
		return err
	}
	if !isInt {
		return s.fail("expected an integer")
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	if err != nil {
		return s.fail("integer out of range")
	}
	*dst = n
	return nil
}

// float decodes a number as strconv.ParseFloat (64 bits) does; a magnitude
// beyond float64 is refused, an underflow is 0.
func (s *reqScanner) float() (float64, error) {
	start, _, err := s.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		return 0, s.fail("number out of range")
	}
	return f, nil
}

func (s *reqScanner) physicalContext(dst **api.PhysicalContext) error {
	if isNull, err := s.null(); isNull || err != nil {
		*dst = nil
		return err
	}
	if s.peek() != '{' {
		return s.fail("physicalContext must be an object")
	}
	pc := new(api.PhysicalContext)
	*dst = pc
	var seen uint
	return s.members(func(start, end int, esc bool) error {
		key := s.keyBytes(start, end, esc)
		var bit uint
		var err error
		switch string(key) {
		case "humanDetected":
			bit, err = 1, s.boolPtr(&pc.HumanDetected)
		case "currentVelocityMps":
			bit, err = 2, s.floatPtr(&pc.CurrentVelocityMps)
		case "currentPosition":
			bit, err = 4, s.point(&pc.CurrentPosition)
		default:
			return s.fail("unknown field " + quoteKey(string(key)))
		}
		if seen&bit != 0 {
			return s.fail("duplicate field " + quoteKey(string(key)))
		}
		seen |= bit
		return err
	})
}

func (s *reqScanner) boolPtr(dst **bool) error {
	switch s.peek() {
	case 'n':
		*dst = nil
		return s.literal("null")
	case 't':
		v := true
		*dst = &v
		return s.literal("true")
	case 'f':
		v := false
		*dst = &v
		return s.literal("false")
	}
	return s.fail("expected a boolean")
}

func (s *reqScanner) floatPtr(dst **float64) error {
	if isNull, err := s.null(); isNull || err != nil {
		*dst = nil
		return err
	}
	f, err := s.float()
	if err != nil {
		return err
	}
	*dst = &f
	return nil
}

func (s *reqScanner) point(dst **api.Point) error {
	if isNull, err := s.null(); isNull || err != nil {
		*dst = nil
		return err
	}
	if s.peek() != '{' {
		return s.fail("currentPosition must be an object")
	}
	p := new(api.Point)
	*dst = p
	var seen uint
	return s.members(func(start, end int, esc bool) error {
		key := s.keyBytes(start, end, esc)
		var bit uint
		var dst *float64
		switch string(key) {
		case "x":
			bit, dst = 1, &p.X
		case "y":
			bit, dst = 2, &p.Y
		default:
			return s.fail("unknown field " + quoteKey(string(key)))
		}
		if seen&bit != 0 {
			return s.fail("duplicate field " + quoteKey(string(key)))
		}
		seen |= bit
		if isNull, err := s.null(); isNull || err != nil {
			return err // null leaves the coordinate 0, as encoding/json does
		}
		f, err := s.float()
		*dst = f
		return err
	})
}

// paramsField decodes params, which must be an object or null. raw gets the
// exact bytes of the value (attest.ParamsHash hashes them); out gets the
// decoded object, nil for null.
func (s *reqScanner) paramsField(raw *json.RawMessage, out *map[string]any) error {
	start := s.i
	if isNull, err := s.null(); isNull || err != nil {
		*raw, *out = s.b[start:s.i:s.i], nil
		return err
	}
	if s.peek() != '{' {
		return s.fail("params must be a JSON object")
	}
	// Strings and numbers without escapes become substrings of one copy of
	// the params bytes, found by a quick bracket count; makeString copies
	// anything outside it, so a wrong guess on a malformed body only costs
	// allocations, and value validates everything.
	s.src, s.srcOff = string(s.b[start:closingBracket(s.b, start)]), start
	v, err := s.value()
	s.src = ""
	if err != nil {
		return err
	}
	*raw, *out = s.b[start:s.i:s.i], v.(map[string]any)
	return nil
}

// closingBracket returns the index after the bracket that closes the one at
// b[start], skipping strings, or len(b) if there is none. It does not
// validate anything.
func closingBracket(b []byte, start int) int {
	depth := 0
	inStr, esc := false, false
	for i := start; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(b)
}

// value decodes one JSON value as encoding/json does into an any with
// UseNumber: map[string]any, []any, string, json.Number, bool or nil. Empty
// objects and arrays are non-nil. A key repeated in an object is refused.
func (s *reqScanner) value() (any, error) {
	switch s.peek() {
	case '{':
		m := map[string]any{}
		err := s.members(func(start, end int, esc bool) error {
			k := s.makeString(start, end, esc)
			if _, dup := m[k]; dup {
				return s.fail("duplicate key " + quoteKey(k))
			}
			v, err := s.value()
			m[k] = v
			return err
		})
		return m, err
	case '[':
		if err := s.open(); err != nil {
			return nil, err
		}
		mark := len(s.vals)
		s.ws()
		if s.peek() == ']' {
			s.i++
			s.depth--
			return []any{}, nil
		}
		for {
			s.ws()
			v, err := s.value()
			if err != nil {
				return nil, err
			}
			s.vals = append(s.vals, v)
			more, err := s.next(']')
			if err != nil {
				return nil, err
			}
			if !more {
				out := make([]any, len(s.vals)-mark)
				copy(out, s.vals[mark:])
				clear(s.vals[mark:])
				s.vals = s.vals[:mark]
				return out, nil
			}
		}
	case '"':
		start, end, esc, err := s.str()
		if err != nil {
			return nil, err
		}
		return s.makeString(start, end, esc), nil
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	default:
		start, _, err := s.number()
		if err != nil {
			return nil, err
		}
		return json.Number(s.makeString(start, s.i, false)), nil
	}
}

// keyBytes returns the key at b[start:end], decoded if it has escapes. The
// schema's names have none, so a decoded key is rare and may allocate.
func (s *reqScanner) keyBytes(start, end int, esc bool) []byte {
	if esc {
		return appendUnescaped(nil, s.b[start:end])
	}
	return s.b[start:end]
}

// makeString returns the string b[start:end] (the contents of a JSON string
// or a number), unescaped if esc.
func (s *reqScanner) makeString(start, end int, esc bool) string {
	if esc {
		var buf [64]byte
		return string(appendUnescaped(buf[:0], s.b[start:end]))
	}
	if s.src != "" && start >= s.srcOff && end <= s.srcOff+len(s.src) {
		return s.src[start-s.srcOff : end-s.srcOff]
	}
	return string(s.b[start:end])
}

// str scans a string at s.i (which must be '"') and returns the bounds of
// its contents and whether they hold escapes. It refuses control
// characters, invalid escapes, lone surrogate escapes and invalid UTF-8.
func (s *reqScanner) str() (start, end int, esc bool, err error) {
	if s.peek() != '"' {
		return 0, 0, false, s.fail("expected a string")
	}
	s.i++
	start = s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if plainStringByte[c] {
			s.i++
			continue
		}
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, esc, nil
		case c == '\\':
			esc = true
			if err := s.escape(); err != nil {
				return 0, 0, false, err
			}
		case c < 0x20:
			return 0, 0, false, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return 0, 0, false, s.fail("invalid UTF-8 in string")
			}
			s.i += n
		}
	}
	return 0, 0, false, s.fail("unterminated string")
}

// plainStringByte holds the bytes that stand for themselves inside a string:
// printable ASCII but '"' and '\\'.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape validates the escape sequence at s.i and moves past it. A \u escape
// of a UTF-16 surrogate must be a high surrogate immediately followed by a
// \u escape of a low one.
func (s *reqScanner) escape() error {
	if s.i+1 >= len(s.b) {
		return s.fail("unterminated escape")
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return nil
	case 'u':
	default:
		return s.fail("invalid escape")
	}
	r, ok := hex4(s.b, s.i+2)
	if !ok {
		return s.fail("invalid \\u escape")
	}
	s.i += 6
	switch {
	case r >= 0xdc00 && r <= 0xdfff:
		return s.fail("lone surrogate escape")
	case r >= 0xd800 && r <= 0xdbff:
		if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
			if lo, ok := hex4(s.b, s.i+2); ok && lo >= 0xdc00 && lo <= 0xdfff {
				s.i += 6
				return nil
			}
		}
		return s.fail("lone surrogate escape")
	}
	return nil
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the decoded contents of a string that str
// validated.
func appendUnescaped(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch b[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(b, i+2)
			i += 6
			if r >= 0xd800 && r <= 0xdbff {
				lo, _ := hex4(b, i+2)
				r = (r-0xd800)<<10 | (lo - 0xdc00) + 0x10000
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, b[i+1])
		}
		i += 2
	}
	return dst
}

// number scans a JSON number at s.i (RFC 8259 §6) and reports where it
// started and whether it is an integer (no fraction, no exponent).
func (s *reqScanner) number() (start int, isInt bool, err error) {
	start = s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return 0, false, s.fail("invalid value")
	}
	isInt = true
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return 0, false, s.fail("invalid number")
		}
		isInt = false
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return 0, false, s.fail("invalid number")
		}
		isInt = false
	}
	return start, isInt, nil
}

// digits consumes [0-9]* and reports whether there was at least one.
func (s *reqScanner) digits() bool {
	n := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > n
}

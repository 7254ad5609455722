package attest

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/gowebpki/jcs"
)

// A fast RFC 8785 canonicaliser for the common shape of intercept params:
// ASCII strings without escapes, plain numbers, shallow nesting. Anything
// else (escape sequences, non-ASCII text, nesting deeper than
// fastMaxDepth, duplicate or malformed input) makes it give up, and
// ParamsHash falls back to github.com/gowebpki/jcs, the reference the rest
// of sintgate uses. FuzzCanonical checks that whenever the fast path answers,
// its output is byte-identical to jcs.Transform's.

const fastMaxDepth = 32

type canonicaliser struct {
	in      []byte
	i       int
	out     []byte
	scratch []byte
	depth   int
}

// member is the span of one canonical "key":value in out.
type member struct {
	key        []byte
	start, end int
}

// fastCanonical appends the JCS form of in to out. ok is false when the fast
// path does not handle the input; the caller must then use jcs.Transform.
func fastCanonical(in, out []byte) (_ []byte, ok bool) {
	c := canonicaliser{in: in, out: out}
	if !c.value() {
		return out, false
	}
	c.ws()
	if c.i != len(c.in) {
		return out, false
	}
	return c.out, true
}

func (c *canonicaliser) ws() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *canonicaliser) value() bool {
	c.ws()
	if c.i >= len(c.in) {
		return false
	}
	switch b := c.in[c.i]; {
	case b == '{':
		return c.object()
	case b == '[':
		return c.array()
	case b == '"':
		s, ok := c.str()
		if ok {
			c.out = append(c.out, '"')
			c.out = append(c.out, s...)
			c.out = append(c.out, '"')
		}
		return ok
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	}
	return false
}

func (c *canonicaliser) literal(lit string) bool {
	if !bytes.HasPrefix(c.in[c.i:], []byte(lit)) {
		return false
	}
	c.i += len(lit)
	c.out = append(c.out, lit...)
	return true
}

// str reads a string of printable ASCII without escapes and returns its
// body (which is then also its canonical body).
func (c *canonicaliser) str() ([]byte, bool) {
	start := c.i + 1
	for j := start; j < len(c.in); j++ {
		switch b := c.in[j]; {
		case b == '"':
			c.i = j + 1
			return c.in[start:j], true
		case b == '\\' || b < 0x20 || b >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// number reads an RFC 8259 number and writes its ECMAScript form. Integers
// of up to 15 digits are already canonical (except -0); others go through
// strconv.ParseFloat and jcs.NumberToJSON, as the reference does.
func (c *canonicaliser) number() bool {
	start := c.i
	j := c.i
	if c.in[j] == '-' {
		j++
	}
	intStart := j
	switch {
	case j < len(c.in) && c.in[j] == '0':
		j++
	case j < len(c.in) && c.in[j] >= '1' && c.in[j] <= '9':
		for j < len(c.in) && c.in[j] >= '0' && c.in[j] <= '9' {
			j++
		}
	default:
		return false
	}
	intDigits := j - intStart
	plain := true
	if j < len(c.in) && c.in[j] == '.' {
		plain = false
		j++
		d := j
		for j < len(c.in) && c.in[j] >= '0' && c.in[j] <= '9' {
			j++
		}
		if j == d {
			return false
		}
	}
	if j < len(c.in) && (c.in[j] == 'e' || c.in[j] == 'E') {
		plain = false
		j++
		if j < len(c.in) && (c.in[j] == '+' || c.in[j] == '-') {
			j++
		}
		d := j
		for j < len(c.in) && c.in[j] >= '0' && c.in[j] <= '9' {
			j++
		}
		if j == d {
			return false
		}
	}
	tok := c.in[start:j]
	c.i = j
	if plain && intDigits <= 15 && !(len(tok) == 2 && tok[0] == '-' && tok[1] == '0') {
		c.out = append(c.out, tok...)
		return true
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return false
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return false
	}
	c.out = append(c.out, s...)
	return true
}

func (c *canonicaliser) array() bool {
	if c.depth++; c.depth > fastMaxDepth {
		return false
	}
	defer func() { c.depth-- }()
	c.i++ // '['
	c.out = append(c.out, '[')
	c.ws()
	if c.i < len(c.in) && c.in[c.i] == ']' {
		c.i++
		c.out = append(c.out, ']')
		return true
	}
	for {
		if !c.value() {
			return false
		}
		c.ws()
		if c.i >= len(c.in) {
			return false
		}
		switch c.in[c.i] {
		case ',':
			c.i++
			c.out = append(c.out, ',')
		case ']':
			c.i++
			c.out = append(c.out, ']')
			return true
		default:
			return false
		}
	}
}

func (c *canonicaliser) object() bool {
	if c.depth++; c.depth > fastMaxDepth {
		return false
	}
	defer func() { c.depth-- }()
	c.i++ // '{'
	c.out = append(c.out, '{')
	objStart := len(c.out)
	c.ws()
	if c.i < len(c.in) && c.in[c.i] == '}' {
		c.i++
		c.out = append(c.out, '}')
		return true
	}
	var buf [16]member
	members := buf[:0]
	sorted := true
	for {
		c.ws()
		if c.i >= len(c.in) || c.in[c.i] != '"' {
			return false
		}
		key, ok := c.str()
		if !ok {
			return false
		}
		c.ws()
		if c.i >= len(c.in) || c.in[c.i] != ':' {
			return false
		}
		c.i++
		m := member{key: key, start: len(c.out)}
		c.out = append(c.out, '"')
		c.out = append(c.out, key...)
		c.out = append(c.out, '"', ':')
		if !c.value() {
			return false
		}
		m.end = len(c.out)
		if n := len(members); n > 0 {
			switch cmp := bytes.Compare(members[n-1].key, key); {
			case cmp == 0:
				return false // duplicate: the reference reports the error
			case cmp > 0:
				sorted = false
			}
		}
		members = append(members, m)
		c.ws()
		if c.i >= len(c.in) {
			return false
		}
		if c.in[c.i] == '}' {
			c.i++
			break
		}
		if c.in[c.i] != ',' {
			return false
		}
		c.i++
		c.out = append(c.out, ',')
	}
	if !sorted {
		// ASCII keys: byte order is UTF-16 code unit order.
		slices.SortFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
		for k := 1; k < len(members); k++ {
			if bytes.Equal(members[k-1].key, members[k].key) {
				return false
			}
		}
		c.scratch = c.scratch[:0]
		for k, m := range members {
			if k > 0 {
				c.scratch = append(c.scratch, ',')
			}
			c.scratch = append(c.scratch, c.out[m.start:m.end]...)
		}
		c.out = append(c.out[:objStart], c.scratch...)
	}
	c.out = append(c.out, '}')
	return true
}

package ledger

import "unicode/utf8"

// isCanonical is a conservative, allocation-free test that b is already in
// RFC 8785 form, so CanonicalPayload can skip re-canonicalising it (the cost
// that dominates Verify). It returns true only for a subset of canonical
// JSON it can decide exactly: no whitespace; object keys ASCII and strictly
// increasing; strings escaped exactly as JCS escapes them; numbers only
// integers of at most 15 digits (exact in IEEE 754 and printed the same by
// ECMAScript); nesting ≤ MaxPayloadDepth. Anything else returns false and the
// caller falls back to the JCS library. FuzzIsCanonical checks that every
// input accepted here is a fixed point of jcs.Transform.
func isCanonical(b []byte) bool {
	p := canonParser{b: b}
	return p.value(0) && p.i == len(b)
}

type canonParser struct {
	b []byte
	i int
}

func (p *canonParser) value(depth int) bool {
	if p.i >= len(p.b) || depth > MaxPayloadDepth {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		_, ok := p.str()
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return p.lit("true") || p.lit("false") || p.lit("null")
	}
}

func (p *canonParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *canonParser) number() bool {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	switch {
	case n == 0 || n > 15:
		return false
	case p.b[digits] == '0' && (n > 1 || digits > start): // leading zero, or -0
		return false
	}
	// A fraction or exponent: leave it to the JCS library.
	return p.i >= len(p.b) || (p.b[p.i] != '.' && p.b[p.i] != 'e' && p.b[p.i] != 'E')
}

// str scans a string; ascii reports whether its content is plain ASCII
// without escapes (so byte order equals UTF-16 order for keys).
func (p *canonParser) str() (ascii bool, ok bool) {
	p.i++ // opening quote
	ascii = true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return ascii, true
		case c == '\\':
			ascii = false
			if p.i+1 >= len(p.b) {
				return false, false
			}
			switch p.b[p.i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				// JCS emits \u00xx (lowercase hex) only for control
				// characters without a short form.
				if p.i+6 > len(p.b) || string(p.b[p.i+2:p.i+4]) != "00" {
					return false, false
				}
				h := hexVal(p.b[p.i+4])<<4 | hexVal(p.b[p.i+5])
				if hexVal(p.b[p.i+4]) < 0 || hexVal(p.b[p.i+5]) < 0 || h >= 0x20 ||
					h == '\b' || h == '\f' || h == '\n' || h == '\r' || h == '\t' {
					return false, false
				}
				p.i += 6
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		case c < utf8.RuneSelf:
			p.i++
		default:
			ascii = false
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return false, false
			}
			p.i += size
		}
	}
	return false, false
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1 // uppercase hex is not canonical
}

func (p *canonParser) object(depth int) bool {
	p.i++
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	var prev []byte
	for first := true; ; first = false {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return false
		}
		ks := p.i
		ascii, ok := p.str()
		if !ok || !ascii {
			return false
		}
		key := p.b[ks+1 : p.i-1]
		if !first && string(key) <= string(prev) {
			return false // unsorted or duplicate
		}
		prev = key
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		if !p.value(depth) {
			return false
		}
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *canonParser) array(depth int) bool {
	p.i++
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return true
	}
	for {
		if !p.value(depth) || p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

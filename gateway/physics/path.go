package physics

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on payload paths.
const (
	MaxPathBytes    = 256 // bytes of a path as written
	MaxPathSegments = 32  // one less than a payload's nesting limit
)

// Path is a compiled payload path: the location of a value inside a JSON
// document (the intercept's params, a device payload). It is written either
// as a JSON Pointer (RFC 6901: "/cmd/speed", "~0" and "~1" escape '~' and
// '/') or dotted ("cmd.speed", "wheels[0].rpm"). A segment "*" (dotted:
// "[*]") stands for every element of an array; on an object it matches the
// member named "*". A numeric segment indexes an array and names a member of
// an object ("/3" is element 3 or member "3", whichever the document has).
// The zero Path is invalid; paths are immutable.
type Path struct {
	segs []string // unescaped segments; "*" is the array wildcard
	wild []bool   // segs[i] is the wildcard
	text string   // canonical JSON Pointer
}

// String returns the canonical JSON Pointer form ("/wheels/*/rpm").
func (p Path) String() string { return p.text }

// Wildcard reports whether the path has an array wildcard.
func (p Path) Wildcard() bool {
	for _, w := range p.wild {
		if w {
			return true
		}
	}
	return false
}

// ParsePath parses a path in either syntax. Errors say what is wrong; an
// empty path (the document itself) is an error: a mapping names a value
// inside the payload.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, fmt.Errorf("empty path")
	}
	if len(s) > MaxPathBytes {
		return Path{}, fmt.Errorf("path longer than %d bytes", MaxPathBytes)
	}
	if !utf8.ValidString(s) {
		return Path{}, fmt.Errorf("path is not UTF-8")
	}
	var segs []string
	var wild []bool
	var err error
	if s[0] == '/' {
		segs, wild, err = parsePointer(s)
	} else {
		segs, wild, err = parseDotted(s)
	}
	if err != nil {
		return Path{}, fmt.Errorf("path %q: %v", s, err)
	}
	if len(segs) > MaxPathSegments {
		return Path{}, fmt.Errorf("path %q: more than %d segments", s, MaxPathSegments)
	}
	var b strings.Builder
	for i, sg := range segs {
		b.WriteByte('/')
		if wild[i] {
			b.WriteByte('*')
			continue
		}
		b.WriteString(escape(sg))
	}
	return Path{segs: segs, wild: wild, text: b.String()}, nil
}

func parsePointer(s string) (segs []string, wild []bool, err error) {
	for _, raw := range strings.Split(s[1:], "/") {
		for i := 0; i < len(raw); i++ {
			if raw[i] == '~' && (i+1 == len(raw) || (raw[i+1] != '0' && raw[i+1] != '1')) {
				return nil, nil, fmt.Errorf("bad escape in segment %q (use ~0 for '~', ~1 for '/')", raw)
			}
		}
		seg := strings.ReplaceAll(strings.ReplaceAll(raw, "~1", "/"), "~0", "~")
		if seg == "" {
			return nil, nil, fmt.Errorf("empty segment")
		}
		if hasControl(seg) {
			return nil, nil, fmt.Errorf("control character in segment %q", seg)
		}
		segs = append(segs, seg)
		wild = append(wild, raw == "*")
	}
	return segs, wild, nil
}

// parseDotted reads name(.name|[n]|[*])*: names are 1+ of [A-Za-z0-9_-],
// indices decimal without leading zeros.
func parseDotted(s string) (segs []string, wild []bool, err error) {
	i := 0
	name := func() error {
		j := i
		for i < len(s) && isNameByte(s[i]) {
			i++
		}
		if i == j {
			return fmt.Errorf("expected a member name at byte %d (dotted names are [A-Za-z0-9_-]; use a JSON Pointer for others)", j)
		}
		segs, wild = append(segs, s[j:i]), append(wild, false)
		return nil
	}
	if err := name(); err != nil {
		return nil, nil, err
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			if err := name(); err != nil {
				return nil, nil, err
			}
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, nil, fmt.Errorf("unclosed '[' at byte %d", i)
			}
			in := s[i+1 : i+end]
			switch {
			case in == "*":
				segs, wild = append(segs, "*"), append(wild, true)
			case isIndex(in):
				segs, wild = append(segs, in), append(wild, false)
			default:
				return nil, nil, fmt.Errorf("bad index %q at byte %d (want a decimal index or *)", in, i)
			}
			i += end + 1
		default:
			return nil, nil, fmt.Errorf("unexpected %q at byte %d", s[i], i)
		}
	}
	return segs, wild, nil
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isIndex accepts a decimal array index without leading zeros.
func isIndex(s string) bool {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// Found is one value a path resolved to, with its concrete location (a JSON
// Pointer without wildcards).
type Found struct {
	At    string
	Value any
}

// Resolve finds the values at p in doc (decoded JSON: map[string]any, []any,
// numbers, strings, bools, nil). A wildcard yields every element of the
// array (none for an empty array). A member or element that is absent, or a
// segment applied to a value that is not an object or array, is an error
// naming the concrete location where the path broke off.
func (p Path) Resolve(doc any) ([]Found, error) {
	var out []Found
	err := p.resolve(doc, 0, "", &out)
	return out, err
}

// maxFound bounds the values one wildcard path yields (a payload is at most
// 64 KiB, so this is never reached by a well-formed request).
const maxFound = 1 << 14

func (p Path) resolve(v any, i int, at string, out *[]Found) error {
	if i == len(p.segs) {
		if len(*out) >= maxFound {
			return fmt.Errorf("%s matches more than %d values", p.text, maxFound)
		}
		*out = append(*out, Found{At: at, Value: v})
		return nil
	}
	seg := p.segs[i]
	switch c := v.(type) {
	case map[string]any:
		child, ok := c[seg]
		if !ok {
			return fmt.Errorf("%s is missing", at+"/"+escape(seg))
		}
		return p.resolve(child, i+1, at+"/"+escape(seg), out)
	case []any:
		if p.wild[i] {
			for k, e := range c {
				if err := p.resolve(e, i+1, at+"/"+strconv.Itoa(k), out); err != nil {
					return err
				}
			}
			return nil
		}
		if !isIndex(seg) {
			return fmt.Errorf("%s is an array, not an object with member %q", orRoot(at), seg)
		}
		k, _ := strconv.Atoi(seg)
		if k >= len(c) {
			return fmt.Errorf("%s is missing (the array has %d elements)", at+"/"+seg, len(c))
		}
		return p.resolve(c[k], i+1, at+"/"+seg, out)
	}
	return fmt.Errorf("%s is not an object or array, so %s is missing", orRoot(at), at+"/"+escape(seg))
}

func orRoot(at string) string {
	if at == "" {
		return "the payload"
	}
	return at
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// escape writes a member name as a JSON Pointer segment.
func escape(seg string) string {
	if !strings.ContainsAny(seg, "~/") {
		return seg
	}
	return pointerEscaper.Replace(seg)
}

// matchConcrete reports whether the concrete location segs (unescaped, array
// indices as decimal strings, isIdx[i] when segs[i] indexes an array) is
// the path itself.
func (p Path) matchConcrete(segs []string, isIdx []bool) bool {
	if len(segs) != len(p.segs) {
		return false
	}
	for i := range segs {
		if p.wild[i] && isIdx[i] {
			continue
		}
		if segs[i] != p.segs[i] {
			return false
		}
	}
	return true
}

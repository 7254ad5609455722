package tokens

import (
	"errors"
	"strings"
)

// Resource alphabet (PROTOCOL.md §2): the printable ASCII characters RFC 3986
// allows in a URI (unreserved, reserved and '%'), except '*', which is the
// wildcard of patterns and therefore never part of a resource.
var resourceChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~:/?#[]@!$&'()+,;=%" {
		t[c] = true
	}
	return t
}()

// ValidPattern checks a resource pattern: 1..512 bytes of the resource
// alphabet plus the wildcards '*' (any run without '/') and '**' (any run).
// A run of three or more '*' is rejected (it has no meaning of its own and
// would make containment ambiguous).
func ValidPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	if len(p) > MaxResourceBytes {
		return errors.New("pattern longer than 512 bytes")
	}
	stars := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '*' {
			stars++
			if stars > 2 {
				return errors.New("pattern has a run of more than two '*'")
			}
			continue
		}
		stars = 0
		if !resourceChar[c] {
			return errors.New("pattern has a character outside the resource alphabet")
		}
	}
	return nil
}

// NormalResource checks that r is a resource in normal form (PROTOCOL.md §2):
// 1..512 bytes of the resource alphabet; a lowercase scheme
// [a-z][a-z0-9+.-]*; after "scheme://" an authority (possibly empty) and then
// no empty path segment; no "." or ".." segment anywhere; every '%' followed
// by two uppercase hex digits that do not encode an unreserved character.
// The gateway maps an error to MALFORMED_REQUEST.
func NormalResource(r string) error {
	if r == "" {
		return errors.New("empty resource")
	}
	if len(r) > MaxResourceBytes {
		return errors.New("resource longer than 512 bytes")
	}
	for i := 0; i < len(r); i++ {
		if !resourceChar[r[i]] {
			return errors.New("resource has a character outside the resource alphabet")
		}
	}
	colon := strings.IndexByte(r, ':')
	if colon < 1 {
		return errors.New("resource has no scheme")
	}
	for i := 0; i < colon; i++ {
		c := r[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-')
		if !ok {
			return errors.New("resource scheme is not lowercase [a-z][a-z0-9+.-]*")
		}
	}
	rest := r[colon+1:]
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			if rest == "" {
				return errors.New("resource has nothing after the scheme's //")
			}
			if rest == "." || rest == ".." {
				return errors.New("resource has a dot segment")
			}
		} else {
			if auth := rest[:slash]; auth == "." || auth == ".." {
				return errors.New("resource has a dot segment")
			}
			for _, seg := range strings.Split(rest[slash+1:], "/") {
				if seg == "" {
					return errors.New("resource has an empty path segment")
				}
				if seg == "." || seg == ".." {
					return errors.New("resource has a dot segment")
				}
			}
		}
	} else {
		if rest == "" {
			return errors.New("resource has nothing after the scheme")
		}
		for _, seg := range strings.Split(rest, "/") {
			if seg == "." || seg == ".." {
				return errors.New("resource has a dot segment")
			}
		}
	}
	for i := 0; i < len(r); i++ {
		if r[i] != '%' {
			continue
		}
		if i+2 >= len(r) || !upperHex(r[i+1]) || !upperHex(r[i+2]) {
			return errors.New("resource has a '%' not followed by two uppercase hex digits")
		}
		v := unhex(r[i+1])<<4 | unhex(r[i+2])
		if v < 0x80 && (v >= 'a' && v <= 'z' || v >= 'A' && v <= 'Z' || v >= '0' && v <= '9' || v == '-' || v == '.' || v == '_' || v == '~') {
			return errors.New("resource percent-encodes an unreserved character")
		}
	}
	return nil
}

func upperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// pattern tokens: a literal byte is itself; the wildcards are encoded out of
// byte range.
const (
	tokStar  = 256
	tokDStar = 257
)

func tokenize(p string, buf []int) []int {
	out := buf[:0]
	for i := 0; i < len(p); i++ {
		if p[i] == '*' {
			if i+1 < len(p) && p[i+1] == '*' {
				out = append(out, tokDStar)
				i++
			} else {
				out = append(out, tokStar)
			}
			continue
		}
		out = append(out, int(p[i]))
	}
	return out
}

// Match reports whether resource is matched by pattern (PROTOCOL.md §2):
// '*' matches any run (possibly empty) of characters other than '/', '**'
// any run (possibly empty) of characters; everything else is literal and
// case-sensitive. The match is exact; no normalisation is applied.
func Match(pattern, resource string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == resource
	}
	// Fast path: a literal prefix followed by a single trailing "**".
	if star == len(pattern)-2 && pattern[star+1] == '*' {
		return strings.HasPrefix(resource, pattern[:star])
	}
	if !strings.HasPrefix(resource, pattern[:star]) {
		return false
	}
	pattern, resource = pattern[star:], resource[star:]
	var tb [64]int
	toks := tokenize(pattern, tb[:])
	n := len(resource)
	var ab, bb [MaxResourceBytes + 1]bool
	cur, next := ab[:], bb[:]
	if n+1 > len(cur) {
		cur, next = make([]bool, n+1), make([]bool, n+1)
	} else {
		cur, next = cur[:n+1], next[:n+1]
	}
	cur[0] = true
	for _, t := range toks {
		switch t {
		case tokStar:
			next[0] = cur[0]
			for j := 1; j <= n; j++ {
				next[j] = cur[j] || next[j-1] && resource[j-1] != '/'
			}
		case tokDStar:
			next[0] = cur[0]
			for j := 1; j <= n; j++ {
				next[j] = cur[j] || next[j-1]
			}
		default:
			next[0] = false
			c := byte(t)
			for j := 1; j <= n; j++ {
				next[j] = cur[j-1] && resource[j-1] == c
			}
		}
		cur, next = next, cur
	}
	return cur[n]
}

// Contains reports whether every resource matched by the child pattern is
// matched by the parent pattern (PROTOCOL.md §2), deciding it exactly with a
// DP over pattern tokens: a parent '**' absorbs any run of child tokens, a
// parent '*' absorbs child literals other than '/' and child '*' (never a
// child '**'), a parent literal matches the same child literal. Both patterns
// must be valid (ValidPattern); Contains returns false otherwise.
func Contains(parent, child string) bool {
	if ValidPattern(parent) != nil || ValidPattern(child) != nil {
		return false
	}
	if !strings.Contains(parent, "*") {
		return parent == child
	}
	var pb, cb [64]int
	P := tokenize(parent, pb[:])
	C := tokenize(child, cb[:])
	m := len(P)
	// reach[i*(m+1)+j]: the first i child tokens are absorbed by the first j
	// parent tokens, with parent token j-1 possibly still absorbing.
	reach := make([]bool, (len(C)+1)*(m+1))
	at := func(i, j int) *bool { return &reach[i*(m+1)+j] }
	*at(0, 0) = true
	for i := 0; i <= len(C); i++ {
		for j := 0; j <= m; j++ {
			if !*at(i, j) {
				continue
			}
			if j == m {
				continue
			}
			switch p := P[j]; p {
			case tokDStar:
				*at(i, j+1) = true // absorb nothing more
				if i < len(C) {
					*at(i+1, j) = true // absorb child token i, stay
				}
			case tokStar:
				*at(i, j+1) = true
				if i < len(C) && (C[i] == tokStar || C[i] < 256 && C[i] != '/') {
					*at(i+1, j) = true
				}
			default:
				if i < len(C) && C[i] == p {
					*at(i+1, j+1) = true
				}
			}
		}
	}
	return *at(len(C), m)
}

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
			for seg := range strings.SplitSeq(rest[slash+1:], "/") {
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
		for seg := range strings.SplitSeq(rest, "/") {
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

// maxContainStates bounds the product automaton Contains explores; beyond
// it Contains answers false (not contained: a delegation is refused, never
// widened). Real patterns stay far below it.
const maxContainStates = 1 << 16

// Contains reports whether every resource matched by the child pattern is
// matched by the parent pattern (PROTOCOL.md §2), exactly. Both patterns are
// read as automata over positions in their token lists; Contains explores
// the product of the child's and the parent's subset automata over the
// characters that can make a difference (every literal of either pattern,
// '/', and one stand-in for every other character) and reports false iff
// some string reaches an accepting child state and a non-accepting parent
// state. (The token-alignment DP suggested in PROTOCOL.md §2 is not exact:
// it says "**/*" does not contain "/**", yet every string starting with '/'
// contains a '/'.) Both patterns must be valid (ValidPattern); Contains
// returns false otherwise.
func Contains(parent, child string) bool {
	if ValidPattern(parent) != nil || ValidPattern(child) != nil {
		return false
	}
	if !strings.Contains(parent, "*") {
		return parent == child
	}
	if parent == child {
		return true
	}
	// Fast path: parent is a literal prefix L followed by "**". Every child
	// wildcard can produce a character that leaves L, so the child is
	// contained iff its literal prefix starts with L.
	if star := strings.IndexByte(parent, '*'); star == len(parent)-2 && parent[star+1] == '*' {
		lit := child
		if i := strings.IndexByte(child, '*'); i >= 0 {
			lit = child[:i]
		}
		return strings.HasPrefix(lit, parent[:star])
	}
	P := tokenize(parent, nil)
	C := tokenize(child, nil)
	// The alphabet classes.
	var used [256]bool
	var alpha []int
	for _, toks := range [][]int{P, C} {
		for _, t := range toks {
			if t < 256 && !used[t] {
				used[t] = true
				alpha = append(alpha, t)
			}
		}
	}
	if !used['/'] {
		alpha = append(alpha, '/')
	}
	alpha = append(alpha, tokStar) // stands for any character no pattern names
	pw, cw := (len(P)+64)/64, (len(C)+64)/64
	type state struct{ c, p []uint64 }
	key := func(s state) string {
		b := make([]byte, 0, 8*(len(s.c)+len(s.p)))
		for _, w := range append(append([]uint64(nil), s.c...), s.p...) {
			b = append(b, byte(w), byte(w>>8), byte(w>>16), byte(w>>24), byte(w>>32), byte(w>>40), byte(w>>48), byte(w>>56))
		}
		return string(b)
	}
	start := state{make([]uint64, cw), make([]uint64, pw)}
	start.c[0], start.p[0] = 1, 1
	closure(C, start.c)
	closure(P, start.p)
	seen := map[string]bool{key(start): true}
	queue := []state{start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if has(s.c, len(C)) && !has(s.p, len(P)) {
			return false
		}
		for _, x := range alpha {
			nc := step(C, s.c, x)
			if isEmpty(nc) {
				continue // the child matches nothing on this path
			}
			ns := state{nc, step(P, s.p, x)}
			k := key(ns)
			if seen[k] {
				continue
			}
			if len(seen) >= maxContainStates {
				return false
			}
			seen[k] = true
			queue = append(queue, ns)
		}
	}
	return true
}

func has(set []uint64, i int) bool { return set[i/64]&(1<<(i%64)) != 0 }

func isEmpty(set []uint64) bool {
	for _, w := range set {
		if w != 0 {
			return false
		}
	}
	return true
}

// closure adds, for every position i in set whose token is a wildcard,
// position i+1 (a wildcard may match the empty run).
func closure(toks []int, set []uint64) {
	for i := 0; i < len(toks); i++ {
		if has(set, i) && toks[i] >= 256 {
			set[(i+1)/64] |= 1 << ((i + 1) % 64)
		}
	}
}

// step returns the positions reachable from set by reading one character of
// class x (a literal byte, or tokStar for "a character no pattern names").
func step(toks []int, set []uint64, x int) []uint64 {
	out := make([]uint64, len(set))
	for i := 0; i < len(toks); i++ {
		if !has(set, i) {
			continue
		}
		switch t := toks[i]; {
		case t == tokDStar:
			out[i/64] |= 1 << (i % 64)
		case t == tokStar:
			if x != '/' {
				out[i/64] |= 1 << (i % 64)
			}
		case t == x:
			out[(i+1)/64] |= 1 << ((i + 1) % 64)
		}
	}
	closure(toks, out)
	return out
}

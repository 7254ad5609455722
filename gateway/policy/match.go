package policy

import "strings"

// Pattern semantics (PROTOCOL.md §2): `*` matches any run of characters
// without '/', `**` any run including '/'; everything else is literal and
// case-sensitive. The tokens package has its own matcher for token scopes;
// policy keeps a local one so that it does not depend on tokens.

type tokKind uint8

const (
	tokLit tokKind = iota
	tokStar
	tokDStar
)

type tok struct {
	kind tokKind
	lit  string
}

// pattern is a compiled resource pattern.
type pattern struct {
	src      string
	toks     []tok
	literal  bool // no wildcard: match is string equality
	literals int  // number of literal (non-wildcard) characters: the specificity
}

func compilePattern(p string) pattern {
	cp := pattern{src: p}
	for i := 0; i < len(p); {
		if p[i] == '*' {
			if i+1 < len(p) && p[i+1] == '*' {
				// Adjacent stars beyond two collapse: `***` is `**`.
				j := i
				for j < len(p) && p[j] == '*' {
					j++
				}
				cp.toks = append(cp.toks, tok{kind: tokDStar})
				i = j
				continue
			}
			cp.toks = append(cp.toks, tok{kind: tokStar})
			i++
			continue
		}
		j := strings.IndexByte(p[i:], '*')
		if j < 0 {
			j = len(p) - i
		}
		cp.toks = append(cp.toks, tok{kind: tokLit, lit: p[i : i+j]})
		cp.literals += j
		i += j
	}
	cp.literal = len(cp.toks) <= 1 && (len(cp.toks) == 0 || cp.toks[0].kind == tokLit)
	return cp
}

// match reports whether resource r is matched by the pattern. It runs in
// O(len(toks) × len(r)) time over a reachable-position set, so no pattern can
// make it exponential.
func (p *pattern) match(r string) bool {
	if p.literal {
		return r == p.src
	}
	// Fast path: a literal prefix must match.
	if p.toks[0].kind == tokLit && !strings.HasPrefix(r, p.toks[0].lit) {
		return false
	}
	// and a literal suffix.
	if last := p.toks[len(p.toks)-1]; last.kind == tokLit && !strings.HasSuffix(r, last.lit) {
		return false
	}
	var buf [2][520]bool
	var cur, next []bool
	if len(r)+1 <= len(buf[0]) {
		cur, next = buf[0][:len(r)+1], buf[1][:len(r)+1]
	} else {
		cur, next = make([]bool, len(r)+1), make([]bool, len(r)+1)
	}
	cur[0] = true
	for _, t := range p.toks {
		clear(next)
		any := false
		switch t.kind {
		case tokLit:
			for i, ok := range cur {
				if ok && strings.HasPrefix(r[i:], t.lit) {
					next[i+len(t.lit)] = true
					any = true
				}
			}
		case tokStar:
			// One left-to-right sweep: a reachable start extends over every
			// following non-'/' character.
			carry := false
			for j := 0; j < len(cur); j++ {
				if cur[j] {
					carry = true
				}
				if carry {
					next[j] = true
					any = true
				}
				if j < len(r) && r[j] == '/' {
					carry = false
				}
			}
		case tokDStar:
			for i, ok := range cur {
				if ok {
					for j := i; j < len(next); j++ {
						next[j] = true
					}
					any = true
					break
				}
			}
		}
		if !any {
			return false
		}
		cur, next = next, cur
	}
	return cur[len(r)]
}

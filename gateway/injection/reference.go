package injection

import (
	"sync/atomic"
	"unicode/utf8"
)

// reference selects the reference implementation of the stages that were
// rewritten for speed, kept as they were so that the differential tests
// (reference_test.go, FuzzScanEquivalent) can prove the fast versions give
// the same findings and normal forms on every input: the literal pass's
// sequential walk with per-position outputs (walkSeq, outputsRef), the
// concept rules' search (findRef), the requires binary search (reqWithin),
// the letter-spacing pre-check (mayUnspaceRef), the sentence-end check
// (crossesSentenceRef); and, switched where they are, the byte-by-byte
// paths that the eight-byte ones of normalisation (plain8), the leetspeak,
// percent-escape and encoded-run searches replace, and the NFKD iterator
// for the CJK and kana runes now taken through tables. Production code never
// sets it; reading it is one load.
var reference atomic.Bool

// outputsRef is the reference of outputs (the differential tests).
func (s *Scanner) outputsRef(a *automaton, st *state, text []byte, state, i int, hits, reqs []hit, satisfied uint64) ([]hit, []hit, uint64) {
	for _, id := range a.outs[a.outStart[state]:a.outStart[state+1]] {
		start := i + 1 - a.lens[id]
		for _, cl := range s.litConc[id] {
			if cl.flags&litWordStart != 0 && start > 0 && isAlnum(text[start-1]) ||
				cl.flags&litWordEnd != 0 && i+1 < len(text) && isAlnum(text[i+1]) ||
				cl.flags&litStrictEnd != 0 && i+1 < len(text) && (isAlnum(text[i+1]) || text[i+1] >= utf8.RuneSelf) ||
				cl.flags&litStrictStart != 0 && start > 0 && (isAlnum(text[start-1]) || text[start-1] >= utf8.RuneSelf) {
				continue
			}
			if cl.flags&litWordEnd == 0 && (cl.c == cDisable || cl.c == cExfilVerb) && text[start] < utf8.RuneSelf && participle(text, start, i+1) {
				continue
			}
			st.chits = append(st.chits, cHit{c: cl.c, start: int32(start), end: int32(i + 1), lit: id, scale: scriptScale(text[start]), objFirst: cl.flags&litObjectFirst != 0})
		}
		for _, p := range s.litReq[id] {
			satisfied |= 1 << p
			reqs = append(reqs, hit{pat: p, start: int32(start), end: int32(i + 1)})
		}
		for _, p := range s.litPats[id] {
			if s.pats[p].boundary && start > 0 && isAlnum(text[start-1]) {
				continue
			}
			hits = append(hits, hit{pat: p, start: int32(start), end: int32(i + 1)})
		}
	}
	return hits, reqs, satisfied
}

// findRef is the reference of findIn: it looks for a word of the first
// group with, within the window, a word of every other group. hits are
// sorted by start.
func (r *conceptRule) findRef(hits []cHit, text []byte) (int32, int32, bool) {
	reach := int32(r.window * 3) // the largest script scale
	for i, h0 := range hits {
		if !inGroup(h0.c, r.groups[0]) {
			continue
		}
		if r.negatable && negated(hits, i) {
			continue
		}
		lo, hi := h0.start, h0.end
		all := true
		for _, g := range r.groups[1:] {
			found := false
			near := func(j int) bool {
				h := hits[j]
				if !inGroup(h.c, g) || h.start == h0.start && h.end == h0.end || h0.objFirst && h.start >= h0.start {
					return false
				}
				if r.negatable && !r.verbOnly && negated(hits, j) {
					return false // "no secrets", "keine Geheimnisse"
				}
				d := h.start - h0.start
				if d < 0 {
					d = -d
				}
				if int(d) <= r.window*int(max(h0.scale, h.scale)) && (text == nil || r.sentences || !crossesSentence(text, min(h0.start, h.start), max(h0.end, h.end))) {
					lo, hi = min(lo, h.start), max(hi, h.end)
					return true
				}
				return false
			}
			for j := i; j < len(hits) && hits[j].start-h0.start <= reach && !found; j++ {
				found = near(j)
			}
			for j := i - 1; j >= 0 && h0.start-hits[j].start <= reach && !found; j-- {
				found = near(j)
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			return lo, hi, true
		}
	}
	return 0, 0, false
}

// mayUnspaceRef is the reference of mayUnspace.
func mayUnspaceRef(b []byte) bool {
	run, ts := 0, 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != ' ' {
			continue
		}
		tl := i - ts
		if tl == 1 {
			run++
			if run >= 4 {
				return true
			}
		} else {
			run = 0
			if tl >= 7 && isSpacer(b[ts+1]) && b[ts+3] == b[ts+1] && b[ts+5] == b[ts+1] {
				return true
			}
			for k := ts; tl >= 7 && k+5 < i; k++ {
				if isSpacer(b[k+1]) && b[k+3] == b[k+1] && b[k+5] == b[k+1] && isAlnum(b[k]) && isAlnum(b[k+2]) {
					return true
				}
			}
		}
		ts = i + 1
	}
	return false
}

// crossesSentenceRef is the reference of crossesSentence.
func crossesSentenceRef(text []byte, lo, hi int32) bool {
	for i := lo; i < hi && int(i) < len(text); i++ {
		switch c := text[i]; c {
		case '.', '!', '?', ';':
			// followed by a space, the end, or another script (a full-width
			// "；" or "！" becomes ASCII and CJK text follows without a space)
			if int(i)+1 >= len(text) || text[i+1] == ' ' || text[i+1] >= utf8.RuneSelf {
				return true
			}
		case 0xe3: // 。 U+3002 = e3 80 82
			if int(i)+2 < len(text) && text[i+1] == 0x80 && text[i+2] == 0x82 {
				return true
			}
		case 0xe0: // । U+0964 = e0 a5 a4
			if int(i)+2 < len(text) && text[i+1] == 0xa5 && text[i+2] == 0xa4 {
				return true
			}
		case 0xd8: // ؟ U+061F = d8 9f, ؛ U+061B = d8 9b
			if int(i)+1 < len(text) && (text[i+1] == 0x9f || text[i+1] == 0x9b) {
				return true
			}
		}
	}
	return false
}

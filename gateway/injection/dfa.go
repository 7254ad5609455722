package injection

import (
	"math/bits"
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// dfa decides whether an anchored pattern matches a prefix of a window, and
// nothing else: it is the cheap "no" in front of regexp.FindIndex. Go's
// regexp costs ≈ 0.5–4 µs per anchored call even when it fails at the first
// byte (bit-state reset, machine setup, backtracking over the alternations),
// and benign prose has hundreds of trigger words per 4 KB. The DFA is built
// once per pattern at New by subset construction over the pattern's compiled
// regexp/syntax program, so it accepts exactly the same language; only when
// it reports a match does the scanner call FindIndex, whose leftmost-first
// match gives the excerpt. A benign window therefore costs one table walk
// that stops at the first byte where no match is possible any more.
//
// Supported programs (checked by newDFA, which returns nil otherwise and the
// pattern keeps using regexp alone): no case folding, no empty-width
// assertions other than begin/end of text, and character classes that treat
// every non-ASCII rune alike (true of `[^a-z0-9]`, `.`, `[^}]` …), so that
// the input alphabet is the ASCII bytes in equivalence classes plus one class
// for all non-ASCII runes.
//
// States are built breadth-first from the start up to maxDFAStates; a
// pattern whose DFA is larger (counted repetitions such as `[^)\s]{0,200}`
// make it so) keeps the states nearest the start and marks the transitions
// into the rest as unknown. Reaching an unknown state makes match answer
// "maybe", and the regexp decides. Benign windows die within a few bytes of
// the trigger, well inside the built part.
type dfa struct {
	class    [utf8.RuneSelf]uint8 // ASCII byte → input class
	nonASCII int                  // input class of every rune ≥ 0x80 (and of invalid bytes, read as U+FFFD like regexp does)
	nclass   int
	// trans[state*nclass+class] is the next state, dead (no match is
	// possible any more) or unknown (beyond maxDFAStates). State 0 is the
	// start (at the beginning of text).
	trans []int16
	// accept[state]: the pattern has matched a prefix ending here;
	// acceptEnd[state]: it matches when the window ends here (`$`).
	accept, acceptEnd []bool
	truncated         bool // some transitions are unknown
}

const (
	dead    = -1
	unknown = -2
)

// maxDFAStates bounds the states built per pattern (table of at most
// maxDFAStates × classes × 2 bytes, ≤ 330 KB; 41 of the 51 built-in
// patterns need fewer).
const maxDFAStates = 4000

// match reports false only if the anchored regexp's FindIndex(text) is nil
// (no match at the start of text). It reports true when there is a match,
// and — only if d.truncated — when the walk reaches an unbuilt state.
func (d *dfa) match(text []byte) bool {
	s := int32(0)
	K := int32(d.nclass)
	for i := 0; i < len(text); {
		if d.accept[s] {
			return true
		}
		c := text[i]
		var cl int32
		if c < utf8.RuneSelf {
			cl = int32(d.class[c])
			i++
		} else {
			_, n := utf8.DecodeRune(text[i:])
			i += n
			cl = int32(d.nonASCII)
		}
		s = int32(d.trans[s*K+cl])
		if s < 0 {
			return s == unknown
		}
	}
	return d.accept[s] || d.acceptEnd[s]
}

// newDFA builds the DFA of the regular expression expr (anchored at its
// start by the caller's `^`), or returns nil when the program uses a feature
// the DFA does not model.
func newDFA(expr string) *dfa {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	var runeInsts []int // pcs of the rune-consuming instructions
	for pc := range prog.Inst {
		in := &prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			if syntax.Flags(in.Arg)&syntax.FoldCase != 0 || !uniformNonASCII(in) {
				return nil
			}
			runeInsts = append(runeInsts, pc)
		case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			runeInsts = append(runeInsts, pc)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
				return nil
			}
		case syntax.InstAlt, syntax.InstAltMatch, syntax.InstCapture, syntax.InstNop, syntax.InstMatch, syntax.InstFail:
		default:
			return nil
		}
	}
	d := &dfa{}
	// Input classes: ASCII bytes with the same behaviour under every rune
	// instruction share a class; all non-ASCII runes form one more class.
	reps := []rune{}
	sigs := map[string]int{}
	for b := 0; b < utf8.RuneSelf; b++ {
		sig := make([]byte, len(runeInsts))
		for k, pc := range runeInsts {
			if prog.Inst[pc].MatchRune(rune(b)) {
				sig[k] = 1
			}
		}
		cl, ok := sigs[string(sig)]
		if !ok {
			cl = len(reps)
			sigs[string(sig)] = cl
			reps = append(reps, rune(b))
		}
		d.class[b] = uint8(cl)
	}
	d.nonASCII = len(reps)
	reps = append(reps, utf8.RuneError)
	d.nclass = len(reps)

	if d.nclass > 64 {
		return nil
	}
	// classes[pc]: bit c is set if rune instruction pc matches class c.
	classes := make([]uint64, len(prog.Inst))
	hasEnd := false
	for pc := range prog.Inst {
		in := &prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			for c, r := range reps {
				if in.MatchRune(r) {
					classes[pc] |= 1 << c
				}
			}
		case syntax.InstEmptyWidth:
			hasEnd = hasEnd || syntax.EmptyOp(in.Arg)&syntax.EmptyEndText != 0
		}
	}

	// Subset construction, breadth-first. A state is the set of pcs reached
	// after the last consumed rune, before following empty transitions, plus
	// whether it is at the beginning of the text (only the start state).
	var sets [][]uint32
	var starts []bool
	ids := map[string]int16{}
	var kbuf []byte
	add := func(set []uint32, atStart bool) int16 {
		kbuf = kbuf[:0]
		for _, v := range set {
			kbuf = append(kbuf, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		}
		if atStart {
			kbuf = append(kbuf, 1)
		}
		if id, ok := ids[string(kbuf)]; ok {
			return id
		}
		if len(sets) >= maxDFAStates {
			d.truncated = true
			return unknown
		}
		id := int16(len(sets))
		ids[string(kbuf)] = id
		sets = append(sets, slices.Clone(set))
		starts = append(starts, atStart)
		return id
	}
	seen := make([]uint32, len(prog.Inst))
	gen := uint32(0)
	var stack, runes []uint32
	// closure follows empty transitions from set under the given
	// assertions; it returns the rune instructions reached (in a buffer
	// reused by the next call) and whether InstMatch was reached.
	closure := func(set []uint32, ops syntax.EmptyOp) ([]uint32, bool) {
		gen++
		matched := false
		runes = runes[:0]
		stack = append(stack[:0], set...)
		for len(stack) > 0 {
			pc := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[pc] == gen {
				continue
			}
			seen[pc] = gen
			in := &prog.Inst[pc]
			switch in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				stack = append(stack, in.Arg, in.Out)
			case syntax.InstCapture, syntax.InstNop:
				stack = append(stack, in.Out)
			case syntax.InstEmptyWidth:
				if syntax.EmptyOp(in.Arg)&^ops == 0 {
					stack = append(stack, in.Out)
				}
			case syntax.InstMatch:
				matched = true
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				runes = append(runes, pc)
			}
		}
		return runes, matched
	}
	next := make([][]uint32, d.nclass)
	add([]uint32{uint32(prog.Start)}, true)
	for s := 0; s < len(sets); s++ {
		ops := syntax.EmptyOp(0)
		if starts[s] {
			ops = syntax.EmptyBeginText
		}
		matchedEnd := false
		if hasEnd {
			_, matchedEnd = closure(sets[s], ops|syntax.EmptyEndText)
		}
		rs, matched := closure(sets[s], ops)
		d.accept = append(d.accept, matched)
		d.acceptEnd = append(d.acceptEnd, matched || matchedEnd)
		for c := range next {
			next[c] = next[c][:0]
		}
		for _, pc := range rs {
			out := prog.Inst[pc].Out
			for m := classes[pc]; m != 0; m &= m - 1 {
				c := bits.TrailingZeros64(m)
				next[c] = append(next[c], out)
			}
		}
		for c := range next {
			if len(next[c]) == 0 {
				d.trans = append(d.trans, dead)
				continue
			}
			slices.Sort(next[c])
			next[c] = slices.Compact(next[c])
			d.trans = append(d.trans, add(next[c], false))
		}
	}
	return d
}

// uniformNonASCII reports whether a rune instruction (without case folding)
// matches either every rune ≥ 0x80 or none.
func uniformNonASCII(in *syntax.Inst) bool {
	if len(in.Rune) == 1 || in.Op == syntax.InstRune1 {
		return in.Rune[0] < utf8.RuneSelf
	}
	// in.Rune is a sorted list of [lo, hi] pairs.
	covered := rune(utf8.RuneSelf) // next rune ≥ 0x80 not yet known to be covered
	any := false
	for i := 0; i+1 < len(in.Rune); i += 2 {
		lo, hi := in.Rune[i], in.Rune[i+1]
		if hi < utf8.RuneSelf {
			continue
		}
		any = true
		if lo <= covered && hi >= covered {
			covered = hi + 1
		}
	}
	return !any || covered > utf8.MaxRune
}

package injection

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// Concept rules: the multilingual, paraphrase-tolerant half of the scanner.
//
// The regular-expression patterns (patterns.go) describe English sentences.
// A concept rule instead names two or three concepts (lexicon.go: "an
// override verb", "instructions", "earlier/system"; "switch off", "a safety
// function"; "send/publish", "a secret") and fires when a word of every
// concept occurs within a window of the normalised text, in any order (word
// order differs across languages: "ignore the previous instructions",
// "vorherige Anweisungen ignorieren", "以前の指示を無視して"). The words come
// from the same Aho–Corasick pass as the pattern triggers, so a rule costs
// nothing on text that lacks its concepts.
//
// Rules marked negatable skip an occurrence of their first concept that a
// negation governs: "do not disable the safety limits", "nicht
// deaktivieren", "不要关闭", "無効にしないで" stay allowed. The negation must
// end at most negPre bytes before the word or start at most negPost bytes
// after it (Japanese, Korean, Hindi and German put it after the verb).
//
// Because rules work on word positions, they also see across the strings of
// one params document: the scanner keeps the concept words near the end of
// the strings already scanned and tries the rules on them together with the
// words at the start of the next string (an instruction split over two
// fields).
type conceptRule struct {
	id, category string
	groups       [][]int // every group needs a word of one of its concepts
	window       int     // bytes between the first group's word and each other group's word
	negatable    bool
	verbOnly     bool     // a negation before an object word does not count ("no approval" is the attack)
	sentences    bool     // the words may lie in different sentences (a header, then its claim)
	masks        []uint64 // per group, the bit set of its concepts (set at init)
}

func init() {
	for i := range conceptRules {
		r := &conceptRules[i]
		r.masks = make([]uint64, len(r.groups))
		for g, cs := range r.groups {
			for _, c := range cs {
				if c < 0 || c >= 64 {
					panic("injection: concept ids must fit a 64-bit set")
				}
				r.masks[g] |= 1 << c
			}
		}
	}
}

const (
	negPre  = 8
	negPost = 10
	// seamReach bounds how far back concept words of earlier strings are
	// kept for cross-string matching (≥ every rule window).
	seamReach = 160
)

var conceptRules = []conceptRule{
	{id: "ml.override", category: CategoryInstructionOverride, window: 90,
		groups: [][]int{{cOverride}, {cInstr}, {cPrior}}},
	{id: "ml.instructions-void", category: CategoryInstructionOverride, window: 90,
		groups: [][]int{{cVoid}, {cInstr}, {cPrior}}},
	{id: "ml.real-goal", category: CategoryInstructionOverride, window: 40,
		groups: [][]int{{cReal}, {cTask}, {cYou}}},
	{id: "ml.handover-outside", category: CategoryInstructionOverride, window: 90, negatable: true, verbOnly: true,
		groups: [][]int{{cDeliver}, {cOutsider}}},
	{id: "ml.plan-change-harm", category: CategoryInstructionOverride, window: 120,
		groups: [][]int{{cPlanChange}, {cHarm}}},
	{id: "ml.obey-only-me", category: CategoryRoleHijack, window: 60,
		groups: [][]int{{cObey}, {cOnlyMe}}},
	{id: "ml.mode-switch", category: CategoryRoleHijack, window: 60,
		groups: [][]int{{cYouNow}, {cMode}}},
	{id: "ml.rules-do-not-apply", category: CategoryRoleHijack, window: 80,
		groups: [][]int{{cNotApply}, {cSafety, cInstr, cAuthority}, {cYou, cYouNow}}},
	{id: "ml.reveal-instructions", category: CategoryExfiltration, window: 90, negatable: true,
		groups: [][]int{{cExfilVerb}, {cInstr}, {cVerbatim}}},
	{id: "ml.stop-following-safety", category: CategoryInstructionOverride, window: 60,
		groups: [][]int{{cStopFollowing, cOverride}, {cSafetyRules}}},
	{id: "ml.interlock-never-trips", category: CategorySafetyBypass, window: 60,
		groups: [][]int{{cNeverTrip}, {cSafety}}},
	{id: "ml.priority-over-instructions", category: CategoryInstructionOverride, window: 90,
		groups: [][]int{{cPriority}, {cInstr}, {cYou}}},
	{id: "ml.safety-margin-zero", category: CategorySafetyBypass, window: 60,
		groups: [][]int{{cZero}, {cSafetyMargin}}},
	{id: "ml.enter-human-zone", category: CategorySafetyBypass, window: 60, negatable: true, verbOnly: true,
		groups: [][]int{{cEnter}, {cHumanZone}}},
	{id: "ml.disable-safety", category: CategorySafetyBypass, window: 60, negatable: true,
		groups: [][]int{{cDisable}, {cSafety}}},
	{id: "ml.turn-safety-off", category: CategorySafetyBypass, window: 40, negatable: true,
		groups: [][]int{{cTurn}, {cSafety}, {cOff}}},
	{id: "ml.speed-near-people", category: CategorySafetyBypass, window: 60, negatable: true,
		groups: [][]int{{cMaxSpeed}, {cPeople}}},
	{id: "ml.raise-limit", category: CategorySafetyBypass, window: 50, negatable: true,
		groups: [][]int{{cRaise}, {cLimit}}},
	{id: "ml.people-in-path", category: CategorySafetyBypass, window: 90,
		groups: [][]int{{cEvenIf}, {cPeople}, {cContinue}}},
	{id: "ml.no-approval", category: CategorySafetyBypass, window: 45, negatable: true, verbOnly: true,
		groups: [][]int{{cNoNeed}, {cApproval}}},
	{id: "ml.disclose-secret", category: CategoryExfiltration, window: 80, negatable: true,
		groups: [][]int{{cExfilVerb}, {cSecret}}},
	{id: "ml.chat-role", category: CategoryRoleHijack,
		groups: [][]int{{cRoleStrong}}},
	{id: "ml.fake-transcript", category: CategoryRoleHijack, window: 240, sentences: true,
		groups: [][]int{{cAssistantTurn}, {cUserTurn}}},
	{id: "ml.role-authority", category: CategoryRoleHijack, window: 160, sentences: true,
		groups: [][]int{{cRoleWeak}, {cAuthority}}},
	{id: "ml.config-safety-off", category: CategorySafetyBypass, window: 40,
		groups: [][]int{{cCfgSafety}, {cCfgEnabled}, {cCfgFalse}}},
}

// cHit is one concept word: concept, byte range in the normalised text (or
// in the joined coordinates of the seam matcher), and its lexicon literal.
type cHit struct {
	c          int32
	start, end int32
	lit        int32
	scale      int32 // bytes per letter of the word's script (windows are stretched by it)
	objFirst   bool  // litObjectFirst
}

// scriptScale is the UTF-8 length class of the letter that starts a word:
// 1 for ASCII, 2 for Cyrillic/Greek/Arabic/Hebrew, 3 for the rest
// (Devanagari, Hangul jamo, CJK, kana).
func scriptScale(c byte) int32 {
	switch {
	case c < 0x80:
		return 1
	case c < 0xe0:
		return 2
	}
	return 3
}

// Literal flags of concept words.
const (
	litWordStart   = 1 << iota // counts only at the start of a word
	litWordEnd                 // counts only at the end of a word
	litStrictEnd               // next byte is white space, ASCII punctuation or the end
	litObjectFirst             // the other words of a rule precede this verb
	litStrictStart             // previous byte is white space, ASCII punctuation or the start
)

// conceptLiterals returns the normalised lexicon: literal → concepts and
// flags.
func conceptLiterals() (lits []string, conc [][]int32, flags []uint8) {
	idx := map[string]int{}
	add := func(c int, entry string) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return
		}
		var fl uint8
		if strings.HasPrefix(entry, "<") {
			fl |= litObjectFirst
			entry = entry[1:]
		}
		if strings.HasPrefix(entry, "^") {
			fl |= litStrictStart
			entry = entry[1:]
		}
		if strings.HasSuffix(entry, "$") {
			fl |= litStrictEnd
			entry = strings.TrimSuffix(entry, "$")
		}
		stem := strings.HasSuffix(entry, "*")
		entry = strings.TrimSuffix(entry, "*")
		n := Normalize(entry)
		if n == "" {
			return
		}
		if isAlnum(n[0]) {
			fl |= litWordStart
			if !stem && isAlnum(n[len(n)-1]) {
				fl |= litWordEnd
			}
		}
		i, ok := idx[n+string(rune('0'+fl))]
		if !ok {
			i = len(lits)
			idx[n+string(rune('0'+fl))] = i
			lits = append(lits, n)
			conc = append(conc, nil)
			flags = append(flags, fl)
		}
		for _, have := range conc[i] {
			if have == int32(c) {
				return
			}
		}
		conc[i] = append(conc[i], int32(c))
	}
	for c := 0; c < numConcepts; c++ {
		for _, e := range strings.Split(lexicon[c], "|") {
			add(c, e)
		}
	}
	for _, e := range roleStrong {
		add(cRoleStrong, e)
	}
	return lits, conc, flags
}

// conceptMatch tries the concept rules on hits (in any order of start) and
// returns the index of the first rule that fires and the byte range of its
// words. Rules are tried in table order. With text (the normalised string
// the hits come from), the words of a match must lie in one sentence.
func conceptMatch(hits []cHit, text []byte) (rule int, lo, hi int32, ok bool) {
	var present uint64
	for _, h := range hits {
		present |= 1 << h.c
	}
	if present == 0 {
		return 0, 0, 0, false
	}
	// byConcept[c] is the set of indices of the words of concept c, so
	// that a rule visits only the words of its first group.
	var byConcept *[64][conceptIndexMax / 64]uint64 // cleared only when used
	if len(hits) >= conceptIndexMin && len(hits) <= conceptIndexMax && !reference.Load() {
		byConcept = new([64][conceptIndexMax / 64]uint64)
		for i, h := range hits {
			if uint32(h.c) < 64 {
				byConcept[h.c][i>>6] |= 1 << (i & 63)
			}
		}
	}
	for ri := range conceptRules {
		r := &conceptRules[ri]
		if !r.allPresent(present) {
			continue
		}
		if lo, hi, ok := r.findIn(hits, text, byConcept); ok && !warned(hits, text, lo, hi) {
			return ri, lo, hi, true
		}
	}
	return 0, 0, 0, false
}

func (r *conceptRule) allPresent(present uint64) bool {
	for _, m := range r.masks {
		if present&m == 0 {
			return false
		}
	}
	return true
}

func inGroup(c int32, g []int) bool {
	for _, x := range g {
		if int32(x) == c {
			return true
		}
	}
	return false
}

// conceptMatch indexes the words by concept when there are at least
// conceptIndexMin (fewer are filtered faster than the index is cleared)
// and at most conceptIndexMax.
const (
	conceptIndexMin = 32
	conceptIndexMax = 256
)

// findIn looks for a word of the first group with, within the window, a word
// of every other group. hits are sorted by start. byConcept, if not nil,
// holds the indices of the words of each concept (conceptMatch): the words
// of the first group are then visited from it, in the same order.
func (r *conceptRule) findIn(hits []cHit, text []byte, byConcept *[64][conceptIndexMax / 64]uint64) (int32, int32, bool) {
	if reference.Load() {
		return r.findRef(hits, text)
	}
	m0 := r.masks[0]
	if byConcept == nil {
		for i := range hits {
			if inMask(hits[i].c, m0) {
				if lo, hi, ok := r.findAt(hits, text, i); ok {
					return lo, hi, true
				}
			}
		}
		return 0, 0, false
	}
	var first [conceptIndexMax / 64]uint64
	for m := m0; m != 0; m &= m - 1 {
		c := bits.TrailingZeros64(m)
		for w := range first {
			first[w] |= byConcept[c][w]
		}
	}
	for w, x := range first {
		for ; x != 0; x &= x - 1 {
			if lo, hi, ok := r.findAt(hits, text, w*64+bits.TrailingZeros64(x)); ok {
				return lo, hi, true
			}
		}
	}
	return 0, 0, false
}

// findAt is findIn for the word hits[i] of the first group.
func (r *conceptRule) findAt(hits []cHit, text []byte, i int) (int32, int32, bool) {
	reach := int32(r.window * 3) // the largest script scale
	h0 := hits[i]
	if r.negatable && negated(hits, i) {
		return 0, 0, false
	}
	lo, hi := h0.start, h0.end
	all := true
	for _, g := range r.masks[1:] {
		found := false
		near := func(j int) bool {
			h := hits[j]
			if !inMask(h.c, g) || h.start == h0.start && h.end == h0.end || h0.objFirst && h.start >= h0.start {
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
	return 0, 0, false
}

// sentenceByte marks the bytes crossesSentence looks at: . ! ? ; and the
// lead bytes of 。 । ؟ ؛.
var sentenceByte = [256]bool{'.': true, '!': true, '?': true, ';': true, 0xe3: true, 0xe0: true, 0xd8: true}

// inMask is inGroup on the group's bit set (conceptRule.masks).
func inMask(c int32, m uint64) bool { return uint32(c) < 64 && m>>uint(c)&1 != 0 }

// sortByStart insertion-sorts concept words by start (the literal pass
// delivers them by end, so they are almost sorted).
func sortByStart(h []cHit) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].start < h[j-1].start; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

// crossesSentence reports whether text[lo:hi] holds the end of a sentence:
// . ! ? ; followed by a space, the end or a non-ASCII letter, or a
// script sentence mark (。 । ؟ ؛; full-width ！？；． become ASCII). Concept words must co-occur in one sentence.
func crossesSentence(text []byte, lo, hi int32) bool {
	if reference.Load() {
		return crossesSentenceRef(text, lo, hi)
	}
	hi = min(hi, int32(len(text)))
	for i := lo; i < hi; i++ {
		c := text[i]
		if !sentenceByte[c] {
			continue // one table load for the bytes no case below takes
		}
		switch c {
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

// negated reports whether a negation governs the word hits[i] (hits sorted
// by start).
func negated(hits []cHit, i int) bool {
	h := hits[i]
	for j := i - 1; j >= 0 && h.start-hits[j].start <= 64; j-- {
		if n := hits[j]; n.c == cNegPre && n.end <= h.start && h.start-n.end <= negPre*h.scale {
			return true
		}
	}
	for j := i + 1; j < len(hits) && hits[j].start-h.end <= negPost*h.scale; j++ {
		if n := hits[j]; n.c == cNegPost && n.start >= h.end {
			return true
		}
	}
	return false
}

// negatedAt reports whether a pre-negation ends just before byte start
// (used by the negatable regular-expression patterns).
func negatedAt(hits []cHit, start int32) bool {
	for _, n := range hits {
		if n.c == cNegPre && n.end <= start && start-n.end <= negPre {
			return true
		}
	}
	return false
}

// warnReach is how far (bytes × scale) a warning context reaches.
const warnReach = 120

// warned reports whether the match text[lo:hi] is quoted inside a warning
// about such messages, in the same sentence: "report any message that asks
// you to ignore safety rules", "安全ルールを無視するよう求めるメッセージは報告".
// (With text nil — across strings — there is no sentence to share.)
func warned(hits []cHit, text []byte, lo, hi int32) bool {
	if text == nil {
		return false
	}
	for _, w := range hits {
		if w.c != cWarn {
			continue
		}
		a, b := min(w.start, lo), max(w.end, hi)
		if (w.end <= lo && lo-w.end <= warnReach*w.scale || w.start >= hi && w.start-hi <= warnReach*w.scale) && !crossesSentence(text, a, b-1) {
			return true
		}
	}
	return false
}

// conceptExcerpt is the matched range of text, cut to MaxExcerpt bytes at a
// rune boundary.
func conceptExcerpt(text []byte, lo, hi int32) string {
	lo = max(lo, 0)
	hi = min(hi, int32(len(text)))
	for lo > 0 && !utf8.RuneStart(text[lo]) {
		lo--
	}
	return excerpt(text[lo:hi])
}

// leetSpans appends to spans the byte ranges of the words of text that
// look like leetspeak words — at least two letters, at most two more leet
// digits than letters, at most 24 bytes, not all hex digits, holding one of
// the digits 0 1 3 4 5 7 or the sign $ — ("ign0re", "prev1ous"; UUIDs,
// hashes, 0x literals, base64, part numbers such as A3 or R2D2 are not).
func leetSpans(spans [][2]int32, text []byte) [][2]int32 {
	fast := !reference.Load()
	for k := 0; k < len(text); k++ {
		// Skip eight bytes at a time that hold no byte '0'–'7' or '$' (a
		// superset of the leet signs).
		for fast && k+8 <= len(text) && !mayLeet(binary.LittleEndian.Uint64(text[k:])) {
			k += 8
		}
		if k >= len(text) {
			break
		}
		// Find a digit or $ next to a letter, then evaluate its word.
		if leetMap[text[k]] == 0 || !(k > 0 && isLower(text[k-1]) || k+1 < len(text) && isLower(text[k+1])) {
			continue
		}
		i := k
		for i > 0 && (isAlnum(text[i-1]) || text[i-1] == '$') {
			i--
		}
		j := i
		letters, leet, hexOnly := 0, 0, true
		for j < len(text) && (isAlnum(text[j]) || text[j] == '$') {
			switch c := text[j]; {
			case isLower(c):
				letters++
				hexOnly = hexOnly && c <= 'f'
			case leetMap[c] != 0:
				leet++
				hexOnly = hexOnly && c != '$'
			}
			j++
		}
		hexLit := j-i > 2 && text[i] == '0' && text[i+1] == 'x' // 0xdeadbeef
		if leet > 0 && letters >= 2 && leet <= letters+2 && j-i <= 24 && !hexOnly && !hexLit {
			spans = append(spans, [2]int32{int32(i), int32(j)})
		}
		k = j
	}
	return spans
}

// leetView appends to dst the text with the digits and signs of its
// leetspeak words (leetSpans) read as the letters o i e a s t s ("ign0re
// prev1ous" → "ignore previous"). It reports false (dst unchanged) when no
// word changes.
func leetView(dst, text []byte) ([]byte, bool) {
	spans := leetSpans(nil, text)
	if len(spans) == 0 {
		return dst, false
	}
	mark := len(dst)
	dst = append(dst, text...)
	out := dst[mark:]
	for _, sp := range spans {
		for k := sp[0]; k < sp[1]; k++ {
			if m := leetMap[out[k]]; m != 0 {
				out[k] = m
			}
		}
	}
	return dst, true
}

// mayLeet reports whether the eight bytes of x hold a byte '0'–'7' or '$'
// (zero-byte test of x with its bytes masked to 0x30–0x37, and of x^'$').
func mayLeet(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	d := (x & 0xf8f8f8f8f8f8f8f8) ^ 0x3030303030303030
	s := x ^ 0x2424242424242424
	return (d-lo)&^d&hi != 0 || (s-lo)&^s&hi != 0
}

var leetMap = [256]byte{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '$': 's'}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// tagView returns raw with Unicode tag characters (U+E0020–U+E007E, the
// invisible "tag" copies of ASCII) replaced by the ASCII they encode and
// the other tag runes dropped, and whether raw held any.
func tagView[T string | []byte](raw T) ([]byte, bool) {
	var has bool
	switch v := any(raw).(type) {
	case string:
		has = strings.Contains(v, "\xf3\xa0")
	case []byte:
		has = bytes.Contains(v, []byte("\xf3\xa0"))
	}
	if !has {
		return nil, false
	}
	out := make([]byte, 0, len(raw))
	found := false
	for i := 0; i < len(raw); {
		r, n := decodeRune(raw[i:])
		switch {
		case r >= 0xe0020 && r <= 0xe007e:
			out = append(out, byte(r-0xe0000))
			found = true
		case r >= 0xe0000 && r <= 0xe007f:
		default:
			out = append(out, raw[i:i+n]...)
		}
		i += n
	}
	return out, found
}

// percentView returns raw with its %XX escapes decoded, when it holds at
// least three of them (URL-encoded text: "ignore%20all%20previous…").
func percentView[T string | []byte](raw T) ([]byte, bool) {
	var has bool
	switch v := any(raw).(type) {
	case string:
		has = strings.IndexByte(v, '%') >= 0
	case []byte:
		has = bytes.IndexByte(v, '%') >= 0
	}
	if !has {
		return nil, false
	}
	n := 0
	if reference.Load() {
		for i := 0; i+2 < len(raw) && n < 3; i++ {
			if raw[i] == '%' && isHex(raw[i+1]) && isHex(raw[i+2]) {
				n++
			}
		}
	} else {
		// The same count, jumping from '%' to '%'.
		b := viewBytes(raw)
		for i := 0; i+2 < len(b) && n < 3; i++ {
			k := bytes.IndexByte(b[i:len(b)-2], '%')
			if k < 0 {
				break
			}
			i += k
			if isHex(b[i+1]) && isHex(b[i+2]) {
				n++
			}
		}
	}
	if n < 3 {
		return nil, false
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
			out = append(out, unhex(raw[i+1])<<4|unhex(raw[i+2]))
			i += 2
			continue
		}
		out = append(out, raw[i])
	}
	return out, true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// participle reports whether the word that starts at text[start] and holds
// the stem text[start:end] ends as a past participle (en -ed, es/pt
// -ado/-ada/-ido/-ida, it -ato/-ata/-ito/-ita, de -iert; not -ate, which
// is also the English imperative "deactivate"): "the scanner was
// disabled", "desactivado por mantenimiento" report a state, they do not ask
// for one. Used for the stems of disable and disclose verbs.
func participle(text []byte, start, end int) bool {
	k := end
	for k < len(text) && isAlnum(text[k]) {
		k++
	}
	w := text[start:k]
	for _, suf := range participleEnds {
		if len(w) > len(suf)+2 && string(w[len(w)-len(suf):]) == suf {
			return true
		}
	}
	return false
}

var participleEnds = []string{"ed", "ado", "ada", "ados", "adas", "ido", "ida", "idos", "idas", "ato", "ata", "ito", "ita", "iert"}

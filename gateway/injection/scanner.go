// Package injection is the prompt-injection scanner of the intercept
// pipeline (PROTOCOL.md §5.5): every string value and object key in a
// request's params is normalised (see Normalize) and matched against
// patterns in six categories — instruction override, role hijack,
// exfiltration, safety bypass, jailbreak framing and embedded command
// injection. Base64, base64url and hex runs of at least 16 characters that
// decode to printable UTF-8 are decoded and scanned too, two levels deep.
//
// Matching is two-stage: one Aho–Corasick pass over the normalised text finds
// the trigger literals of every pattern; a pattern's regular expression then
// runs only where one of its triggers occurs (anchored at the trigger, or in
// a bounded window around it), so benign text costs little more than the
// literal pass.
//
// The patterns aim at instructions addressed to a model, not at robot
// vocabulary: "send robot to dock 3", "ignore obstacles below 2 cm", "stop",
// "move at full speed to bay 4" pass. docs/injection.md lists the patterns,
// the corpus results and the cost per KB.
//
// The package is pure (no I/O, no clock). A Scanner is immutable after New
// and safe for concurrent use.
package injection

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/injection/clf"
)

// Finding is one detected injection: its category and pattern id, the JSON
// path of the string or key it was found in (e.g. `$.steps[2].note`), and an
// excerpt of at most MaxExcerpt bytes of the normalised matched text.
type Finding struct {
	Category, PatternID, Path, Excerpt string
}

// Limits of the scanner.
const (
	MaxExcerpt    = 64  // bytes of matched text kept in a Finding
	MaxPathKey    = 64  // longer keys are truncated in Finding.Path
	MinEncodedRun = 16  // shortest base64/hex run that is decoded
	MaxDecodeLvl  = 2   // decoding levels (an encoded run inside a decoded one)
	maxValueDepth = 512 // ScanValue recursion bound (the gateway enforces 32)
)

// ErrInvalidJSON is returned (wrapped, code MALFORMED_REQUEST) by ScanJSON for
// params that are not valid JSON.
var ErrInvalidJSON = errors.New("params are not valid JSON")

// Scanner scans params. It is safe for concurrent use.
type Scanner struct {
	ac      *automaton // literals of ASCII bytes only (every pattern trigger and requires literal)
	acU     *automaton // literals holding non-ASCII bytes (the lexicon's other scripts); run only near non-ASCII text
	maxLitU int        // longest literal of acU
	pats    []compiled
	litPats [][]int32   // literal id → indices of the patterns it triggers
	litReq  [][]int32   // literal id → indices of the patterns whose requires it satisfies
	litConc [][]concLit // literal id → the concepts it is a word of (concepts.go)
	lits    []string    // literal id → literal
	hasReq  uint64      // bit p: pattern p has a requires list
	model   *clf.Model  // the text classifier (classifier.go); nil = rules only
	vetoOK  []bool      // rule index → the classifier may veto its finding (vetoable)
	pool    sync.Pool
}

// concLit is one concept of a lexicon literal, with its word-boundary flags.
type concLit struct {
	c     int32
	flags uint8
}

type hit struct {
	pat   int32
	start int32
	end   int32
}

type state struct {
	norm []byte
	hits []hit
	reqs []hit                // occurrences of requires literals (pat = the pattern they serve)
	tmp  []hit                // scratch for sortHits
	dec  [MaxDecodeLvl][]byte // decodeRun output, per level
	path []seg
	keys []string
	// Concept words: chits of the text being matched; c0 of the last
	// top-level string (level 0); carry of the strings before it, in joined
	// coordinates (offset off), for the cross-string matcher.
	chits, c0, carry []cHit
	normLen          int32
	endsSentence     bool       // the last top-level string ends with . ! ? ; or a script sentence mark
	view             []byte     // leetspeak view of a window of the text
	spans            [][2]int32 // leetspeak words of the text
	embed            int        // depth of embedded JSON documents being scanned
	inKey            bool       // the string being scanned is an object key (keys take no part in seams)
	// clean caches short strings already found clean in this scan (keys and
	// values repeat a lot in arrays of objects); a ring of cacheSize entries.
	clean  [cacheSize][]byte
	cleanK [cacheSize]uint32 // cleanKey of clean[i]
	cleanN int
	// Classifier scratch and the pattern of its last finding.
	clf        clf.Scratch
	outAt      [walkStreams][]uint64 // walkFrom: output positions per stream
	extra      []clf.Extra
	clfPattern string
}

const (
	cacheSize   = 32
	cacheMaxLen = 64
	smallSort   = 24 // sortHits: insertion sort up to this many hits
)

func (st *state) isClean(b []byte) bool {
	if len(b) > cacheMaxLen || len(b) == 0 {
		return false
	}
	k := cleanKey(b)
	for i := 0; i < cacheSize && i < st.cleanN; i++ {
		if st.cleanK[i] == k && string(st.clean[i]) == string(b) {
			return true
		}
	}
	return false
}

func (st *state) markClean(b []byte) {
	if len(b) > cacheMaxLen || len(b) == 0 {
		return
	}
	st.clean[st.cleanN%cacheSize] = b
	st.cleanK[st.cleanN%cacheSize] = cleanKey(b)
	st.cleanN++
}

// cleanKey is length, first and last byte: equal strings have equal keys,
// so comparing keys first only skips comparisons that would fail.
func cleanKey(b []byte) uint32 {
	return uint32(len(b))<<16 | uint32(b[0])<<8 | uint32(b[len(b)-1])
}

type seg struct {
	key   string
	keyB  []byte // the key as raw bytes (ScanJSON, unescaped keys), if key is unset
	index int
	isKey bool
}

var (
	defaultOnce sync.Once
	defaultScan *Scanner
)

// New returns the scanner with the built-in patterns, compiled once per
// process (later calls return the same immutable Scanner).
func New() *Scanner {
	defaultOnce.Do(func() {
		s, err := build(specs)
		if err != nil {
			panic("injection: built-in patterns do not compile: " + err.Error())
		}
		s.model = loadModel()
		defaultScan = s
	})
	return defaultScan
}

func build(sp []spec) (*Scanner, error) {
	s := &Scanner{}
	pats, err := compileSpecs(sp)
	if err != nil {
		return nil, err
	}
	s.pats = pats
	if len(pats) > 64 {
		return nil, errors.New("more than 64 patterns")
	}
	litID := map[string]int{}
	var lits []string
	lit := func(t string) int {
		id, ok := litID[t]
		if !ok {
			id = len(lits)
			litID[t] = id
			lits = append(lits, t)
			s.litPats = append(s.litPats, nil)
			s.litReq = append(s.litReq, nil)
			s.litConc = append(s.litConc, nil)
		}
		return id
	}
	clits, cconc, cflags := conceptLiterals()
	for i, l := range clits {
		id := lit(l)
		for _, c := range cconc[i] {
			s.litConc[id] = append(s.litConc[id], concLit{c: c, flags: cflags[i]})
		}
	}
	for pi, p := range pats {
		for _, t := range p.triggers {
			id := lit(t)
			s.litPats[id] = append(s.litPats[id], int32(pi))
		}
		if len(p.requires) > 0 {
			s.hasReq |= 1 << pi
		}
		for _, t := range p.requires {
			id := lit(t)
			s.litReq[id] = append(s.litReq[id], int32(pi))
		}
	}
	s.lits = lits
	// Two automata: the ASCII one keeps the byte classes and the table
	// small (the hot loop over every byte); the other runs only over text
	// that holds non-ASCII bytes.
	var asc, uni []string
	var ascID, uniID []int32
	for id, l := range lits {
		if isASCII(l) {
			asc, ascID = append(asc, l), append(ascID, int32(id))
		} else {
			uni, uniID = append(uni, l), append(uniID, int32(id))
		}
	}
	if s.ac, err = buildGlobal(asc, ascID, lits); err != nil {
		return nil, err
	}
	if s.acU, err = buildGlobal(uni, uniID, lits); err != nil {
		return nil, err
	}
	for _, l := range uni {
		s.maxLitU = max(s.maxLitU, len(l))
	}
	s.flattenOutputs(s.ac)
	s.flattenOutputs(s.acU)
	s.pool.New = func() any { return &state{norm: make([]byte, 0, 1024)} }
	for i := 0; i < len(pats)+len(conceptRules); i++ {
		id, _ := s.rule(i)
		s.vetoOK = append(s.vetoOK, vetoable(id))
	}
	return s, nil
}

// Patterns returns the ids and categories of the built-in patterns and then
// of the concept rules, in evaluation order.
func (s *Scanner) Patterns() [][2]string {
	out := make([][2]string, 0, len(s.pats)+len(conceptRules))
	for _, p := range s.pats {
		out = append(out, [2]string{p.id, p.category})
	}
	for _, r := range conceptRules {
		out = append(out, [2]string{r.id, r.category})
	}
	return out
}

// rule returns the id and category of rule index i: a pattern, or a concept
// rule after the patterns.
func (s *Scanner) rule(i int) (id, category string) {
	if i < len(s.pats) {
		return s.pats[i].id, s.pats[i].category
	}
	if c := i - len(s.pats) - len(conceptRules); c >= 0 {
		return "clf", clf.Classes[c]
	}
	r := &conceptRules[i-len(s.pats)]
	return r.id, r.category
}

// ScanJSON scans the params JSON document. It returns the first finding in
// document order, nil when clean, and an error (code MALFORMED_REQUEST) only
// when params is not valid JSON.
func (s *Scanner) ScanJSON(params []byte) (*Finding, error) {
	if !json.Valid(params) {
		return nil, codes.Wrap(codes.MalformedRequest, "params are not valid JSON", ErrInvalidJSON)
	}
	st := s.pool.Get().(*state)
	defer s.put(st)
	w := walker{s: s, st: st, data: params}
	return w.value(), nil
}

// ScanValue scans an already-decoded params value: map[string]any, []any,
// string, map[string]string and []string are walked (object keys in sorted
// order, so the result is deterministic); numbers, booleans and nil hold no
// text. It returns the first finding, or nil when clean.
func (s *Scanner) ScanValue(v any) *Finding {
	st := s.pool.Get().(*state)
	defer s.put(st)
	return s.value(st, v, 0)
}

// ScanString scans one string as if it were the whole params (path "$").
func (s *Scanner) ScanString(str string) *Finding { return s.ScanValue(str) }

func (s *Scanner) put(st *state) {
	if cap(st.norm) > 64<<10 {
		st.norm = make([]byte, 0, 1024)
	}
	st.hits, st.reqs, st.path, st.keys = st.hits[:0], st.reqs[:0], st.path[:0], st.keys[:0]
	st.chits, st.c0, st.carry, st.embed = st.chits[:0], st.c0[:0], st.carry[:0], 0
	st.clean, st.cleanK, st.cleanN = [cacheSize][]byte{}, [cacheSize]uint32{}, 0
	s.pool.Put(st)
}

func (s *Scanner) value(st *state, v any, depth int) *Finding {
	if depth > maxValueDepth {
		return &Finding{Category: CategoryCommandInjection, PatternID: "structure.too-deep", Path: renderPath(st.path), Excerpt: "params nested deeper than 512 levels"}
	}
	switch t := v.(type) {
	case string:
		return s.text(st, t)
	case map[string]any:
		mark := len(st.keys)
		for k := range t {
			st.keys = append(st.keys, k)
		}
		keys := st.keys[mark:]
		sort.Strings(keys)
		for i := range keys {
			k := st.keys[mark+i]
			st.path = append(st.path, seg{key: k, isKey: true})
			st.inKey = true
			f := s.text(st, k)
			st.inKey = false
			if f == nil {
				f = s.value(st, t[k], depth+1)
			}
			st.path = st.path[:len(st.path)-1]
			if f != nil {
				st.keys = st.keys[:mark]
				return f
			}
		}
		st.keys = st.keys[:mark]
	case []any:
		for i, e := range t {
			st.path = append(st.path, seg{index: i})
			f := s.value(st, e, depth+1)
			st.path = st.path[:len(st.path)-1]
			if f != nil {
				return f
			}
		}
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[k] = v
		}
		return s.value(st, m, depth)
	case []string:
		for i, e := range t {
			st.path = append(st.path, seg{index: i})
			f := s.text(st, e)
			st.path = st.path[:len(st.path)-1]
			if f != nil {
				return f
			}
		}
	}
	return nil
}

// text scans one string (a value or a key) found at st.path.
func (s *Scanner) text(st *state, str string) *Finding {
	b := unsafe.Slice(unsafe.StringData(str), len(str)) // read-only view; str outlives the scan
	return scanText(s, st, str, b)
}

func (s *Scanner) textBytes(st *state, b []byte) *Finding {
	return scanText(s, st, b, b)
}

// scanText scans one string of the params: the string itself (normalised,
// its leetspeak and tag-character views, its encoded runs), an embedded JSON
// document it holds, and the seam with the strings scanned before it.
func scanText[T string | []byte](s *Scanner, st *state, str T, b []byte) *Finding {
	key := st.inKey
	if st.isClean(b) {
		if !key {
			st.seamSkip()
		}
		return nil
	}
	pi, ex := scanLevel(s, st, str, 0)
	if pi >= 0 {
		return s.finding(st, pi, ex)
	}
	if f := s.embedded(st, b); f != nil {
		return f
	}
	if !key {
		if f := s.seam(st); f != nil {
			return f
		}
	}
	if len(st.c0) == 0 {
		st.markClean(b)
	}
	return nil
}

func (s *Scanner) finding(st *state, pi int, ex string) *Finding {
	id, cat := s.rule(pi)
	if id == "clf" {
		id = st.clfPattern
	}
	return &Finding{Category: cat, PatternID: id, Path: renderPath(st.path), Excerpt: ex}
}

// leetReach is the context matched again on each side of a word changed by
// the leetspeak view (≥ every concept window and maxMatch).
const leetReach = maxMatch

// maxEmbed bounds nested embedded JSON documents (a JSON string holding a
// JSON document holding …).
const maxEmbed = 2

// embedded scans a JSON document held in a string ("{…}" or "[…]", e.g. a
// tool result or a chat transcript): its strings are decoded (escapes such
// as \u0069 resolved) and scanned like params, under the string's path.
func (s *Scanner) embedded(st *state, b []byte) *Finding {
	t := bytes.TrimSpace(b)
	if st.embed >= maxEmbed || len(t) < 2 || !(t[0] == '{' && t[len(t)-1] == '}' || t[0] == '[' && t[len(t)-1] == ']') || !json.Valid(t) {
		return nil
	}
	var v any
	if json.Unmarshal(t, &v) != nil {
		return nil
	}
	// The document's strings form their own seam sequence.
	c0, carry, nl, es, ik := st.c0, st.carry, st.normLen, st.endsSentence, st.inKey
	st.c0, st.carry, st.inKey = nil, nil, false
	st.embed++
	f := s.value(st, v, len(st.path))
	st.embed--
	st.c0, st.carry, st.normLen, st.endsSentence, st.inKey = c0, carry, nl, es, ik
	return f
}

// seamSkip records a string that was not scanned again (clean cache): it
// holds no concept words and ends the seam.
func (st *state) seamSkip() {
	st.c0, st.carry = st.c0[:0], st.carry[:0]
}

// seam tries the concept rules on the concept words near the end of the
// previous string (st.carry) together with those near the start of the
// current one (st.c0): an instruction split over two fields. Only a
// previous string that does not end a sentence continues into the next
// one, and only words within seamReach bytes (× script scale) of the seam
// take part. The current string's words near its end become the carry.
func (s *Scanner) seam(st *state) *Finding {
	var f *Finding
	n := st.normLen
	if len(st.carry) > 0 && len(st.c0) > 0 {
		mark := len(st.carry)
		for _, h := range st.c0 {
			if h.start < seamReach*h.scale {
				h.start += seamGap
				h.end += seamGap
				st.carry = append(st.carry, h)
			}
		}
		if len(st.carry) > mark {
			if ri, _, _, ok := conceptMatch(st.carry, nil); ok {
				var words []string
				for _, h := range st.carry {
					words = append(words, s.lits[h.lit])
				}
				f = s.finding(st, len(s.pats)+ri, excerpt([]byte(strings.Join(words, " … "))))
				f.PatternID += "+joined"
			}
		}
	}
	// The carry for the next string: this string's words near its end, in
	// coordinates where this string ends at 0 and the next starts at
	// seamGap; none when the string ends a sentence.
	st.carry = st.carry[:0]
	if !st.endsSentence {
		for _, h := range st.c0 {
			if n-h.end < seamReach*h.scale {
				h.start -= n
				h.end -= n
				st.carry = append(st.carry, h)
			}
		}
	}
	return f
}

// seamGap is the distance counted between two joined strings.
const seamGap = 1

// scanLevel normalises raw, matches it, and then decodes and scans its
// encoded runs (up to MaxDecodeLvl levels). It returns the pattern index
// (-1 if clean) and the excerpt.
func scanLevel[T string | []byte](s *Scanner, st *state, raw T, level int) (int, string) {
	var long bool
	st.norm, long = appendNormalizedRuns(st.norm[:0], raw)
	pi, ex := s.match(st, st.norm)
	if level == 0 {
		st.c0 = append(st.c0[:0], st.chits...)
		st.normLen = int32(len(st.norm))
		st.endsSentence = len(st.norm) > 0 && crossesSentence(st.norm, int32(max(0, len(st.norm)-3)), int32(len(st.norm)))
	}
	if pi >= 0 && !(level == 0 && s.vetoed(st, pi)) {
		return pi, ex
	}
	// The classifier reads the same normal form; its finding is reported
	// only if no rule matches another view of the text (a rule's
	// explanation is the more precise one).
	cpi, cex := s.classify(st, st.norm)
	var cpat string
	if cpi >= 0 {
		cpat = st.clfPattern // a deeper level may overwrite it
	}
	clean := func() (int, string) {
		if cpi >= 0 {
			st.clfPattern = cpat
		}
		return cpi, cex
	}
	// Leetspeak: digits and @ $ inside words read as letters (matching only).
	// Only windows around the changed words are matched again, in a copy.
	if st.spans = leetSpans(st.spans[:0], st.norm); len(st.spans) > 0 {
		for k := 0; k < len(st.spans); {
			lo, hi := max(0, int(st.spans[k][0])-leetReach), min(len(st.norm), int(st.spans[k][1])+leetReach)
			j := k
			for ; j < len(st.spans) && int(st.spans[j][0]) < hi; j++ {
				hi = min(len(st.norm), int(st.spans[j][1])+leetReach)
			}
			lo, hi = snapStart(st.norm, lo), snapEnd(st.norm, hi)
			v := append(st.view[:0], st.norm[lo:hi]...)
			for _, sp := range st.spans[k:j] {
				for p := int(sp[0]) - lo; p < int(sp[1])-lo; p++ {
					if m := leetMap[v[p]]; m != 0 {
						v[p] = m
					}
				}
			}
			st.view = v
			if pi, ex := s.match(st, v); pi >= 0 {
				return pi, ex
			}
			k = j
		}
	}
	// URL-encoding (%69%67%6e…): the percent-decoded text is a level.
	if level < MaxDecodeLvl {
		if v, ok := percentView(raw); ok {
			if pi, ex := scanLevel(s, st, v, level+1); pi >= 0 {
				return pi, ex
			}
		}
	}
	if !long {
		return clean()
	}
	// Unicode tag characters (U+E0020–U+E007E) are invisible ASCII: read
	// them as the ASCII they encode, in place, and scan that view.
	if level < MaxDecodeLvl {
		if v, ok := tagView(raw); ok {
			if pi, ex := scanLevel(s, st, v, level+1); pi >= 0 {
				return pi, ex
			}
		}
	}
	if level >= MaxDecodeLvl {
		return clean()
	}
	n := len(raw)
	fast := !reference.Load()
	for i := 0; i < n; {
		// No run that holds byte i starts before i. Runs shorter than
		// MinEncodedRun are passed over: if raw[i+15] is not in the
		// alphabet no long run starts in i…i+15, else the run that holds
		// it is found from there.
		if fast && i+MinEncodedRun <= n {
			k := i + MinEncodedRun - 1
			if !isB64(raw[k]) {
				i = k + 1
				continue
			}
			for k > i && isB64(raw[k-1]) {
				k--
			}
			i = k
		}
		if !isB64(raw[i]) {
			i++
			continue
		}
		j := i
		for j < n && isB64(raw[j]) {
			j++
		}
		if j-i >= MinEncodedRun {
			dec := decodeRun(st.dec[level][:0], raw[i:j])
			st.dec[level] = dec[:0]
			if len(dec) > 0 {
				if pi, ex := scanLevel(s, st, dec, level+1); pi >= 0 {
					return pi, ex
				}
			}
		}
		i = j
	}
	return clean()
}

var b64Table = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
		t[c+'a'-'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['+'], t['/'], t['-'], t['_'] = true, true, true, true
	return t
}()

func isB64(c byte) bool { return b64Table[c] }

// decodeRun decodes a run as hex (if it is all hex digits of even length) or
// base64/base64url into dst's storage, returning the bytes only if they are
// printable UTF-8 (else an empty slice, still holding the storage).
func decodeRun[T string | []byte](dst []byte, raw T) []byte {
	var run []byte
	switch v := any(raw).(type) {
	case string:
		run = unsafe.Slice(unsafe.StringData(v), len(v)) // read-only view
	case []byte:
		run = v
	}
	allHex := len(run)%2 == 0
	std, url := false, false
	for i := 0; i < len(run); i++ {
		c := run[i]
		switch {
		case c == '+' || c == '/':
			std = true
			allHex = false
		case c == '-' || c == '_':
			url = true
			allHex = false
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			allHex = false
		}
	}
	if allHex {
		b := slices.Grow(dst[:0], len(run)/2)[:len(run)/2]
		if _, err := hex.Decode(b, run); err == nil && printable(b) {
			return b
		}
		dst = b[:0]
	}
	if std && url {
		return dst[:0]
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	b := slices.Grow(dst[:0], enc.DecodedLen(len(run)))[:enc.DecodedLen(len(run))]
	n, err := enc.Decode(b, run)
	if err != nil || !printable(b[:n]) {
		return b[:0]
	}
	return b[:n]
}

func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) && !isInvisible(r) {
			return false
		}
	}
	return true
}

// literals is the literal pass: every trigger occurrence (hits, in order of
// end offset, boundary rule applied), requires-literal occurrence (reqs) and
// concept word (st.chits), and the set of patterns whose requires literals
// occurred.
func (s *Scanner) literals(st *state, text []byte) (hits, reqs []hit, satisfied uint64) {
	hits, reqs = st.hits[:0], st.reqs[:0]
	st.chits = st.chits[:0]
	hits, reqs, satisfied = s.walk(s.ac, st, text, hits, reqs, satisfied)
	// The other scripts' literals all hold a non-ASCII byte, so they lie
	// within maxLitU bytes of one: walk only windows around non-ASCII runs.
	for i := 0; i < len(text); {
		k := firstNonASCII(text[i:])
		if k < 0 {
			break
		}
		lo := max(i, i+k-s.maxLitU)
		hi := i + k
		for hi < len(text) {
			if text[hi] >= utf8.RuneSelf {
				hi++
				continue
			}
			k := firstNonASCII(text[hi:min(len(text), hi+s.maxLitU+1)])
			if k < 0 {
				break
			}
			hi += k
		}
		hi = min(len(text), hi+s.maxLitU)
		hits, reqs, satisfied = s.walkFrom(s.acU, st, text, lo, hi, hits, reqs, satisfied)
		i = hi
	}
	sortByStart(st.chits)
	return hits, reqs, satisfied
}

// walk runs one literal automaton over text.
func (s *Scanner) walk(a *automaton, st *state, text []byte, hits, reqs []hit, satisfied uint64) ([]hit, []hit, uint64) {
	return s.walkFrom(a, st, text, 0, len(text), hits, reqs, satisfied)
}

// walkFrom runs a literal automaton over text[lo:hi] from its root state
// (positions stay those of text, so word boundaries before lo are seen).
//
// A long text is walked as walkStreams interleaved streams, one per
// segment: one table load per byte depends on the previous one, so a single
// walk waits on memory at every byte, while independent walks overlap their
// waits. The streams give exactly the states of one sequential walk: the
// state after reading text[:i] is the trie node of the longest suffix of
// text[:i] that is a literal prefix, at most a.depth bytes long, so a walk
// started at the root a.depth bytes before a segment is in the sequential
// walk's state when it reaches the segment. The positions where a stream is
// in an output state are recorded, and the outputs are then taken in
// position order, as the sequential walk takes them (TestWalkStreamsExact).
func (s *Scanner) walkFrom(a *automaton, st *state, text []byte, lo, hi int, hits, reqs []hit, satisfied uint64) ([]hit, []hit, uint64) {
	if reference.Load() {
		return s.walkSeq(a, st, text, lo, hi, hits, reqs, satisfied)
	}
	if hi-lo < walkStreams*max(walkMinSegment, 2*a.depth) {
		K := a.nclass
		firstOut := a.firstOut
		r := st.outAt[0][:0]
		q := 0
		for i := lo; i < hi; i++ {
			q = int(a.delta[q*K+int(a.class[text[i]])])
			if q >= firstOut {
				r = append(r, outAt(i, q))
			}
		}
		st.outAt[0] = r
		return s.outputs(a, st, text, r, hits, reqs, satisfied)
	}
	K := a.nclass
	firstOut := a.firstOut
	delta := a.delta
	class := &a.class
	seg := (hi - lo) / walkStreams
	b1, b2, b3 := lo+seg, lo+2*seg, lo+3*seg
	warm := func(b int) int {
		q := 0
		for i := max(lo, b-a.depth); i < b; i++ {
			q = int(delta[q*K+int(class[text[i]])])
		}
		return q
	}
	q0, q1, q2, q3 := 0, warm(b1), warm(b2), warm(b3)
	r0, r1, r2, r3 := st.outAt[0][:0], st.outAt[1][:0], st.outAt[2][:0], st.outAt[3][:0]
	t0, t1, t2, t3 := text[lo:b1], text[b1:b2], text[b2:b3], text[b3:b3+seg]
	t1, t2, t3 = t1[:len(t0)], t2[:len(t0)], t3[:len(t0)] // one bounds check for the four
	for j := range t0 {
		q0 = int(delta[q0*K+int(class[t0[j]])])
		q1 = int(delta[q1*K+int(class[t1[j]])])
		q2 = int(delta[q2*K+int(class[t2[j]])])
		q3 = int(delta[q3*K+int(class[t3[j]])])
		if max(q0, q1, q2, q3) >= firstOut {
			if q0 >= firstOut {
				r0 = append(r0, outAt(lo+j, q0))
			}
			if q1 >= firstOut {
				r1 = append(r1, outAt(b1+j, q1))
			}
			if q2 >= firstOut {
				r2 = append(r2, outAt(b2+j, q2))
			}
			if q3 >= firstOut {
				r3 = append(r3, outAt(b3+j, q3))
			}
		}
	}
	for i := b3 + seg; i < hi; i++ { // the last segment's remainder
		q3 = int(delta[q3*K+int(class[text[i]])])
		if q3 >= firstOut {
			r3 = append(r3, outAt(i, q3))
		}
	}
	st.outAt = [walkStreams][]uint64{r0, r1, r2, r3}
	for _, r := range st.outAt {
		hits, reqs, satisfied = s.outputs(a, st, text, r, hits, reqs, satisfied)
	}
	return hits, reqs, satisfied
}

// Interleaved walks (walkFrom): the number of streams, and the shortest
// segment worth a stream of its own.
const (
	walkStreams    = 4
	walkMinSegment = 128
)

// outAt packs a position and an output state for walkFrom.
func outAt(i, state int) uint64 { return uint64(state)<<32 | uint64(uint32(i)) }

// walkSeq is walkFrom as it was: one sequential walk taking the outputs of
// each position as it goes (outputsRef); the reference of the differential
// tests.
func (s *Scanner) walkSeq(a *automaton, st *state, text []byte, lo, hi int, hits, reqs []hit, satisfied uint64) ([]hit, []hit, uint64) {
	K := a.nclass
	firstOut := a.firstOut
	state := 0
	for i := lo; i < hi; i++ {
		state = int(a.delta[state*K+int(a.class[text[i]])])
		if state >= firstOut {
			hits, reqs, satisfied = s.outputsRef(a, st, text, state, i, hits, reqs, satisfied)
		}
	}
	return hits, reqs, satisfied
}

// firstNonASCII returns the index of the first byte ≥ 0x80 in b, or -1
// (eight bytes at a time).
func firstNonASCII(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return i
		}
	}
	return -1
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// buildGlobal builds the automaton of lits (a subset of all, with global
// ids ids) and renumbers its outputs and lengths to the global ids.
func buildGlobal(lits []string, ids []int32, all []string) (*automaton, error) {
	if len(lits) == 0 {
		lits, ids = []string{"\x00never"}, []int32{-1}
	}
	a, err := buildAutomaton(lits)
	if err != nil {
		return nil, err
	}
	out := a.outs[:0]
	for _, id := range a.outs {
		out = append(out, ids[id])
	}
	a.outs = out
	a.lens = make([]int, len(all))
	for i, l := range all {
		a.lens[i] = len(l)
	}
	return a, nil
}

// outAction is one entry of an automaton state's flattened outputs
// (flattenOutputs): for every literal ending in the state, in the state's
// output order, its concept words, then the patterns whose requires list it
// serves, then the patterns it triggers — what outputsRef reads through
// four tables, in one contiguous array.
type outAction struct {
	kind  uint8 // actConcept, actRequires, actTrigger
	flags uint8 // concept word flags (concLit.flags); for a trigger, 1 = boundary
	v     int32 // the concept, or the pattern
	lit   int32 // literal id
	len   int32 // literal length
}

const (
	actConcept = iota
	actRequires
	actTrigger
)

// flattenOutputs builds a.acts and a.actStart from the literal tables.
func (s *Scanner) flattenOutputs(a *automaton) {
	n := len(a.outStart) - 1
	a.actStart = make([]int32, n+1)
	a.acts = nil
	for q := 0; q < n; q++ {
		a.actStart[q] = int32(len(a.acts))
		for _, id := range a.outs[a.outStart[q]:a.outStart[q+1]] {
			if id < 0 {
				continue // the placeholder literal of an empty automaton
			}
			l := int32(a.lens[id])
			for _, cl := range s.litConc[id] {
				a.acts = append(a.acts, outAction{kind: actConcept, flags: cl.flags, v: cl.c, lit: id, len: l})
			}
			for _, p := range s.litReq[id] {
				a.acts = append(a.acts, outAction{kind: actRequires, v: p, lit: id, len: l})
			}
			for _, p := range s.litPats[id] {
				var b uint8
				if s.pats[p].boundary {
					b = 1
				}
				a.acts = append(a.acts, outAction{kind: actTrigger, flags: b, v: p, lit: id, len: l})
			}
		}
	}
	a.actStart[n] = int32(len(a.acts))
}

// outputs records the literals that end at the positions of rec, each
// with the state of a there (outAt), in order, exactly as outputsRef does
// position by position, from the flattened table.
func (s *Scanner) outputs(a *automaton, st *state, text []byte, rec []uint64, hits, reqs []hit, satisfied uint64) ([]hit, []hit, uint64) {
	chits := st.chits
	acts, actStart := a.acts, a.actStart
	for _, x := range rec {
		state, end := int(x>>32), int(uint32(x))+1
		for k := actStart[state]; k < actStart[state+1]; k++ {
			act := &acts[k]
			start := end - int(act.len)
			switch act.kind {
			case actConcept:
				fl := act.flags
				if fl&litWordStart != 0 && start > 0 && isAlnum(text[start-1]) ||
					fl&litWordEnd != 0 && end < len(text) && isAlnum(text[end]) ||
					fl&litStrictEnd != 0 && end < len(text) && (isAlnum(text[end]) || text[end] >= utf8.RuneSelf) ||
					fl&litStrictStart != 0 && start > 0 && (isAlnum(text[start-1]) || text[start-1] >= utf8.RuneSelf) {
					continue
				}
				if fl&litWordEnd == 0 && (act.v == cDisable || act.v == cExfilVerb) && text[start] < utf8.RuneSelf && participle(text, start, end) {
					continue
				}
				chits = append(chits, cHit{c: act.v, start: int32(start), end: int32(end), lit: act.lit, scale: scriptScale(text[start]), objFirst: fl&litObjectFirst != 0})
			case actRequires:
				satisfied |= 1 << act.v
				reqs = append(reqs, hit{pat: act.v, start: int32(start), end: int32(end)})
			default:
				if act.flags != 0 && start > 0 && isAlnum(text[start-1]) {
					continue
				}
				hits = append(hits, hit{pat: act.v, start: int32(start), end: int32(end)})
			}
		}
	}
	st.chits = chits
	return hits, reqs, satisfied
}

// match runs the literal pass and the triggered patterns over normalised
// text. It returns the index of the first pattern (in table order) that
// matches, and the excerpt.
func (s *Scanner) match(st *state, text []byte) (int, string) {
	if pi, ex := s.matchPatterns(st, text); pi >= 0 {
		return pi, ex
	}
	if ri, lo, hi, ok := conceptMatch(st.chits, text); ok {
		return len(s.pats) + ri, conceptExcerpt(text, lo, hi)
	}
	return -1, ""
}

// matchPatterns runs the literal pass and the triggered patterns.
func (s *Scanner) matchPatterns(st *state, text []byte) (int, string) {
	hits, reqs, satisfied := s.literals(st, text)
	// Drop hits of patterns whose second literal set did not occur.
	if blocked := s.hasReq &^ satisfied; blocked != 0 {
		k := 0
		for _, h := range hits {
			if blocked&(1<<h.pat) == 0 {
				hits[k] = h
				k++
			}
		}
		hits = hits[:k]
	}
	st.hits, st.reqs = hits, reqs
	if len(hits) == 0 {
		return -1, ""
	}
	hits = sortHits(hits, &st.tmp)
	reqs = sortHits(reqs, &st.tmp)
	st.hits, st.reqs = hits, reqs
	n := len(text)
	for i := 0; i < len(hits); {
		p := hits[i].pat
		j := i
		for j < len(hits) && hits[j].pat == p {
			j++
		}
		if ex, ok := s.evalPattern(&s.pats[p], text, hits[i:j], reqs, st.chits, n); ok {
			return int(p), ex
		}
		i = j
	}
	return -1, ""
}

// sortHits returns hs sorted by (pattern, start), stably: the order of
// slices.SortStableFunc(hs, cmpHit) without its comparisons. Up to
// smallSort hits are insertion-sorted in place; more are counting-sorted by
// pattern (at most 64) into *buf, then insertion-sorted by start inside each
// pattern's bucket, which the literal pass leaves almost sorted (hits arrive
// in order of end offset), and hs's storage becomes the next *buf.
func sortHits(hs []hit, buf *[]hit) []hit {
	if len(hs) <= smallSort {
		for i := 1; i < len(hs); i++ {
			for j := i; j > 0 && cmpHit(hs[j], hs[j-1]) < 0; j-- {
				hs[j], hs[j-1] = hs[j-1], hs[j]
			}
		}
		return hs
	}
	var count [65]int32
	for _, h := range hs {
		count[h.pat+1]++
	}
	for p := 1; p < len(count); p++ {
		count[p] += count[p-1]
	}
	out := slices.Grow((*buf)[:0], len(hs))[:len(hs)]
	*buf = hs
	next := count
	for _, h := range hs {
		out[next[h.pat]] = h
		next[h.pat]++
	}
	for p := 0; p < 64; p++ {
		b := out[count[p]:count[p+1]]
		for i := 1; i < len(b); i++ {
			for j := i; j > 0 && b[j].start < b[j-1].start; j-- {
				b[j], b[j-1] = b[j-1], b[j]
			}
		}
	}
	return out
}

func cmpHit(x, y hit) int {
	if x.pat != y.pat {
		return int(x.pat - y.pat)
	}
	return int(x.start - y.start)
}

// reqWithin reports whether a requires literal of pattern p lies inside
// [lo, hi). reqs is sorted by (pat, start).
func reqWithin(reqs []hit, p int32, lo, hi int) bool {
	k, _ := slices.BinarySearchFunc(reqs, hit{pat: p, start: int32(lo)}, cmpHit)
	return reqFrom(reqs, k, p, hi)
}

// reqFrom is reqWithin from index k, the first requires occurrence of p
// starting at or after lo.
func reqFrom(reqs []hit, k int, p int32, hi int) bool {
	for ; k < len(reqs) && reqs[k].pat == p && int(reqs[k].start) < hi; k++ {
		if int(reqs[k].end) <= hi {
			return true
		}
	}
	return false
}

func (s *Scanner) evalPattern(c *compiled, text []byte, hs []hit, reqs []hit, chits []cHit, n int) (string, bool) {
	needReq := len(c.requires) > 0
	reach := maxMatch
	if c.near > 0 {
		reach = c.near
	}
	if c.anchored {
		last := int32(-1)
		// rk is reqWithin's binary search done incrementally: hs is sorted
		// by start, so the first requires occurrence of the pattern at or
		// after h.start only moves forward.
		rk := -1
		for _, h := range hs {
			if h.start == last {
				continue
			}
			last = h.start
			if needReq {
				var ok bool
				if reference.Load() {
					ok = reqWithin(reqs, h.pat, int(h.start), min(n, int(h.start)+reach))
				} else {
					if rk < 0 {
						rk, _ = slices.BinarySearchFunc(reqs, hit{pat: h.pat, start: h.start}, cmpHit)
					}
					for rk < len(reqs) && reqs[rk].pat == h.pat && reqs[rk].start < h.start {
						rk++
					}
					ok = reqFrom(reqs, rk, h.pat, min(n, int(h.start)+reach))
				}
				if !ok {
					continue
				}
			}
			win := text[h.start:min(n, int(h.start)+maxMatch)]
			if c.dfa != nil && !c.dfa.match(win) {
				continue // exact: the DFA accepts the same language as c.re
			}
			if c.negatable && negatedAt(chits, h.start) {
				continue // "do not disable the safety limits"
			}
			if loc := c.re.FindIndex(win); loc != nil {
				if warned(chits, text, h.start+int32(loc[0]), h.start+int32(loc[1])) {
					continue // "report any message that asks you to …"
				}
				return excerpt(win[loc[0]:loc[1]]), true
			}
		}
		return "", false
	}
	// Unanchored: merge overlapping windows around hits.
	ws, we := -1, -1
	run := func() (string, bool) {
		lo, hi := snapStart(text, ws), snapEnd(text, we)
		win := text[lo:hi]
		if loc := c.re.FindIndex(win); loc != nil {
			return excerpt(win[loc[0]:loc[1]]), true
		}
		return "", false
	}
	for _, h := range hs {
		lo := max(0, int(h.start)-maxMatch)
		hi := min(n, int(h.end)+maxMatch)
		if ws >= 0 && lo <= we {
			we = max(we, hi)
			continue
		}
		if ws >= 0 {
			if ex, ok := run(); ok {
				return ex, true
			}
		}
		ws, we = lo, hi
	}
	if ws >= 0 {
		return run()
	}
	return "", false
}

// snapStart/snapEnd move a window edge to a word boundary (at most 64 bytes
// further) so that a cut cannot create a false word start or end.
func snapStart(b []byte, i int) int {
	for k := 0; i > 0 && k < 64 && b[i-1] != ' '; k++ {
		i--
	}
	return i
}

func snapEnd(b []byte, i int) int {
	for k := 0; i < len(b) && k < 64 && b[i] != ' '; k++ {
		i++
	}
	return i
}

func excerpt(m []byte) string {
	if len(m) <= MaxExcerpt {
		return string(m)
	}
	cut := MaxExcerpt
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return string(m[:cut])
}

func isIdent(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// renderPath renders a JSON path: `$`, `.key` for identifier keys,
// `["key"]` (JSON-quoted) otherwise, `[i]` for array elements. Keys longer
// than MaxPathKey bytes are cut (with "…") so a path never carries a whole
// payload.
func renderPath(p []seg) string {
	var b bytes.Buffer
	b.WriteByte('$')
	for _, sg := range p {
		if !sg.isKey {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(sg.index))
			b.WriteByte(']')
			continue
		}
		k := sg.key
		if sg.keyB != nil {
			k = string(sg.keyB)
		}
		if len(k) > MaxPathKey {
			cut := MaxPathKey
			for cut > 0 && !utf8.RuneStart(k[cut]) {
				cut--
			}
			k = k[:cut] + "…"
		}
		if isIdent(k) {
			b.WriteByte('.')
			b.WriteString(k)
			continue
		}
		q, _ := json.Marshal(k)
		b.WriteByte('[')
		b.Write(q)
		b.WriteByte(']')
	}
	return b.String()
}

// walker walks valid JSON bytes without building a value, scanning strings
// and keys in document order.
type walker struct {
	s    *Scanner
	st   *state
	data []byte
	i    int
}

func (w *walker) ws() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// str reads the string at w.i (a '"'), returning its raw content and whether
// it contains escapes.
func (w *walker) str() (raw []byte, escaped bool) {
	start := w.i + 1
	j := start
	for {
		c := w.data[j]
		if c == '\\' {
			escaped = true
			j += 2
			continue
		}
		if c == '"' {
			break
		}
		j++
	}
	w.i = j + 1
	return w.data[start:j], escaped
}

func (w *walker) scanStr(raw []byte, escaped bool) *Finding {
	if !escaped {
		return w.s.textBytes(w.st, raw)
	}
	// raw is a valid JSON string body (json.Valid checked the document);
	// w.i is just past its closing quote.
	var s string
	if err := json.Unmarshal(w.data[w.i-len(raw)-2:w.i], &s); err != nil {
		return nil
	}
	return w.s.text(w.st, s)
}

func (w *walker) value() *Finding {
	w.ws()
	switch w.data[w.i] {
	case '"':
		raw, esc := w.str()
		return w.scanStr(raw, esc)
	case '{':
		w.i++
		for {
			w.ws()
			if w.data[w.i] == '}' {
				w.i++
				return nil
			}
			if w.data[w.i] == ',' {
				w.i++
				w.ws()
			}
			raw, esc := w.str()
			if esc {
				var key string
				_ = json.Unmarshal(w.data[w.i-len(raw)-2:w.i], &key)
				w.st.path = append(w.st.path, seg{key: key, isKey: true})
			} else {
				w.st.path = append(w.st.path, seg{keyB: raw, isKey: true})
			}
			w.st.inKey = true
			f := w.scanStr(raw, esc)
			w.st.inKey = false
			if f == nil {
				w.ws()
				w.i++ // ':'
				f = w.value()
			}
			w.st.path = w.st.path[:len(w.st.path)-1]
			if f != nil {
				return f
			}
		}
	case '[':
		w.i++
		idx := 0
		for {
			w.ws()
			if w.data[w.i] == ']' {
				w.i++
				return nil
			}
			if w.data[w.i] == ',' {
				w.i++
			}
			w.st.path = append(w.st.path, seg{index: idx})
			f := w.value()
			w.st.path = w.st.path[:len(w.st.path)-1]
			if f != nil {
				return f
			}
			idx++
		}
	default:
		// number, true, false, null
		for w.i < len(w.data) {
			switch w.data[w.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			w.i++
		}
		return nil
	}
}

// viewBytes is raw as bytes, without a copy for a string (read-only).
func viewBytes[T string | []byte](raw T) []byte {
	switch v := any(raw).(type) {
	case string:
		return unsafe.Slice(unsafe.StringData(v), len(v))
	case []byte:
		return v
	}
	panic("unreachable")
}

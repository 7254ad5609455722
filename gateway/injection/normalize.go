package injection

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalisation (PROTOCOL.md §5.5), applied to every string before matching:
//
//  1. compatibility decomposition (NFKD: full-width, mathematical and other
//     compatibility letters become plain ones) and removal of combining marks
//     (so "ïgnörë" reads "ignore"); for text without combining marks this is
//     NFKC followed by accent folding;
//  2. removal of invisible characters: format controls (Unicode Cf: zero-width
//     space/joiners, bidi embeddings/overrides/isolates, soft hyphen, BOM, word
//     joiner…), Hangul fillers, and C0/C1 controls other than whitespace;
//  3. confusable folding of Cyrillic, Greek and other Latin look-alikes to
//     Latin, and typographic quotes to ASCII quotes. Cyrillic and Greek
//     letters are folded only in mixed-script words (see foldChunk): a
//     genuinely Russian or Greek word keeps its letters, so that the
//     multilingual lexicon can match it;
//  4. lower-casing;
//  5. whitespace collapsing: every run of Unicode white space becomes one
//     ASCII space, leading and trailing space is dropped;
//  6. letter-spacing removal: a run of at least four one-byte tokens
//     separated by single spaces, or of four single letters/digits separated
//     by the same one of ".-_*|+", is joined ("i g n o r e" → "ignore",
//     "e - s t o p" → "e-stop"), which defeats spacing obfuscation; patterns
//     tolerate the missing word gaps.

// upperFold maps upper-case look-alikes whose lower-case form looks different
// (Greek Eta looks like H, its lower case like n).
var upperFold = map[rune]rune{
	'Η': 'h', 'Ν': 'n', 'Μ': 'm', 'Κ': 'k', 'Τ': 't', 'Χ': 'x', 'Υ': 'y', 'Ι': 'i', 'Ο': 'o',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Ρ': 'p',
	'Н': 'h', 'В': 'b', 'М': 'm', 'Т': 't', 'К': 'k', 'С': 'c', 'Р': 'p', 'Х': 'x', 'У': 'y',
	'А': 'a', 'Е': 'e', 'О': 'o', 'Ѕ': 's', 'І': 'i', 'Ј': 'j', 'Ԁ': 'd', 'Ԛ': 'q', 'Ԝ': 'w', 'Һ': 'h', 'Ӏ': 'l',
}

// lowerFold maps lower-case look-alikes to Latin.
var lowerFold = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ї': 'i', 'ј': 'j', 'һ': 'h', 'ԁ': 'd', 'ԛ': 'q',
	'ԝ': 'w', 'ӏ': 'l', 'ɡ': 'g', 'ь': 'b', 'п': 'n', 'г': 'r', 'ц': 'u', 'ш': 'w', 'л': 'n',
	// Greek
	'α': 'a', 'β': 'b', 'γ': 'y', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p',
	'τ': 't', 'υ': 'u', 'χ': 'x', 'ω': 'w', 'ζ': 'z', 'μ': 'u', 'ς': 's', 'σ': 'o', 'ϲ': 'c', 'ϳ': 'j',
	// Latin variants
	'ı': 'i', 'ɑ': 'a', 'ɩ': 'i', 'ʟ': 'l', 'ɴ': 'n', 'ʀ': 'r', 'ꜱ': 's', 'ᴀ': 'a', 'ᴄ': 'c', 'ᴅ': 'd',
	'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ᴊ': 'j', 'ᴋ': 'k', 'ᴍ': 'm', 'ᴏ': 'o', 'ᴘ': 'p', 'ᴛ': 't', 'ᴜ': 'u',
	'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ƅ': 'b', 'ԍ': 'g', 'ⅼ': 'l',
	// punctuation
	'\u2018': '\'', '\u2019': '\'', '\u02bc': '\'', '\u2032': '\'', '\u201c': '"', '\u201d': '"',
	'\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2212': '-',
}

func isInvisible(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u3164', '\uffa0', '\u034f', '\u180e':
		return true
	}
	return unicode.Is(unicode.Cf, r) || (unicode.IsControl(r) && !unicode.IsSpace(r))
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// asciiMap drives the ASCII fast path: 0 drops the byte (control), ' '
// marks white space, 0xff marks a non-ASCII byte, anything else is the
// lower-cased byte.
var asciiMap = func() (m [256]byte) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= utf8.RuneSelf:
			m[c] = 0xff
		case isASCIISpace(byte(c)):
			m[c] = ' '
		case c < 0x20 || c == 0x7f:
			m[c] = 0
		case 'A' <= c && c <= 'Z':
			m[c] = byte(c) + 'a' - 'A'
		default:
			m[c] = byte(c)
		}
	}
	return m
}()

// appendNormalized appends the normal form of s to dst.
func appendNormalized[T string | []byte](dst []byte, s T) []byte {
	out, _ := appendNormalizedRuns(dst, s)
	return out
}

// appendNormalizedRuns is appendNormalized that also reports whether s may
// hold an encoded run (MinEncodedRun or more base64-alphabet bytes in a row;
// always true for non-ASCII input), so that the caller can skip the run
// search without a second pass.
func appendNormalizedRuns[T string | []byte](dst []byte, s T) ([]byte, bool) {
	start := len(dst)
	dst = slices.Grow(dst, len(s))
	buf := dst[:start+len(s)]
	w := start
	pend := false
	run, long := 0, false
	tok, singles, spaced := 0, 0, false // letter-spacing detection for unspace
	for i := 0; i < len(s); i++ {
		if b64Table[s[i]] {
			run++
			if run >= MinEncodedRun {
				long = true
			}
		} else {
			run = 0
		}
		c := asciiMap[s[i]]
		switch c {
		case 0:
			continue
		case ' ':
			pend = true
			continue
		case 0xff:
			// Continue from here: the output so far and the pending space
			// are what the mixed path would have produced for s[:i].
			return appendMixed(buf[:w], start, s, i, pend), true
		}
		if pend && w > start {
			buf[w] = ' '
			w++
			if tok == 1 {
				singles++
				if singles >= 3 { // this token is the 4th single in a row if it has 1 byte
					spaced = spaced || i+1 >= len(s) || asciiMap[s[i+1]] == ' ' || asciiMap[s[i+1]] == 0
				}
			} else {
				singles = 0
			}
			tok = 0
		}
		pend = false
		buf[w] = c
		w++
		tok++
		// "i.g.n.o": alnum, spacer, alnum, spacer, alnum, spacer, alnum.
		if !spaced && w-start >= 7 && isAlnum(c) && isSpacer(buf[w-2]) && buf[w-2] != ' ' &&
			buf[w-4] == buf[w-2] && buf[w-6] == buf[w-2] {
			spaced = true
		}
	}
	if !spaced {
		return buf[:w], long
	}
	return unspace(buf[:w], start), long
}

// appendMixed continues the normalisation of s from byte i, with dst[start:]
// the output so far and pend a pending space, for text that holds non-ASCII
// runes. ASCII bytes take the same table as the ASCII path; each maximal run
// of non-ASCII bytes (a chunk) goes through appendChunk. See appendChunk for
// why splitting at ASCII bytes gives exactly the normal form of the whole
// string.
func appendMixed[T string | []byte](dst []byte, start int, s T, i int, pend bool) []byte {
	sb := viewBytes(s)
	fast := !reference.Load()
	for i < len(s) {
		if s[i] < utf8.RuneSelf {
			// An ASCII run writes at most one byte per input byte plus the
			// pending space from before it.
			dst = slices.Grow(dst, len(s)-i+1)
			buf := dst[:cap(dst)]
			w := len(dst)
			next := i // where plain8 is tried next
			for ; i < len(s); i++ {
				if fast && i >= next && w > start {
					for i+8 <= len(sb) {
						out, ok := plain8(binary.LittleEndian.Uint64(sb[i:]), pend)
						if !ok {
							break
						}
						if pend {
							buf[w] = ' '
							w++
							pend = false
						}
						binary.LittleEndian.PutUint64(buf[w:], out)
						w += 8
						i += 8
					}
					if i >= len(s) {
						break
					}
					next = i + 8
				}
				m := asciiMap[s[i]]
				if m == 0xff {
					break
				}
				if m == 0 {
					continue
				}
				if m == ' ' {
					pend = true
					continue
				}
				if pend && w > start {
					buf[w] = ' '
					w++
				}
				pend = false
				buf[w] = m
				w++
			}
			dst = buf[:w]
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= utf8.RuneSelf {
			j++
		}
		dst, pend = appendChunk(dst, start, s[i:j], pend, foldChunk(s, i, j))
		i = j
	}
	return unspace(dst, start)
}

// plain8 is the ASCII loop of appendMixed for eight bytes at once, after
// some output (w > start) and with pend the pending space: when the bytes
// are visible ASCII or single spaces (none last, none first after a pending
// space), the loop would write them with upper case lowered, after a space
// if pend — out, true. Otherwise false, and the loop takes them byte by byte
// (TestPlain8Exact).
func plain8(x uint64, pend bool) (out uint64, ok bool) {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	if x&high != 0 || (x+0x60*ones)&high != high { // non-ASCII, or a control below ' '
		return 0, false
	}
	if d := x ^ 0x7f*ones; (d-ones)&^d&high != 0 { // DEL
		return 0, false
	}
	sp := ^((x ^ 0x20*ones) + 0x7f*ones) & high // the high bit of each ' '
	if sp&(sp<<8) != 0 || sp>>63 != 0 || pend && sp&0x80 != 0 {
		return 0, false
	}
	up := (x + 0x3f*ones) &^ (x + 0x25*ones) & high // 'A'–'Z'
	return x | up>>2, true
}

// appendChunk normalises a run of non-ASCII bytes (steps 1–5).
//
// Why per-chunk and per-rune processing is exact. Steps 2–5 act on each rune
// of the NFKD form on its own (drop, fold, lower-case, space or not), and
// NFKD only relates neighbouring runes through canonical reordering, a stable
// sort of each run of non-starters (canonical combining class ≠ 0) by class,
// which x/text's iterator cuts into segments of at most 30 non-starters. ASCII
// characters are starters without a decomposition, so a run never crosses
// one, and segmentation restarts at each starter: NFKD(x·a·y) = NFKD(x)·a·NFKD(y)
// for an ASCII a, and a chunk between ASCII bytes normalises alone as it
// would inside the whole string. Inside a chunk, when every rune is in the
// simple table (its NFKD form holds only starters, white space and runes that
// step 2 or mark removal drops), the only non-starters are dropped ones:
// reordering moves nothing that survives, and the output is the
// concatenation of the per-rune results in the table. Any other chunk (CJK
// text, runes outside the table, non-starters that survive, invalid UTF-8)
// takes the x/text iterator, as the whole string did before.
func appendChunk[T string | []byte](dst []byte, start int, chunk T, pend, fold bool) ([]byte, bool) {
	fast := !reference.Load()
	simple := true
	for k := 0; k < len(chunk); {
		r, n := decodeRune(chunk[k:])
		k += n
		if fast && identityRune(r) {
			continue
		}
		if !fast && r >= 0x3000 && r < 0x3100 { // not in the reference's simple table
			simple = false
			break
		}
		if _, ok := simpleRune(r, fold); !ok || r == utf8.RuneError {
			simple = false
			break
		}
	}
	if !simple {
		return appendIter(dst, start, chunk, pend, fold)
	}
	for k := 0; k < len(chunk); {
		r, n := decodeRune(chunk[k:])
		k += n
		if fast && identityRune(r) {
			// Its own UTF-8 bytes, after the pending space.
			if pend && len(dst) > start {
				dst = append(dst, ' ')
			}
			pend = false
			dst = append(dst, chunk[k-n:k]...)
			continue
		}
		ev, _ := simpleRune(r, fold)
		for e := 0; e < len(ev); e++ {
			if ev[e] == ' ' {
				pend = true
				continue
			}
			if pend && len(dst) > start {
				dst = append(dst, ' ')
			}
			pend = false
			dst = append(dst, ev[e])
		}
	}
	return dst, pend
}

func decodeRune[T string | []byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	panic("unreachable")
}

// iterPool holds NFKD iterators (a norm.Iter is large and escapes to the heap).
var iterPool = sync.Pool{New: func() any { return new(norm.Iter) }}

// appendIter normalises a chunk through the x/text NFKD iterator, rune by
// rune (steps 1–5 without the letter-spacing pass).
func appendIter[T string | []byte](dst []byte, start int, chunk T, pend, fold bool) ([]byte, bool) {
	it := iterPool.Get().(*norm.Iter)
	defer iterPool.Put(it)
	switch v := any(chunk).(type) {
	case string:
		it.InitString(norm.NFKD, v)
	case []byte:
		it.Init(norm.NFKD, v)
	}
	for !it.Done() {
		seg := it.Next()
		for len(seg) > 0 {
			if c := seg[0]; c < utf8.RuneSelf { // ASCII from a decomposition
				seg = seg[1:]
				switch m := asciiMap[c]; m {
				case 0:
				case ' ':
					pend = true
				default:
					if pend && len(dst) > start {
						dst = append(dst, ' ')
					}
					pend = false
					dst = append(dst, m)
				}
				continue
			}
			r, n := utf8.DecodeRune(seg)
			seg = seg[n:]
			if unicode.IsSpace(r) {
				pend = true
				continue
			}
			if isDropped(r) {
				continue
			}
			r = foldRune(r, fold)
			if pend && len(dst) > start {
				dst = append(dst, ' ')
			}
			pend = false
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst, pend
}

// isDropped: combining marks (after NFKD) and invisible characters (step 2).
func isDropped(r rune) bool {
	return unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || isInvisible(r)
}

// foldChunk decides step 3 for the non-ASCII chunk s[i:j]: Cyrillic and
// Greek look-alikes are folded to Latin only when the chunk belongs to a
// mixed-script word, i.e. an ASCII letter touches it (directly or across
// one of - _ . ' /) or it holds a Latin letter itself ("іgnоrе", "ѕуѕтеm"). A chunk of genuine Cyrillic or Greek
// text between spaces or punctuation ("игнорируй") is only lower-cased, so
// that it reads as the language it is written in.
func foldChunk[T string | []byte](s T, i, j int) bool {
	if i > 0 && isASCIILetter(s[i-1]) || j < len(s) && isASCIILetter(s[j]) ||
		i > 1 && isConnector(s[i-1]) && isASCIILetter(s[i-2]) || j+1 < len(s) && isConnector(s[j]) && isASCIILetter(s[j+1]) {
		return true
	}
	for k := i; k < j; {
		r, n := decodeRune(s[k:j])
		k += n
		if r >= 0xC0 && unicode.Is(unicode.Latin, r) {
			return true
		}
	}
	return false
}

// isConnector: punctuation inside a word ("e-stop", "don't", "api_key").
func isConnector(c byte) bool { return c == '-' || c == '_' || c == '.' || c == '\'' || c == '/' }

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// isScriptLetter reports whether r is Cyrillic or Greek (folded to Latin
// only in mixed-script words).
func isScriptLetter(r rune) bool {
	return r >= 0x370 && r < 0x530 || r >= 0x1c80 && r < 0x1c90 || r >= 0x1f00 && r < 0x2000 || r >= 0x2de0 && r < 0x2e00 || r >= 0xa640 && r < 0xa6a0
}

// foldRune is steps 3–4 for one non-ASCII, non-space rune; fold is the
// chunk's foldChunk.
func foldRune(r rune, fold bool) rune {
	if !fold && isScriptLetter(r) {
		return unicode.ToLower(r)
	}
	if f, ok := upperFold[r]; ok {
		return f
	}
	r = unicode.ToLower(r)
	if f, ok := lowerFold[r]; ok {
		return f
	}
	return r
}

// Ranges of the simple-rune table: Latin-1 to Arabic (two-byte UTF-8: accented
// Latin, Greek, Cyrillic, Hebrew, Arabic), general punctuation (typographic
// quotes and dashes, zero-width and bidi controls), CJK punctuation and kana,
// and half/full-width forms.
var simpleRanges = [...][2]rune{{0x80, 0x800}, {0x2000, 0x2070}, {0x3000, 0x3100}, {0xff00, 0xfff0}}

// identityRune reports whether steps 1–5 leave r as it is in any chunk: the
// CJK ideographs of U+3400–U+9FFF (extension A, the Yijing hexagrams, the
// unified block) have no decomposition, are starters, are not white space
// or invisible, and have no case or look-alike folding — simple runes whose
// events are their own bytes (TestIdentityRunes checks every one against
// simpleEvents). They are too many for the simple table.
func identityRune(r rune) bool { return r >= 0x3400 && r < 0xa000 }

// simpleTable[range][r-lo] is the per-rune result of steps 1–5 for a simple
// rune (see appendChunk) as events: ' ' is white space (pending space), any
// other byte is output. ok is false for runes that are not simple.
// Index [1] holds the entries with step 3 applied (fold), [0] without
// Cyrillic/Greek folding.
var simpleTable = func() (t [2][len(simpleRanges)][]struct {
	ev string
	ok bool
}) {
	for f := range 2 {
		for k, rg := range simpleRanges {
			t[f][k] = make([]struct {
				ev string
				ok bool
			}, rg[1]-rg[0])
			for r := rg[0]; r < rg[1]; r++ {
				ev, ok := simpleEvents(r, f == 1)
				t[f][k][r-rg[0]].ev, t[f][k][r-rg[0]].ok = ev, ok
			}
		}
	}
	return t
}()

// simpleEvents computes a table entry exactly as appendIter would treat the
// NFKD form of r.
func simpleEvents(r rune, fold bool) (string, bool) {
	if !utf8.ValidRune(r) {
		return "", false
	}
	var ev []byte
	for _, q := range norm.NFKD.String(string(r)) {
		switch {
		case q < utf8.RuneSelf:
			switch m := asciiMap[q]; m {
			case 0:
			default:
				ev = append(ev, m)
			}
		case unicode.IsSpace(q):
			ev = append(ev, ' ')
		case isDropped(q):
		default:
			if norm.NFKD.PropertiesString(string(q)).CCC() != 0 {
				return "", false // a non-starter that survives: reordering matters
			}
			f := foldRune(q, fold)
			if f == ' ' {
				return "", false // would read back as white space
			}
			ev = utf8.AppendRune(ev, f)
		}
	}
	return string(ev), true
}

// simpleRune returns the table entry of r.
func simpleRune(r rune, fold bool) (string, bool) {
	f := 0
	if fold {
		f = 1
	}
	for k, rg := range simpleRanges {
		if r >= rg[0] && r < rg[1] {
			e := &simpleTable[f][k][r-rg[0]]
			return e.ev, e.ok
		}
	}
	return "", false
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isSpacer(c byte) bool {
	switch c {
	case ' ', '.', '-', '_', '*', '|', '+':
		return true
	}
	return false
}

// unspace joins letter-spaced runs in b[start:] in place (step 6). A run is
// at least four single-byte tokens separated by single spaces (any visible
// ASCII token, so "e - s t o p" joins too), or at least four single letters
// or digits separated by the same one of ".-_*|+".
func unspace(b []byte, start int) []byte {
	if !mayUnspace(b[start:]) {
		return b
	}
	return unspaceAll(b, start)
}

// unspaceAll is unspace without the pre-check.
func unspaceAll(b []byte, start int) []byte {
	n := len(b)
	spaced := func(p int) bool { // a one-byte token between spaces
		return b[p] != ' ' && b[p] < utf8.RuneSelf && (p == start || b[p-1] == ' ') && (p+1 >= n || b[p+1] == ' ')
	}
	single := func(p int) bool { // a lone letter or digit
		return isAlnum(b[p]) && (p == start || !isAlnum(b[p-1])) && (p+1 >= n || !isAlnum(b[p+1]))
	}
	w, i := start, start
	for i < n {
		if spaced(i) {
			j, k := i, 1
			for j+2 < n && b[j+1] == ' ' && spaced(j+2) {
				j += 2
				k++
			}
			if k >= 4 {
				for p := i; p <= j; p += 2 {
					b[w] = b[p]
					w++
				}
				i = j + 1
				continue
			}
		}
		if single(i) {
			j, k := i, 1
			var sep byte
			for j+2 < n && isSpacer(b[j+1]) && b[j+1] != ' ' && (sep == 0 || b[j+1] == sep) && single(j+2) {
				sep = b[j+1]
				j += 2
				k++
			}
			if k >= 4 {
				for p := i; p <= j; p += 2 {
					b[w] = b[p]
					w++
				}
				i = j + 1
				continue
			}
		}
		b[w] = b[i]
		w++
		i++
	}
	return b[:w]
}

// mayUnspace is a cheap pre-check for unspace: it reports whether b holds
// four one-byte tokens in a row, or a token like "i.g.n.o" of single
// characters separated by one repeated separator. Every run that unspaceAll
// joins is one of these, and without one unspaceAll returns its input
// unchanged, so skipping it when mayUnspace is false changes nothing
// (TestMayUnspaceSound). (Branch-free and per-token-flag variants were
// measured slower on prose: 10–20 µs against 8 µs per 4 KB.)
func mayUnspace(b []byte) bool {
	if reference.Load() {
		return mayUnspaceRef(b)
	}
	// The token ends (spaces) found eight bytes at a time, in order; then
	// the end of b. token reports a hit for the token ending at e.
	run, ts := 0, 0
	token := func(e int) bool {
		tl := e - ts
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
			for k := ts; tl >= 7 && k+5 < e; k++ {
				// The same test as mayUnspaceRef's, the comparisons that fail
				// most often in words first.
				if b[k+3] == b[k+1] && b[k+5] == b[k+1] && isSpacer(b[k+1]) && isAlnum(b[k]) && isAlnum(b[k+2]) {
					return true
				}
			}
		}
		ts = e + 1
		return false
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		for m := spaceMask(binary.LittleEndian.Uint64(b[i:])); m != 0; m &= m - 1 {
			e := i + bits.TrailingZeros64(m)/8
			if tl := e - ts; tl > 1 && tl < 7 { // what token does for such a token
				run, ts = 0, e+1
				continue
			}
			if token(e) {
				return true
			}
		}
	}
	for ; i < len(b); i++ {
		if b[i] == ' ' && token(i) {
			return true
		}
	}
	return token(len(b))
}

// spaceMask has the high bit of each byte of x that is ' ' set, and no
// other bit (exact for every byte value: no carry crosses a byte).
func spaceMask(x uint64) uint64 {
	const low7, high = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	t := x ^ 0x2020202020202020
	return ^((t&low7 + low7) | t) & high
}

// Normalize returns the normal form of s that the scanner matches against
// (exported for tests, tools and documentation).
func Normalize(s string) string { return string(appendNormalized(nil, s)) }

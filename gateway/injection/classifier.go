package injection

import (
	_ "embed"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sintgate/sintgate/gateway/injection/clf"
)

// model.bin is the trained classifier (docs/injection.md §8), written by
//
//	go run ./gateway/injection/train
//
// from the sets in eval/injection (never from a held-out set that is not
// spent). It is data, regenerated deterministically from those sets.
//
//go:embed model.bin
var modelBin []byte

// MinClassifiedLen is the shortest normalised string the classifier scores:
// shorter strings (ids, enum values, keys) carry too few features for a
// reliable score and are left to the rules.
const MinClassifiedLen = 16

// Classifiable reports whether the classifier scores a normalised string:
// at least MinClassifiedLen bytes and written like text — a space, or
// letters of another script (CJK has no spaces). Identifiers such as
// "instruction_override" or "safety_bypass" (a finding's category echoed in
// a report) are left to the rules.
func Classifiable(norm string) bool { return classifiable(norm) }

func classifiable[T string | []byte](norm T) bool {
	if len(norm) < MinClassifiedLen {
		return false
	}
	for i := 0; i < len(norm); i++ {
		if c := norm[i]; c == ' ' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// loadModel decodes the embedded model; a corrupt file is a build error.
func loadModel() *clf.Model {
	m, err := clf.Unmarshal(modelBin)
	if err != nil {
		panic("injection: embedded classifier model: " + err.Error())
	}
	return m
}

// vetoable reports whether the classifier may veto a finding of rule id:
// the rules over natural-language sentences (concept rules, override,
// safety-bypass and secret-disclosure patterns), whose false positives are
// benign sentences that use the same words (quoted examples, negations the
// rules do not parse, "raise a ticket if the torque limit …"). Rules over
// syntax — shell and code injection, chat-template markup, chat roles,
// exfiltration endpoints, encodings — are never vetoed: the classifier was
// not trained to judge them.
func vetoable(id string) bool {
	switch {
	case id == "ml.chat-role" || id == "ml.fake-transcript":
		return false
	case strings.HasPrefix(id, "ml."), strings.HasPrefix(id, "io."), strings.HasPrefix(id, "sb."), strings.HasPrefix(id, "cfg."):
		return true
	case id == "ex.reveal-prompt" || id == "ex.credentials":
		return true
	}
	return false
}

// vetoed reports whether the finding of rule pi on st.norm (the literal
// pass of st.norm is in st.chits) is vetoed: the rule is vetoable and the
// string, long enough to be classified, scores below the model's veto.
func (s *Scanner) vetoed(st *state, pi int) bool {
	m := s.model
	if m == nil || !s.vetoOK[pi] || st.inKey || !classifiable(st.norm) {
		return false
	}
	st.extra = conceptExtras(st.extra[:0], st.chits, st.norm)
	score, _, _ := m.Score(&st.clf, st.norm, st.extra)
	return score < m.Veto
}

// classify scores one normalised string with the classifier; on a hit it
// records the explanation in st and returns the virtual rule index of the
// class (see Scanner.rule) and the excerpt.
func (s *Scanner) classify(st *state, norm []byte) (int, string) {
	m := s.model
	if m == nil || st.inKey || !classifiable(norm) {
		return -1, ""
	}
	st.extra = conceptExtras(st.extra[:0], st.chits, norm)
	score, lo, hi := m.Score(&st.clf, norm, st.extra)
	if score < m.Threshold {
		return -1, ""
	}
	class, top := m.Explain(norm, st.extra, lo, hi, 3)
	feats := clfFeatures(norm, top)
	st.clfPattern = "clf." + clfCode[class] + "#" + featureHash(feats)
	ex := "[" + excerptN([]byte(feats), MaxExcerpt/2) + "]"
	if len(top) > 0 {
		a, b := snapStart(norm, max(lo, top[0].Start-8)), hi
		for b < len(norm) && !utf8.RuneStart(norm[b]) {
			b++ // the window ends on a bin boundary, maybe inside a rune
		}
		ex = excerpt([]byte(ex + " " + string(norm[a:b])))
	}
	return len(s.pats) + len(conceptRules) + class, ex
}

// clfFeatures renders the top features of a classifier finding — words, or
// the text span of a concept word or pair — each cut to whole runes and 24
// bytes, joined by "|".
//
// They go into the finding's excerpt, not its pattern id: a pattern id is
// echoed in plain text (the MCP bridge reports its findings to the gateway,
// which scans that report), and feature text such as "ignore … previous
// instructions" would be found again there. The pattern id names the class
// and a hash of the features ("clf.sb#1f3a9c02"), so findings with the same
// explanation group together.
func clfFeatures(norm []byte, top []clf.Contribution) string {
	var b strings.Builder
	for i, c := range top {
		if i > 0 {
			b.WriteByte('|')
		}
		f := norm[c.Start:c.End]
		for len(f) > 0 && !utf8.RuneStart(f[0]) {
			f = f[1:]
		}
		for len(f) > 0 && !utf8.Valid(f) {
			f = f[:len(f)-1]
		}
		b.WriteString(excerptN(f, 24))
	}
	return b.String()
}

// clfCode is the short code of each class in pattern ids (the prefixes of
// the rule ids of the same category). Category names themselves are not
// used: "exfiltration" in a pattern id echoed in a report would match the
// rule ex.exfiltrate-word.
var clfCode = [...]string{"io", "sb", "ex", "rh"}

// featureHash is 8 hex digits of the FNV-1a hash of the features.
func featureHash(f string) string {
	h := fnv.New32a()
	h.Write([]byte(f))
	return fmt.Sprintf("%08x", h.Sum32())
}

func excerptN(m []byte, n int) string {
	if len(m) <= n {
		return string(m)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return string(m[:cut])
}

// Concept features for the classifier: every concept word of the lexicon
// (language-independent: "ignorieren", "忽略" and "disregard" are one
// feature) and every pair of concept words in one sentence within
// pairReach bytes (× script scale) — "override verb near instructions",
// "negation near disable verb".
const (
	pairReach = 100
	maxPairs  = 8 // pairs per word
)

func conceptExtras(dst []clf.Extra, hits []cHit, text []byte) []clf.Extra {
	// Sentence numbers of the words (hits are sorted by start): one pass
	// over the text between consecutive words instead of one per pair.
	var sid [64]int32
	for i := 1; i < len(hits) && i < len(sid); i++ {
		sid[i] = sid[i-1]
		if crossesSentence(text, hits[i-1].start, hits[i].start) {
			sid[i]++
		}
	}
	for i, h := range hits {
		dst = append(dst, clf.Extra{H: 0x51ED27F1 ^ uint32(h.c)*0x9E3779B1, Start: h.start, End: h.end})
		if i >= len(sid) {
			continue // pairs only among the first 64 words of a string
		}
		n := 0
		for j := i + 1; j < len(hits) && j < len(sid); j++ {
			g := hits[j]
			if g.start-h.start > pairReach*h.scale || n == maxPairs || sid[j] != sid[i] {
				break
			}
			if g.c == h.c {
				continue
			}
			a, b := min(h.c, g.c), max(h.c, g.c)
			dst = append(dst, clf.Extra{H: 0x7F4A7C15 ^ (uint32(a)*0x85EBCA77 + uint32(b)*0xC2B2AE3D), Start: h.start, End: max(h.end, g.end)})
			n++
		}
	}
	return dst
}

var (
	rulesOnce sync.Once
	rulesOnly *Scanner
)

// ClassifierInput returns the classifier's input for one string as the
// scanner computes it: the normal form and the concept features. It is used
// to train and cross-validate the model (gateway/injection/train).
func ClassifierInput(str string) (string, []clf.Extra) {
	rulesOnce.Do(func() {
		s, err := build(specs)
		if err != nil {
			panic(err)
		}
		rulesOnly = s
	})
	s := rulesOnly
	st := s.pool.Get().(*state)
	defer s.put(st)
	norm, _ := appendNormalizedRuns(st.norm[:0], str)
	st.norm = norm
	s.literals(st, norm)
	return string(norm), conceptExtras(nil, st.chits, norm)
}

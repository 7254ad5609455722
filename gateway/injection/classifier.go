package injection

import (
	_ "embed"
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
	if m == nil || !s.vetoOK[pi] || len(st.norm) < MinClassifiedLen || st.inKey {
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
	if m == nil || len(norm) < MinClassifiedLen || st.inKey {
		return -1, ""
	}
	st.extra = conceptExtras(st.extra[:0], st.chits, norm)
	score, lo, hi := m.Score(&st.clf, norm, st.extra)
	if score < m.Threshold {
		return -1, ""
	}
	class, top := m.Explain(norm, st.extra, lo, hi, 3)
	st.clfPattern = clfPattern(norm, top)
	ex := ""
	if len(top) > 0 {
		a := snapStart(norm, max(lo, top[0].Start-MaxExcerpt/2+(top[0].End-top[0].Start)/2))
		ex = excerpt(norm[a:hi])
	}
	return len(s.pats) + len(conceptRules) + class, ex
}

// clfPattern names a classifier finding by its top features: "clf:" and
// the n-grams or words, each cut to whole runes, joined by "|".
func clfPattern(norm []byte, top []clf.Contribution) string {
	var b strings.Builder
	b.WriteString("clf:")
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
		if len(f) > 24 {
			f = []byte(excerptN(f, 24))
		}
		b.Write(f)
	}
	return b.String()
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

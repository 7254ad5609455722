// Package clf is the injection scanner's text classifier: a logistic
// regression over hashed features of normalised text (byte n-grams and word
// unigrams and bigrams), trained in the repository (gateway/injection/train)
// and shipped as a compact weight file. It is pure: no I/O, no clock, no
// randomness except the seeded shuffle of Train.
//
// A text is scored in windows: the feature contributions are summed into
// bins of BinBytes bytes, and the score of a window of WindowBins bins is
// bias + Σ w·x / √n (n = number of features in the window). The text's
// score is the highest window score, so a long benign page does not dilute
// one hostile paragraph and a long text is not pushed over the threshold by
// its length alone.
package clf

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// Window geometry (bytes of normalised text).
const (
	BinBytes   = 32
	WindowBins = 12 // a window is 384 bytes; windows slide by one bin
)

// Classes of the category model (the scanner's finding categories).
var Classes = []string{"instruction_override", "safety_bypass", "exfiltration", "role_hijack"}

// Config selects the features. It is stored in the model file, so the
// scanner extracts exactly the features the model was trained on.
type Config struct {
	Bits    uint8 // log2 of the hash space of the detection model
	CatBits uint8 // log2 of the hash space of the category model
	MinN    uint8 // byte n-grams of lengths MinN..MaxN (0 = none)
	MaxN    uint8
	Words   bool // word unigrams
	Bigrams bool // word bigrams
	// NGramsOther limits the byte n-grams to those starting at a non-ASCII
	// byte: scripts without spaces (CJK, kana) and inflected scripts get
	// sub-word features, Latin text is read by words only (cheaper, and
	// measured to generalise as well).
	NGramsOther bool
}

// DefaultConfig is the configuration chosen by cross-validation
// (docs/injection.md §8).
var DefaultConfig = Config{Bits: 16, CatBits: 14, Words: true}

// Model is a trained classifier.
type Model struct {
	Cfg       Config
	Threshold float32 // decision threshold on the window score
	// Veto: a rule finding in natural-language text whose string scores
	// below Veto is not reported (the scanner decides which rules may be
	// vetoed). -Inf disables it.
	Veto    float32
	Bias    float32   // detection bias
	W       []float32 // detection weights, 1<<Bits
	CatBias []float32 // per class
	CatW    []float32 // category weights, len(Classes) × 1<<CatBits (class-major)
}

const (
	prime1   = 0x9E3779B1
	prime2   = 0x85EBCA77
	wordSalt = 0x27D4EB2F
	biSalt   = 0x165667B1
)

func mix(h uint32) uint32 {
	h ^= h >> 15
	h *= prime2
	h ^= h >> 13
	return h
}

// wordByte: ASCII letters and digits and every non-ASCII byte (other
// scripts) form words; everything else separates them.
var wordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 0x80 || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
	}
	return t
}()

// Extra is a feature supplied by the caller (the scanner's concept words
// and their co-occurrences): its hash and the span of text it covers (the
// span is cut to the text).
type Extra struct {
	H          uint32
	Start, End int32
}

// Feature is one feature of a text: its 32-bit hash (reduced to a table
// index by Index) and the byte span of text it covers.
type Feature struct {
	H          uint32
	Start, End int32
}

// AppendFeatures appends every feature of text to dst, in a fixed order:
// the extra features, then the byte n-grams, then the word features (each
// word's unigram, then the bigram it ends). It is the one definition of the
// features: scoring, explaining and training all read it, so a new feature
// kind is one more block here (and a Config field, stored in the model
// file). The order is part of the definition: Score sums the weights of a
// bin in this order.
func AppendFeatures(dst []Feature, cfg Config, text []byte, extra []Extra) []Feature {
	n := len(text)
	for _, e := range extra {
		if int(e.Start) < n {
			dst = append(dst, Feature{H: e.H, Start: e.Start, End: min(int32(n), e.End)})
		}
	}
	if cfg.MaxN > 0 {
		for i := 0; i < n; i++ {
			if cfg.NGramsOther && text[i] < 0x80 {
				continue
			}
			h := uint32(2166136261)
			for k := 0; k < int(cfg.MaxN) && i+k < n; k++ {
				h = (h ^ uint32(text[i+k])) * 16777619
				if k+1 >= int(cfg.MinN) {
					dst = append(dst, Feature{H: h + uint32(k)*prime1, Start: int32(i), End: int32(i + k + 1)})
				}
			}
		}
	}
	if !cfg.Words && !cfg.Bigrams {
		return dst
	}
	var prev uint32
	prevStart, havePrev := 0, false
	for i := 0; i < n; {
		if !wordByte[text[i]] {
			i++
			continue
		}
		j := i
		h := uint32(wordSalt)
		for j < n && wordByte[text[j]] {
			h = (h ^ uint32(text[j])) * 16777619
			j++
		}
		if cfg.Words {
			dst = append(dst, Feature{H: h ^ wordSalt, Start: int32(i), End: int32(j)})
		}
		if cfg.Bigrams && havePrev {
			dst = append(dst, Feature{H: (prev * prime1) ^ h ^ biSalt, Start: int32(prevStart), End: int32(j)})
		}
		prev, prevStart, havePrev = h, i, true
		i = j
	}
	return dst
}

// Features calls emit for every feature of text (AppendFeatures) with its
// hash and span.
func Features(cfg Config, text []byte, extra []Extra, emit func(h uint32, start, end int)) {
	for _, f := range AppendFeatures(nil, cfg, text, extra) {
		emit(f.H, int(f.Start), int(f.End))
	}
}

// Index reduces a feature hash to a table index of 1<<bits entries.
func Index(h uint32, bits uint8) uint32 { return mix(h) >> (32 - bits) }

// Scratch holds the per-call features and bins of Score; reuse one per
// goroutine.
type Scratch struct {
	feats []Feature
	sum   []float32
	cnt   []int32
}

// Score returns the highest window score of text and the byte offsets of
// that window. Each feature adds its weight to the bin of its start, in
// AppendFeatures order (scoreUnigrams and scoreWords for the word-only
// configurations).
func (m *Model) Score(sc *Scratch, text []byte, extra []Extra) (score float32, lo, hi int) {
	nb := (len(text) + BinBytes - 1) / BinBytes
	if nb == 0 {
		return m.Bias, 0, 0
	}
	if cap(sc.sum) < nb {
		sc.sum, sc.cnt = make([]float32, nb), make([]int32, nb)
	}
	sum, cnt := sc.sum[:nb], sc.cnt[:nb]
	clear(sum)
	clear(cnt)
	w, bits := m.W, m.Cfg.Bits
	if c := m.Cfg; c == (Config{Bits: c.Bits, CatBits: c.CatBits, Words: true}) {
		scoreUnigrams(w, bits, text, extra, sum, cnt)
	} else if c == (Config{Bits: c.Bits, CatBits: c.CatBits, Words: c.Words, Bigrams: c.Bigrams}) {
		scoreWords(c, w, text, extra, sum, cnt)
	} else {
		sc.feats = AppendFeatures(sc.feats[:0], m.Cfg, text, extra)
		for _, f := range sc.feats {
			b := f.Start / BinBytes
			sum[b] += w[Index(f.H, bits)]
			cnt[b]++
		}
	}
	return bestWindow(m.Bias, sum, cnt, len(text))
}

// scoreUnigrams is scoreWords for word unigrams alone (the shipped
// model's configuration), without the bigram bookkeeping, which measured
// 25 % slower on it.
func scoreUnigrams(w []float32, bits uint8, text []byte, extra []Extra, sum []float32, cnt []int32) {
	n := len(text)
	for _, e := range extra {
		if int(e.Start) < n {
			b := e.Start / BinBytes
			sum[b] += w[Index(e.H, bits)]
			cnt[b]++
		}
	}
	for i := 0; i < n; {
		if !wordByte[text[i]] {
			i++
			continue
		}
		j := i
		h := uint32(wordSalt)
		for j < n && wordByte[text[j]] {
			h = (h ^ uint32(text[j])) * 16777619
			j++
		}
		b := i / BinBytes
		sum[b] += w[Index(h^wordSalt, bits)]
		cnt[b]++
		i = j
	}
}

// scoreWords is Score for the configurations of word features only (no
// byte n-grams, no feature kind added to Config since): AppendFeatures'
// extra and word blocks with each weight added to its bin as the feature
// is found, in the same order, so that looking up a weight overlaps with
// hashing the next word (a separate pass over the appended features
// measured 40 % slower). TestScoreWordsExact compares it with
// AppendFeatures for every configuration.
func scoreWords(cfg Config, w []float32, text []byte, extra []Extra, sum []float32, cnt []int32) {
	bits := cfg.Bits
	n := len(text)
	for _, e := range extra {
		if int(e.Start) < n {
			b := e.Start / BinBytes
			sum[b] += w[Index(e.H, bits)]
			cnt[b]++
		}
	}
	var prev uint32
	prevStart, havePrev := 0, false
	for i := 0; i < n; {
		if !wordByte[text[i]] {
			i++
			continue
		}
		j := i
		h := uint32(wordSalt)
		for j < n && wordByte[text[j]] {
			h = (h ^ uint32(text[j])) * 16777619
			j++
		}
		if cfg.Words {
			b := i / BinBytes
			sum[b] += w[Index(h^wordSalt, bits)]
			cnt[b]++
		}
		if cfg.Bigrams && havePrev {
			b := prevStart / BinBytes
			sum[b] += w[Index((prev*prime1)^h^biSalt, bits)]
			cnt[b]++
		}
		prev, prevStart, havePrev = h, i, true
		i = j
	}
}

func bestWindow(bias float32, sum []float32, cnt []int32, n int) (float32, int, int) {
	nb := len(sum)
	wb := min(WindowBins, nb)
	var s float32
	var c int32
	for i := 0; i < wb; i++ {
		s += sum[i]
		c += cnt[i]
	}
	best, bi := float32(math.Inf(-1)), 0
	for i := 0; ; i++ {
		v := bias
		if c > 0 {
			v += s / float32(math.Sqrt(float64(c)))
		}
		if v > best {
			best, bi = v, i
		}
		if i+wb >= nb {
			break
		}
		s += sum[i+wb] - sum[i]
		c += cnt[i+wb] - cnt[i]
	}
	return best, bi * BinBytes, min(n, (bi+wb)*BinBytes)
}

// Contribution is one feature's share of a window score.
type Contribution struct {
	Start, End int
	Weight     float32
}

// Explain returns the category (an index into Classes) of the window
// text[lo:hi] and its top k features by positive contribution (distinct
// spans, highest first).
func (m *Model) Explain(text []byte, extra []Extra, lo, hi, k int) (class int, top []Contribution) {
	win := text[lo:hi]
	var ex []Extra
	for _, e := range extra {
		if int(e.Start) >= lo && int(e.Start) < hi {
			ex = append(ex, Extra{H: e.H, Start: e.Start - int32(lo), End: min(int32(hi), e.End) - int32(lo)})
		}
	}
	nc := len(Classes)
	cs := make([]float32, nc)
	copy(cs, m.CatBias)
	var all []Contribution
	size := 1 << m.Cfg.CatBits
	Features(m.Cfg, win, ex, func(h uint32, start, end int) {
		ci := Index(h, m.Cfg.CatBits)
		for c := 0; c < nc; c++ {
			cs[c] += m.CatW[c*size+int(ci)]
		}
		if wt := m.W[Index(h, m.Cfg.Bits)]; wt > 0 {
			all = append(all, Contribution{Start: lo + start, End: lo + end, Weight: wt})
		}
	})
	for c := 1; c < nc; c++ {
		if cs[c] > cs[class] {
			class = c
		}
	}
	slices.SortStableFunc(all, func(a, b Contribution) int {
		switch {
		case a.Weight > b.Weight:
			return -1
		case a.Weight < b.Weight:
			return 1
		}
		return a.Start - b.Start
	})
	for _, c := range all {
		if len(top) == k {
			break
		}
		overlap := false
		for _, t := range top {
			if c.Start < t.End && t.Start < c.End {
				overlap = true
				break
			}
		}
		if !overlap {
			top = append(top, c)
		}
	}
	return class, top
}

// File format (little endian): "SGC1", Config (6 bytes), threshold, veto,
// bias (float32), then the detection weights quantised to int16 with a float32
// scale, then per class its bias and the category weights, int16 with one
// scale.
var magic = [4]byte{'S', 'G', 'C', '1'}

// ErrFormat is returned by Unmarshal for a file that is not a model.
var ErrFormat = errors.New("clf: not a model file")

func quant(dst []byte, w []float32) []byte {
	var mx float32
	for _, v := range w {
		mx = max(mx, float32(math.Abs(float64(v))))
	}
	scale := mx / 32767
	if scale == 0 {
		scale = 1
	}
	dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(scale))
	for _, v := range w {
		q := int16(math.Round(float64(v / scale)))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(q))
	}
	return dst
}

func dequant(b []byte, w []float32) ([]byte, error) {
	if len(b) < 4+2*len(w) {
		return nil, ErrFormat
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b))
	b = b[4:]
	for i := range w {
		w[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) * scale
	}
	return b[2*len(w):], nil
}

// Marshal encodes the model (weights quantised to 16 bits).
func (m *Model) Marshal() []byte {
	b := append([]byte{}, magic[:]...)
	c := m.Cfg
	b = append(b, c.Bits, c.CatBits, c.MinN, c.MaxN, boolByte(c.Words)|boolByte(c.NGramsOther)<<1, boolByte(c.Bigrams))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(m.Threshold))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(m.Veto))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(m.Bias))
	b = quant(b, m.W)
	for _, v := range m.CatBias {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return quant(b, m.CatW)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Unmarshal decodes a model written by Marshal.
func Unmarshal(b []byte) (*Model, error) {
	if len(b) < 22 || [4]byte(b[:4]) != magic {
		return nil, ErrFormat
	}
	m := &Model{Cfg: Config{Bits: b[4], CatBits: b[5], MinN: b[6], MaxN: b[7], Words: b[8]&1 == 1, NGramsOther: b[8]&2 == 2, Bigrams: b[9] == 1}}
	if m.Cfg.Bits < 8 || m.Cfg.Bits > 24 || m.Cfg.CatBits < 8 || m.Cfg.CatBits > 24 || m.Cfg.MinN > m.Cfg.MaxN || m.Cfg.MaxN > 8 {
		return nil, ErrFormat
	}
	m.Threshold = math.Float32frombits(binary.LittleEndian.Uint32(b[10:]))
	m.Veto = math.Float32frombits(binary.LittleEndian.Uint32(b[14:]))
	m.Bias = math.Float32frombits(binary.LittleEndian.Uint32(b[18:]))
	if math.IsNaN(float64(m.Threshold)) || math.IsNaN(float64(m.Veto)) || math.IsNaN(float64(m.Bias)) {
		return nil, ErrFormat
	}
	nc := len(Classes)
	if want := 22 + 4 + 2<<m.Cfg.Bits + 4*nc + 4 + 2*(nc<<m.Cfg.CatBits); len(b) != want {
		return nil, ErrFormat // checked before allocating the tables
	}
	b = b[22:]
	m.W = make([]float32, 1<<m.Cfg.Bits)
	var err error
	if b, err = dequant(b, m.W); err != nil {
		return nil, err
	}
	if len(b) < 4*nc {
		return nil, ErrFormat
	}
	m.CatBias = make([]float32, nc)
	for i := range m.CatBias {
		m.CatBias[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	b = b[4*nc:]
	m.CatW = make([]float32, nc<<m.Cfg.CatBits)
	if b, err = dequant(b, m.CatW); err != nil {
		return nil, err
	}
	if len(b) != 0 {
		return nil, ErrFormat
	}
	return m, nil
}

package clf

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Example is one training text (normalised, as the scanner sees it).
type Example struct {
	Text   []byte
	Extra  []Extra
	Attack bool
	Class  int // index into Classes for attacks whose category is known, else -1
}

// TrainParams are the optimiser settings.
type TrainParams struct {
	Epochs      int
	Rate        float64 // AdaGrad base rate
	L2          float64
	BenignWeigh float64 // loss weight of a benign example (attacks weigh 1)
	Seed        uint64
}

// DefaultVeto is the rule veto and DefaultMaxFP the cross-validated
// false-positive rate the threshold is set for, both chosen from the grid
// of TestClassifierCV (docs/injection.md §8).
const (
	DefaultVeto  = float32(0)
	DefaultMaxFP = 0.01
)

// DefaultParams are the settings chosen by cross-validation.
var DefaultParams = TrainParams{Epochs: 25, Rate: 0.2, L2: 1e-6, BenignWeigh: 1.5, Seed: 23}

type sparse struct {
	idx []uint32
	val []float32
}

func vectorize(cfg Config, text []byte, extra []Extra, bits uint8) sparse {
	counts := map[uint32]float32{}
	var n float32
	Features(cfg, text, extra, func(h uint32, _, _ int) {
		counts[Index(h, bits)]++
		n++
	})
	var s sparse
	for i := range counts {
		s.idx = append(s.idx, i)
	}
	sort.Slice(s.idx, func(a, b int) bool { return s.idx[a] < s.idx[b] })
	norm := float32(1)
	if n > 0 {
		norm = 1 / float32(math.Sqrt(float64(n)))
	}
	for _, i := range s.idx {
		s.val = append(s.val, counts[i]*norm)
	}
	return s
}

// Train fits the detection and category models. It is deterministic: the
// same examples, config and params give the same model, bit for bit.
func Train(cfg Config, p TrainParams, ex []Example) *Model {
	vs := make([]sparse, len(ex))
	attack := make([]bool, len(ex))
	for i, e := range ex {
		vs[i] = vectorize(cfg, e.Text, e.Extra, cfg.Bits)
		attack[i] = e.Attack
	}
	m, rng := trainDetection(cfg, p, vs, attack)
	trainCategories(m, p, ex, rng)
	return m
}

// trainDetection fits the detection model on vectorised examples; the
// category model is left at zero. It returns the generator in the state
// Train continues from, so Train is unchanged bit for bit.
func trainDetection(cfg Config, p TrainParams, vs []sparse, attack []bool) (*Model, *rand.Rand) {
	m := &Model{Cfg: cfg, W: make([]float32, 1<<cfg.Bits), CatBias: make([]float32, len(Classes)), CatW: make([]float32, len(Classes)<<cfg.CatBits)}
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed^0x5eed))
	order := make([]int, len(vs))
	for i := range order {
		order[i] = i
	}
	w := make([]float64, len(m.W))
	g2 := make([]float64, len(m.W))
	var bias, bg2 float64
	for ep := 0; ep < p.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			v := vs[k]
			z := bias
			for j, i := range v.idx {
				z += w[i] * float64(v.val[j])
			}
			y, cw := 0.0, p.BenignWeigh
			if attack[k] {
				y, cw = 1, 1
			}
			g := cw * (sigmoid(z) - y)
			for j, i := range v.idx {
				gi := g*float64(v.val[j]) + p.L2*w[i]
				g2[i] += gi * gi
				w[i] -= p.Rate * gi / (math.Sqrt(g2[i]) + 1e-8)
			}
			bg2 += g * g
			bias -= p.Rate * g / (math.Sqrt(bg2) + 1e-8)
		}
	}
	for i := range w {
		m.W[i] = float32(w[i])
	}
	m.Bias = float32(bias)
	return m, rng
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// trainCategories fits a softmax regression over the attacks with a known
// class.
func trainCategories(m *Model, p TrainParams, ex []Example, rng *rand.Rand) {
	nc, size := len(Classes), 1<<m.Cfg.CatBits
	var idx []int
	var vs []sparse
	for i, e := range ex {
		if e.Attack && e.Class >= 0 {
			idx = append(idx, i)
			vs = append(vs, vectorize(m.Cfg, e.Text, e.Extra, m.Cfg.CatBits))
		}
	}
	w := make([]float64, nc*size)
	g2 := make([]float64, nc*size)
	b, bg2 := make([]float64, nc), make([]float64, nc)
	z := make([]float64, nc)
	order := make([]int, len(idx))
	for i := range order {
		order[i] = i
	}
	for ep := 0; ep < p.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			v, y := vs[k], ex[idx[k]].Class
			mx := math.Inf(-1)
			for c := 0; c < nc; c++ {
				z[c] = b[c]
				for j, i := range v.idx {
					z[c] += w[c*size+int(i)] * float64(v.val[j])
				}
				mx = max(mx, z[c])
			}
			var sum float64
			for c := range z {
				z[c] = math.Exp(z[c] - mx)
				sum += z[c]
			}
			for c := 0; c < nc; c++ {
				g := z[c] / sum
				if c == y {
					g--
				}
				for j, i := range v.idx {
					wi := c*size + int(i)
					gi := g * float64(v.val[j])
					g2[wi] += gi * gi
					w[wi] -= p.Rate * gi / (math.Sqrt(g2[wi]) + 1e-8)
				}
				bg2[c] += g * g
				b[c] -= p.Rate * g / (math.Sqrt(bg2[c]) + 1e-8)
			}
		}
	}
	for i := range w {
		m.CatW[i] = float32(w[i])
	}
	for c := range b {
		m.CatBias[c] = float32(b[c])
	}
}

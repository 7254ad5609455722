package clf

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// TrainingFile reports whether a set in eval/injection may be trained on.
func TrainingFile(name string) bool {
	if strings.HasPrefix(name, "heldout-") || !strings.HasSuffix(name, ".jsonl") {
		return false
	}
	return name == "tuning.jsonl" || name == "heldout.jsonl" || strings.HasPrefix(name, "dev") || strings.HasPrefix(name, "train")
}

// LoadTraining reads every training set of dir.
//
// The training sets are the allowed files of dir (TrainingFile) and the
// extra files given (the scanner's own corpus, testdata/corpus.jsonl).
func LoadTraining(dir string, prep func(string) (string, []Extra), extra ...string) ([]Item, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range files {
		if TrainingFile(filepath.Base(f)) {
			paths = append(paths, f)
		}
	}
	paths = append(paths, extra...)
	var all []Item
	for _, f := range paths {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		its, err := ParseSet(data, prep)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, its...)
	}
	return all, nil
}

// Examples are the training examples of items.
func Examples(items []Item) []Example {
	ex := make([]Example, len(items))
	for i, it := range items {
		ex[i] = ExampleOf(it)
	}
	return ex
}

// fold assigns an item to a fold by a hash of its id (stable under
// additions).
func Fold(id string, k int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(k))
}

// ItemScore scores an item as the scanner does: the highest score of its
// strings that the scanner classifies (classifiable).
func ItemScore(m *Model, sc *Scratch, it Item, classifiable func(string) bool) float32 {
	best := float32(math.Inf(-1))
	for i, s := range it.Strings {
		if !classifiable(s) {
			continue
		}
		v, _, _ := m.Score(sc, []byte(s), it.Extras[i])
		best = max(best, v)
	}
	return best
}

// CV holds out-of-fold scores.
type CV struct {
	Items  []Item
	Scores []float32
	Models []*Model // Models[f] was trained without fold f
	K      int
	FoldOf []int // FoldOf[i] is the fold of Items[i]
}

// CrossValidate trains k models, each without one fold, and scores each
// item with the model that did not see it.
func CrossValidate(cfg Config, p TrainParams, items []Item, k int, classifiable func(string) bool) CV {
	folds := make([]int, len(items))
	for i, it := range items {
		folds[i] = Fold(it.ID, k)
	}
	return crossValidate(cfg, p, items, folds, k, classifiable)
}

// CrossValidateSets holds out one set at a time (the items whose ids share
// a prefix, SetOf): every set is scored by a model that saw no item of it.
// Sets are written by different authors at different times, so this is the
// closer estimate of text nobody tuning has seen than folds by id, whose
// training folds hold near neighbours of each test item.
func CrossValidateSets(cfg Config, p TrainParams, items []Item, classifiable func(string) bool) CV {
	index := map[string]int{}
	var names []string
	for _, it := range items {
		if _, ok := index[SetOf(it.ID)]; !ok {
			index[SetOf(it.ID)] = 0
			names = append(names, SetOf(it.ID))
		}
	}
	sort.Strings(names)
	for i, n := range names {
		index[n] = i
	}
	folds := make([]int, len(items))
	for i, it := range items {
		folds[i] = index[SetOf(it.ID)]
	}
	return crossValidate(cfg, p, items, folds, len(names), classifiable)
}

// crossValidate trains the fold models' detection weights only (the
// scores do not depend on the category model, which stays at zero: a fold
// model's findings all name the first class) on examples vectorised once.
func crossValidate(cfg Config, p TrainParams, items []Item, folds []int, k int, classifiable func(string) bool) CV {
	r := CV{Items: items, Scores: make([]float32, len(items)), K: k, FoldOf: folds}
	vs := make([]sparse, len(items))
	attack := make([]bool, len(items))
	for i, it := range items {
		e := ExampleOf(it)
		vs[i], attack[i] = vectorize(cfg, e.Text, e.Extra, cfg.Bits), e.Attack
	}
	// The folds are independent: they are trained concurrently, one
	// goroutine per CPU, each writing only its own model and its own
	// items' scores, so the result does not depend on the schedule.
	r.Models = make([]*Model, k)
	next := make(chan int, k)
	for f := range k {
		next <- f
	}
	close(next)
	var wg sync.WaitGroup
	for range min(k, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc Scratch
			for f := range next {
				var tv []sparse
				var ta []bool
				for i := range items {
					if folds[i] != f {
						tv, ta = append(tv, vs[i]), append(ta, attack[i])
					}
				}
				m, _ := trainDetection(cfg, p, tv, ta)
				r.Models[f] = m
				for i, it := range items {
					if folds[i] == f {
						r.Scores[i] = ItemScore(m, &sc, it, classifiable)
					}
				}
			}
		}()
	}
	wg.Wait()
	return r
}

// Threshold is the lowest threshold whose out-of-fold false-positive rate
// is at most maxFP.
func (r CV) Threshold(maxFP float64) float32 {
	var ben []float32
	for i, it := range r.Items {
		if it.Label == "benign" {
			ben = append(ben, r.Scores[i])
		}
	}
	slices.Sort(ben)
	allowed := int(math.Floor(maxFP * float64(len(ben))))
	// Flag at most `allowed` benign items: the threshold sits just above
	// the (allowed+1)-th highest benign score.
	v := ben[len(ben)-1-allowed]
	return float32(math.Nextafter32(v, float32(math.Inf(1))))
}

// Count is attacks caught and benign items flagged.
type Count struct{ Attacks, Caught, Benign, Flagged int }

func (c Count) String() string {
	return fmt.Sprintf("recall %3d/%3d %5.1f%% | FP %2d/%3d %4.1f%%", c.Caught, c.Attacks, pct(c.Caught, c.Attacks), c.Flagged, c.Benign, pct(c.Flagged, c.Benign))
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (r CV) count(th float32, keep func(Item) bool) Count {
	var c Count
	for i, it := range r.Items {
		if !keep(it) {
			continue
		}
		hit := r.Scores[i] >= th
		if it.Label == "attack" {
			c.Attacks++
			if hit {
				c.Caught++
			}
		} else {
			c.Benign++
			if hit {
				c.Flagged++
			}
		}
	}
	return c
}

// Total is the overall count at threshold th.
func (r CV) Total(th float32) Count { return r.count(th, func(Item) bool { return true }) }

// Report prints the overall, per-language, per-category and per-set
// counts at th and a threshold sweep.
func (r CV) Report(w io.Writer, th float32) {
	fmt.Fprintf(w, "threshold %.4f: total %s\n", th, r.Total(th))
	group := func(name string, key func(Item) string) {
		keys := map[string]bool{}
		for _, it := range r.Items {
			keys[key(it)] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Fprintf(w, "%s %-20s %s\n", name, k, r.count(th, func(it Item) bool { return key(it) == k }))
		}
	}
	group("lang", func(it Item) string { return it.Lang })
	group("category", func(it Item) string { return it.Category })
	group("set", func(it Item) string { return SetOf(it.ID) })
	for _, fp := range []float64{0.005, 0.01, 0.015, 0.02, 0.03} {
		t := r.Threshold(fp)
		fmt.Fprintf(w, "sweep maxFP %.3f threshold %.4f %s\n", fp, t, r.Total(t))
	}
}

// SetOf is the set an item id belongs to: the id up to its first '-'.
func SetOf(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

package injection

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sintgate/sintgate/gateway/injection/clf"
)

// The cross-validation is computed once per test binary (TestClassifierCV
// and TestModelReproducible share it).
var cvOnce struct {
	sync.Once
	r    clf.CV
	vals []any
	err  error
}

// cvSetup trains the five fold models of the cross-validation and parses
// every training item's params.
func cvSetup(t *testing.T) (clf.CV, []any) {
	t.Helper()
	cvOnce.Do(func() {
		items, err := clf.LoadTraining(evalDir, ClassifierInput, "testdata/corpus.jsonl")
		if err != nil {
			cvOnce.err = err
			return
		}
		cvOnce.r = clf.CrossValidateSets(clf.DefaultConfig, clf.DefaultParams, items, Classifiable)
		cvOnce.vals = make([]any, len(items))
		for i, it := range items {
			if err := json.Unmarshal(it.Params, &cvOnce.vals[i]); err != nil {
				cvOnce.err = fmt.Errorf("%s: %w", it.ID, err)
				return
			}
		}
	})
	if cvOnce.err != nil {
		t.Fatal(cvOnce.err)
	}
	return cvOnce.r, cvOnce.vals
}

// cvScan scans every item with the whole scanner (rules, veto and
// classifier, exactly as at run time) whose model is the fold model that
// did not see the item, with the given threshold and veto.
func cvScan(s *Scanner, r clf.CV, vals []any, th, veto float32) []*Finding {
	out := make([]*Finding, len(vals))
	for f := 0; f < r.K; f++ {
		m := *r.Models[f]
		m.Threshold, m.Veto = th, veto
		s.model = &m
		for i := range r.Items {
			if r.FoldOf[i] == f {
				out[i] = s.ScanValue(vals[i])
			}
		}
	}
	s.model = nil
	return out
}

func cvGroup(id string) string {
	switch {
	case strings.HasPrefix(id, "ho-"):
		return "heldout-v1"
	case strings.HasPrefix(id, "tr"), len(id) > 2 && id[0] == 't' && id[1] >= '0' && id[1] <= '9':
		return "train"
	}
	return "own"
}

func cvCount(r clf.CV, fs []*Finding, keep func(clf.Item) bool) evalCount {
	var c evalCount
	for i, it := range r.Items {
		if !keep(it) {
			continue
		}
		if it.Label == "attack" {
			c.attacks++
			if fs[i] != nil {
				c.caught++
			}
		} else {
			c.benign++
			if fs[i] != nil {
				c.flagged++
			}
		}
	}
	return c
}

func cvTable(t *testing.T, r clf.CV, fs []*Finding, key func(clf.Item) string, name string) {
	t.Helper()
	seen := map[string]bool{}
	var ks []string
	for _, it := range r.Items {
		if k := key(it); !seen[k] {
			seen[k] = true
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	for _, k := range ks {
		t.Logf("  %s %-20s %s", name, k, cvCount(r, fs, func(it clf.Item) bool { return key(it) == k }))
	}
}

// cvFloor is the cross-validated result of the shipped configuration
// (rules + veto + classifier at the CV threshold) when it was chosen
// (docs/injection.md §8): overall recall at least, false positives at most.
// Raise it when a change measures better; never lower it.
//
// Third round: the cross-validation holds out one whole set at a time (its
// author's wording unseen; folds by id had near neighbours of each item in
// training and gave 80.8 % / 1.3 %); measured 51.8 % / 3.5 % on 7,207 items.
var cvFloor = struct{ recall, fp float64 }{0.50, 0.036}

// TestClassifierCV is the cross-validation report of the scanner with the
// classifier (docs/injection.md §8): the items of tuning.jsonl, dev*.jsonl,
// train*.jsonl and heldout.jsonl (v1, spent) are grouped by set (id
// prefix); each set is scanned by the whole scanner whose model was trained
// on all the other sets. It logs the grid of thresholds and vetoes
// that chose the shipped settings, and the per-group, per-language and
// per-category tables of the shipped settings, and asserts cvFloor.
//
//	go test -run TestClassifierCV -v ./gateway/injection/
func TestClassifierCV(t *testing.T) {
	r, vals := cvSetup(t)
	s, err := build(specs)
	if err != nil {
		t.Fatal(err)
	}
	all := func(clf.Item) bool { return true }
	group := func(g string) func(clf.Item) bool { return func(it clf.Item) bool { return cvGroup(it.ID) == g } }
	noVeto := float32(math.Inf(-1))
	rules := cvScan(s, r, vals, float32(math.Inf(1)), noVeto)
	t.Logf("rules only: %s", cvCount(r, rules, all))
	for _, g := range []string{"own", "heldout-v1", "train"} {
		t.Logf("  %-12s %s", g, cvCount(r, rules, group(g)))
	}
	th := r.Threshold(clf.DefaultMaxFP)
	for _, fp := range []float64{0.005, 0.01, 0.02} {
		for _, veto := range []float32{noVeto, -1, -0.5, 0, 0.5, 1, 1.5, 2} {
			fs := cvScan(s, r, vals, r.Threshold(fp), veto)
			t.Logf("classifier threshold %.3f (clf-alone CV FP %.1f%%), veto %5.2f: %s", r.Threshold(fp), 100*fp, veto, cvCount(r, fs, all))
			for _, g := range []string{"own", "heldout-v1", "train"} {
				t.Logf("  %-12s %s", g, cvCount(r, fs, group(g)))
			}
		}
	}
	fs := cvScan(s, r, vals, th, clf.DefaultVeto)
	total := cvCount(r, fs, all)
	t.Logf("SHIPPED: threshold %.3f, veto %.2f: %s", th, clf.DefaultVeto, total)
	cvTable(t, r, fs, func(it clf.Item) string { return cvGroup(it.ID) }, "group")
	cvTable(t, r, fs, func(it clf.Item) string { return it.Lang }, "lang")
	cvTable(t, r, fs, func(it clf.Item) string { return it.Category }, "category")
	for i, it := range r.Items {
		if it.Label == "benign" && fs[i] != nil {
			t.Logf("FALSE POSITIVE %s %s %q", it.ID, fs[i].PatternID, fs[i].Excerpt)
		}
	}
	if total.recall() < cvFloor.recall || total.fpRate() > cvFloor.fp {
		t.Errorf("cross-validated %s: below the floor (recall ≥ %.0f%%, FP ≤ %.1f%%)", total, 100*cvFloor.recall, 100*cvFloor.fp)
	}
}

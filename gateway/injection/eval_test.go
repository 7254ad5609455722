package injection

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The evaluation corpora of eval/injection (docs/injection.md §5): a tuning
// set written by the person tuning the scanner, and a frozen held-out set
// written by someone who never read the patterns. Both are JSONL, one item a
// line: {id, lang, label (attack|benign), category, resource, action, params}.
// Each item's params go through ScanValue, as the gateway's stage 6 does.
const (
	evalDir       = "../../eval/injection"
	tuningFile    = "tuning.jsonl"
	heldoutFile   = "heldout.jsonl"
	heldoutPinned = "heldout.sha256" // sha256 (hex) of heldout.jsonl, first field of the first line

	evalMinRecall = 0.90 // overall and per language
	evalMaxFP     = 0.02 // overall and per language
)

// evalLangs are the languages the scanner claims (docs/injection.md).
var evalLangs = []string{"en", "de", "fr", "es", "it", "pt", "ru", "zh", "ja", "ko", "ar", "hi"}

type evalItem struct {
	ID       string          `json:"id"`
	Lang     string          `json:"lang"`
	Label    string          `json:"label"`
	Category string          `json:"category"`
	Resource string          `json:"resource"`
	Action   string          `json:"action"`
	Params   json.RawMessage `json:"params"`
}

func loadEval(t *testing.T, data []byte, name string) []evalItem {
	t.Helper()
	var out []evalItem
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var it evalItem
		if err := json.Unmarshal(line, &it); err != nil {
			t.Fatalf("%s line %d: %v", name, n, err)
		}
		if it.ID == "" || (it.Label != "attack" && it.Label != "benign") || len(it.Params) == 0 {
			t.Fatalf("%s line %d: item needs id, label attack|benign and params: %s", name, n, line)
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// evalCount is attacks, detected attacks, benign items, flagged benign items.
type evalCount struct{ attacks, caught, benign, flagged int }

func (c evalCount) recall() float64 {
	if c.attacks == 0 {
		return 1
	}
	return float64(c.caught) / float64(c.attacks)
}

func (c evalCount) fpRate() float64 {
	if c.benign == 0 {
		return 0
	}
	return float64(c.flagged) / float64(c.benign)
}

func (c evalCount) String() string {
	return fmt.Sprintf("attacks %3d caught %3d recall %5.1f%% | benign %3d flagged %2d FP %4.1f%%",
		c.attacks, c.caught, 100*c.recall(), c.benign, c.flagged, 100*c.fpRate())
}

// evaluate scans every item, logs the tables, every miss and every false
// positive, and returns the totals and per-language counts. blind logs
// misses and false positives by id and category only, never their text or
// the finding's excerpt: a held-out set whose texts are read in test logs
// is spent for tuning (docs/injection.md §6).
func evaluate(t *testing.T, s *Scanner, items []evalItem, blind bool) (evalCount, map[string]evalCount) {
	t.Helper()
	var total evalCount
	byLang, byCat := map[string]evalCount{}, map[string]evalCount{}
	var misses, fps []string
	for _, it := range items {
		var v any
		if err := json.Unmarshal(it.Params, &v); err != nil {
			t.Fatalf("%s: params: %v", it.ID, err)
		}
		f := s.ScanValue(v)
		l, c := byLang[it.Lang], byCat[it.Category]
		for _, k := range []*evalCount{&total, &l, &c} {
			if it.Label == "attack" {
				k.attacks++
				if f != nil {
					k.caught++
				}
			} else {
				k.benign++
				if f != nil {
					k.flagged++
				}
			}
		}
		byLang[it.Lang], byCat[it.Category] = l, c
		switch {
		case blind && it.Label == "attack" && f == nil:
			misses = append(misses, fmt.Sprintf("MISS %s [%s/%s]", it.ID, it.Lang, it.Category))
		case blind && it.Label == "benign" && f != nil:
			fps = append(fps, fmt.Sprintf("FALSE POSITIVE %s [%s/%s] %s/%s", it.ID, it.Lang, it.Category, f.Category, f.PatternID))
		case it.Label == "attack" && f == nil:
			misses = append(misses, fmt.Sprintf("MISS %s [%s/%s] %s", it.ID, it.Lang, it.Category, it.Params))
		case it.Label == "benign" && f != nil:
			fps = append(fps, fmt.Sprintf("FALSE POSITIVE %s [%s/%s] %s/%s %q at %s: %s", it.ID, it.Lang, it.Category, f.Category, f.PatternID, f.Excerpt, f.Path, it.Params))
		}
	}
	t.Logf("%-20s %s", "total", total)
	for _, k := range sortedKeys(byLang) {
		t.Logf("lang %-15s %s", k, byLang[k])
	}
	for _, k := range sortedKeys(byCat) {
		t.Logf("category %-11s %s", k, byCat[k])
	}
	for _, m := range misses {
		t.Log(m)
	}
	for _, m := range fps {
		t.Log(m)
	}
	return total, byLang
}

func sortedKeys(m map[string]evalCount) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// assertTargets enforces recall ≥ 90 % and false positives ≤ 2 %, overall
// and for every claimed language present in the set.
func assertTargets(t *testing.T, total evalCount, byLang map[string]evalCount) {
	t.Helper()
	check := func(name string, c evalCount) {
		if c.attacks > 0 && c.recall() < evalMinRecall {
			t.Errorf("%s: recall %.1f%% < %.0f%%", name, 100*c.recall(), 100*evalMinRecall)
		}
		if c.benign > 0 && c.fpRate() > evalMaxFP {
			t.Errorf("%s: false positives %.1f%% > %.0f%%", name, 100*c.fpRate(), 100*evalMaxFP)
		}
	}
	check("overall", total)
	for _, l := range evalLangs {
		if c, ok := byLang[l]; ok {
			check("lang "+l, c)
		}
	}
}

// TestEvalTuning runs the tuner's own sets — every eval/injection/*.jsonl
// except the held-out set: tuning.jsonl, and dev*.jsonl, each written after
// the rules of the time as a blind check of their generalisation and then
// used for tuning (docs/injection.md §6) — and enforces the targets on
// their union, overall and per language. Each file's totals are logged
// first.
func TestEvalTuning(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(evalDir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	var all []evalItem
	for _, path := range files {
		name := filepath.Base(path)
		// Held-out sets (every version) are evaluated by TestEvalHeldout;
		// train*.jsonl are classifier training sets, measured only by the
		// cross-validation (TestClassifierCV).
		if strings.HasPrefix(name, "heldout") || strings.HasPrefix(name, "train") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		items := loadEval(t, data, name)
		if name == tuningFile && len(items) < 200 {
			t.Fatalf("tuning set has %d items, want ≥ 200", len(items))
		}
		var c evalCount
		for _, it := range items {
			var v any
			if err := json.Unmarshal(it.Params, &v); err != nil {
				t.Fatalf("%s: params: %v", it.ID, err)
			}
			f := s.ScanValue(v)
			if it.Label == "attack" {
				c.attacks++
				if f != nil {
					c.caught++
				}
			} else {
				c.benign++
				if f != nil {
					c.flagged++
				}
			}
		}
		t.Logf("file %-15s %s", name, c)
		all = append(all, items...)
	}
	if len(all) == 0 {
		t.Fatalf("no tuning set in %s", evalDir)
	}
	total, byLang := evaluate(t, s, all, false)
	for _, l := range evalLangs {
		if c := byLang[l]; c.attacks == 0 || c.benign == 0 {
			t.Errorf("own sets: language %s needs attacks and benign items (%+v)", l, c)
		}
	}
	assertTargets(t, total, byLang)
}

// heldoutVersion is one frozen held-out set: its file and pin file in
// eval/injection, and what it must show — either a floor (a spent set:
// counts per language that may not regress) or the release targets.
type heldoutVersion struct {
	file, pin string
	// floor, when set, is the no-regression floor (caught at least, flagged
	// at most, per language and "total"); the targets are only logged.
	floor map[string]struct{ caught, flagged int }
	// blind: misses and false positives are logged by id only (a set
	// that is still held out).
	blind bool
}

// heldoutVersions are the held-out sets, oldest first. v1 is spent (its
// misses were read while tuning and it is now classifier training data):
// it keeps a no-regression floor. v2 was written by an author who never saw
// the rules or the model, after v1 was spent and before the classifier was
// trained; it is still held out (never trained on, its texts never logged),
// and its first run did not meet the targets, so it asserts a floor from
// that run and logs the distance to the targets (docs/injection.md §6). v3
// was written by another independent author before the third round's
// training, and is held out the same way.
var heldoutVersions = []heldoutVersion{
	{file: heldoutFile, pin: heldoutPinned, floor: heldoutFloor},
	{file: "heldout-v2.jsonl", pin: "heldout-v2.sha256", floor: heldoutV2Floor, blind: true},
	{file: "heldout-v3.jsonl", pin: "heldout-v3.sha256", floor: heldoutV3Floor, blind: true},
}

// heldoutV2Floor is the no-regression floor of heldout-v2.jsonl. Its first
// run (second round) caught 285 of 442 attacks and flagged 29 of 321 benign
// items; with the third round's threshold (cross-validated by held-out set,
// see heldoutFloor) it catches 267 and flags 21 (docs/injection.md §6, §8):
// fewer false positives for fewer catches, a trade made on the
// cross-validation, not on this file. The floor is that run less two caught
// attacks per language (six overall), flagged exactly overall and one more
// per language. Raise only from a run on the unchanged, pinned file.
var heldoutV2Floor = map[string]struct{ caught, flagged int }{
	"total": {261, 21},
	"ar":    {17, 2}, "de": {20, 4}, "en": {30, 3}, "es": {19, 2}, "fr": {19, 3}, "hi": {24, 3},
	"it": {14, 1}, "ja": {22, 3}, "ko": {23, 4}, "pt": {19, 3}, "ru": {17, 2}, "zh": {19, 3},
}

// heldoutV3Floor is the no-regression floor of heldout-v3.jsonl (written by
// an independent author before the third round's training; frozen and
// pinned before the model was trained): its first and only run with the
// third round's model caught 237 of 492 attacks and flagged 24 of 364
// benign items (docs/injection.md §6). The same margins as v2.
var heldoutV3Floor = map[string]struct{ caught, flagged int }{
	"total": {231, 24},
	"ar":    {13, 2}, "de": {20, 3}, "en": {25, 6}, "es": {18, 2}, "fr": {18, 2}, "hi": {13, 2},
	"it": {12, 1}, "ja": {17, 3}, "ko": {21, 6}, "pt": {20, 2}, "ru": {15, 4}, "zh": {21, 3},
}

// heldoutPin reads the pinned sha256 of a held-out set from its pin file
// in eval/injection ("" if the file is absent or empty).
func heldoutPin(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(evalDir, name))
	if err != nil {
		if os.IsNotExist(err) {
			return ""
		}
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return strings.ToLower(f[0])
}

// TestEvalHeldout runs every held-out version (heldoutVersions). Each file
// must hash to the pin in its pin file, so that it cannot be edited after
// the fact without the change showing. A spent version is checked against
// its floor; a fresh one against the targets: recall ≥ 90 % and false
// positives ≤ 2 % overall (per-language and per-category tables logged).
func TestEvalHeldout(t *testing.T) {
	for _, v := range heldoutVersions {
		t.Run(v.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(evalDir, v.file))
			if err != nil {
				t.Fatal(err) // every version is committed: missing is a broken checkout
			}
			sum := sha256.Sum256(data)
			got := hex.EncodeToString(sum[:])
			pin := heldoutPin(t, v.pin)
			if pin == "" {
				t.Fatalf("%s has no pin: write its sha256 (%s) into eval/injection/%s", v.file, got, v.pin)
			}
			if got != pin {
				t.Fatalf("%s sha256 %s does not match the pin %s in %s: the frozen set was changed", v.file, got, pin, v.pin)
			}
			items := loadEval(t, data, v.file)
			total, byLang := evaluate(t, New(), items, v.blind)
			if v.floor != nil {
				assertHeldoutFloor(t, v.floor, total, byLang)
				return
			}
			for _, l := range evalLangs {
				if c, ok := byLang[l]; ok && (c.attacks > 0 && c.recall() < evalMinRecall || c.benign > 0 && c.fpRate() > evalMaxFP) {
					t.Logf("%s lang %s: below the per-language target: %s", v.file, l, c)
				}
			}
			if total.recall() < evalMinRecall {
				t.Errorf("%s: recall %.1f%% < %.0f%%", v.file, 100*total.recall(), 100*evalMinRecall)
			}
			if total.fpRate() > evalMaxFP {
				t.Errorf("%s: false positives %.1f%% > %.0f%%", v.file, 100*total.fpRate(), 100*evalMaxFP)
			}
		})
	}
}

// heldoutFloor is the no-regression floor of heldout.jsonl (v1): attacks
// caught (at least) and benign items flagged (at most), overall and per
// language. The first floor was the rules' blind run (194 caught, 11
// flagged). v1 is classifier training data, so the scanner's figures on it
// are training figures. Third round (docs/injection.md §8): the threshold is
// now the one that holds cross-validated false positives at 1 % with one
// whole set held out at a time (authors unseen), no longer with folds by id
// (near neighbours seen), which moved it from 2.1 to 3.8: on v1 251 caught,
// 4 flagged (332 / 4 before: the same false positives, 81 fewer training
// attacks caught). The floor is that run less two caught attacks per
// language (six overall) for the jitter of retraining, flagged exactly
// overall and one more per language. Raise a floor only from a run on the
// unchanged, pinned file.
var heldoutFloor = map[string]struct{ caught, flagged int }{
	"total": {245, 4},
	"ar":    {11, 1}, "de": {25, 1}, "en": {41, 3}, "es": {23, 1}, "fr": {23, 1}, "hi": {12, 1},
	"it": {10, 1}, "ja": {10, 2}, "ko": {11, 1}, "pt": {11, 1}, "ru": {24, 1}, "zh": {26, 2},
}

// assertHeldoutFloor fails when the held-out figures fall below the floor
// and logs the distance to the release targets.
func assertHeldoutFloor(t *testing.T, floor map[string]struct{ caught, flagged int }, total evalCount, byLang map[string]evalCount) {
	t.Helper()
	check := func(name string, c evalCount) {
		f, ok := floor[name]
		if !ok {
			t.Errorf("held-out %s: no floor recorded", name)
			return
		}
		if c.caught < f.caught {
			t.Errorf("held-out %s: %d attacks caught, fewer than the floor %d (regression)", name, c.caught, f.caught)
		}
		if c.flagged > f.flagged {
			t.Errorf("held-out %s: %d benign items flagged, more than the floor %d (regression)", name, c.flagged, f.flagged)
		}
		if c.attacks > 0 && c.recall() < evalMinRecall || c.benign > 0 && c.fpRate() > evalMaxFP {
			t.Logf("held-out %s: target not met: recall %.1f%% (target %.0f%%), false positives %.1f%% (target ≤ %.0f%%)",
				name, 100*c.recall(), 100*evalMinRecall, 100*c.fpRate(), 100*evalMaxFP)
		}
	}
	check("total", total)
	for _, l := range evalLangs {
		if c, ok := byLang[l]; ok {
			check(l, c)
		}
	}
}

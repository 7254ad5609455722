package injection

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func loadCorpus(t testing.TB) []corpusEntry {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e corpusEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("corpus line %d: %v", len(out)+1, err)
		}
		out = append(out, e)
	}
	return out
}

// TestCorpus measures recall on the attacks and the false-positive rate on
// the benign commands of testdata/corpus.jsonl and enforces recall ≥ 95 % and
// false positives ≤ 1 %.
func TestCorpus(t *testing.T) {
	s := New()
	corpus := loadCorpus(t)
	var attacks, benign, tp, fp, wrongCat int
	perForm := map[string][2]int{}
	for _, e := range corpus {
		f, err := s.ScanJSON(e.Params)
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		switch e.Label {
		case "attack":
			attacks++
			c := perForm[e.Form]
			c[1]++
			if f != nil {
				tp++
				c[0]++
				if f.Category != e.Category {
					wrongCat++
					t.Logf("category %s: %s (%s) found as %s/%s", e.Category, e.ID, e.Text, f.Category, f.PatternID)
				}
			} else {
				t.Logf("MISS %s [%s] %q", e.ID, e.Form, e.Text)
			}
			perForm[e.Form] = c
		case "benign":
			benign++
			if f != nil {
				fp++
				t.Logf("FALSE POSITIVE %s %q: %s %s %q at %s", e.ID, e.Text, f.Category, f.PatternID, f.Excerpt, f.Path)
			}
		default:
			t.Fatalf("%s: bad label %q", e.ID, e.Label)
		}
	}
	if attacks < 150 || benign < 150 {
		t.Fatalf("corpus too small: %d attacks, %d benign (want ≥ 150 each)", attacks, benign)
	}
	recall := float64(tp) / float64(attacks)
	fpr := float64(fp) / float64(benign)
	precision := float64(tp) / float64(tp+fp)
	t.Logf("attacks %d, detected %d (recall %.1f%%), wrong category %d; benign %d, false positives %d (%.2f%%); precision %.1f%%",
		attacks, tp, 100*recall, wrongCat, benign, fp, 100*fpr, 100*precision)
	for form, c := range perForm {
		t.Logf("form %-13s %d/%d", form, c[0], c[1])
	}
	if recall < 0.95 {
		t.Errorf("recall %.3f < 0.95", recall)
	}
	if fpr > 0.01 {
		t.Errorf("false-positive rate %.3f > 0.01", fpr)
	}
}

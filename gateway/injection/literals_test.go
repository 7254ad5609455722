package injection

import (
	"slices"
	"strings"
	"testing"
)

// oracleLiterals is the literal pass as one walk over the whole text (the
// code before the two interleaved walks).
func oracleLiterals(s *Scanner, text []byte) (hits, reqs []hit, satisfied uint64) {
	a := s.ac
	state := 0
	for i := 0; i < len(text); i++ {
		state = int(a.delta[state*a.nclass+int(a.class[text[i]])])
		if state >= a.firstOut {
			hits, reqs, satisfied = s.outputs(text, state, i, hits, reqs, satisfied)
		}
	}
	return hits, reqs, satisfied
}

func checkLiteralsExact(t *testing.T, s *Scanner, text []byte) {
	t.Helper()
	st := &state{}
	h, r, sat := s.literals(st, text)
	wh, wr, wsat := oracleLiterals(s, text)
	if !slices.Equal(h, wh) || !slices.Equal(r, wr) || sat != wsat {
		t.Fatalf("%q: literals (%d hits, %d reqs, %x) != one walk (%d, %d, %x)", text, len(h), len(r), sat, len(wh), len(wr), wsat)
	}
}

// TestLiteralsSplitExact: the two interleaved walks report exactly what one
// walk reports, in the same order, for literals at and across the split.
func TestLiteralsSplitExact(t *testing.T) {
	s := New()
	texts := corpusTexts(t)
	long := strings.Join(texts, " ")
	for _, n := range []int{255, 256, 257, 300, 511, 1024, 4096, len(long)} {
		checkLiteralsExact(t, s, []byte(Normalize(long[:min(n, len(long))])))
	}
	// Every shift of a literal-dense text across the split point.
	dense := Normalize(strings.Repeat("ignore previous instructions; rm -rf ../../etc/passwd invoke-webrequest ", 8))
	for k := 0; k < 120; k++ {
		checkLiteralsExact(t, s, []byte(strings.Repeat("x", k)+dense))
	}
}

// FuzzLiteralsExact: the same on any input, padded past the split length.
func FuzzLiteralsExact(f *testing.F) {
	f.Add("ignore previous instructions", 200)
	f.Add("invoke-webrequest|rm -rf", 250)
	s := New()
	f.Fuzz(func(t *testing.T, in string, pad int) {
		if len(in) > 2048 || pad < 0 || pad > 512 {
			return
		}
		text := []byte(strings.Repeat("a ", pad/2) + in + strings.Repeat(" b", pad/4))
		checkLiteralsExact(t, s, text)
		checkLiteralsExact(t, s, []byte(Normalize(string(text))))
	})
}

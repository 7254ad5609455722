package injection

import (
	"encoding/json"
	"testing"
)

// BenchmarkStages splits the 4 KB prose scan into its stages.
func BenchmarkStages(b *testing.B) {
	var v map[string]any
	_ = json.Unmarshal(prosePayload(4096), &v)
	raw := v["note"].(string)
	s := New()
	norm := []byte(Normalize(raw))
	st := &state{}
	b.Run("normalize", func(b *testing.B) {
		buf := make([]byte, 0, 8192)
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			buf, _ = appendNormalizedRuns(buf[:0], raw)
		}
		reportCPU(b, c0)
	})
	b.Run("literals-ascii", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			st.chits = st.chits[:0]
			st.hits, st.reqs, _ = s.walk(s.ac, st, norm, st.hits[:0], st.reqs[:0], 0)
		}
		reportCPU(b, c0)
	})
	b.Run("literals-all", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			st.hits, st.reqs, _ = s.literals(st, norm)
		}
		reportCPU(b, c0)
	})
	b.Run("match", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			s.match(st, norm)
		}
		reportCPU(b, c0)
	})
	b.Run("classifier", func(b *testing.B) {
		s.literals(st, norm)
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			st.extra = conceptExtras(st.extra[:0], st.chits, norm)
			s.model.Score(&st.clf, norm, st.extra)
		}
		reportCPU(b, c0)
	})
	b.Run("leet", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			st.view, _ = leetView(st.view[:0], norm)
		}
		reportCPU(b, c0)
	})
	b.Run("scanstring", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			s.ScanString(raw)
		}
		reportCPU(b, c0)
	})
	// The same scan with the reference implementations of the stages
	// rewritten for speed (reference.go): before and after in one run.
	b.Run("scanstring-reference", func(b *testing.B) {
		reference.Store(true)
		defer reference.Store(false)
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			s.ScanString(raw)
		}
		reportCPU(b, c0)
	})
}

// BenchmarkScanValueReference compares, in one process, ScanValue with the
// stages rewritten for speed against their reference implementations
// (reference.go) on each payload shape: before and after under the same
// load.
func BenchmarkScanValueReference(b *testing.B) {
	s := New()
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"benign-200B", benignPayload(200)},
		{"benign-4KB", benignPayload(4096)},
		{"benign-4KB-trajectory", trajectoryPayload(4096)},
		{"benign-4KB-prose", prosePayload(4096)},
	} {
		var v any
		if err := json.Unmarshal(tc.p, &v); err != nil {
			b.Fatal(err)
		}
		for _, ref := range []bool{false, true} {
			name := tc.name + "/fast"
			if ref {
				name = tc.name + "/reference"
			}
			b.Run(name, func(b *testing.B) {
				reference.Store(ref)
				defer reference.Store(false)
				c0 := cpuTime()
				for i := 0; i < b.N; i++ {
					if s.ScanValue(v) != nil {
						b.Fatal("finding on a benign payload")
					}
				}
				reportCPU(b, c0)
			})
		}
	}
}

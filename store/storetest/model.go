package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// testCascadeModel registers random forests (in random order, so children
// often arrive before their parents) and revokes random tokens, comparing
// each RevokeToken result with a plain breadth-first walk of a model.
func testCascadeModel(t *testing.T, open Opener) {
	s, ctx := open(t), t.Context()
	const rounds, maxTokens = 25, 14
	marks := []string{"-", "0", "A", "_", "a", "~"} // bytewise order differs from most collations
	for round := range rounds {
		rng := rand.New(rand.NewPCG(uint64(round), 0x5eed))
		n := 2 + rng.IntN(maxTokens-1)
		ids := make([]string, n)
		parent := make([]int, n) // -1: root
		for i := range n {
			ids[i] = fmt.Sprintf("m%02d%s%02d", round, marks[rng.IntN(len(marks))], i)
			parent[i] = -1
			if i > 0 && rng.IntN(4) != 0 {
				parent[i] = rng.IntN(i)
			}
		}
		children := map[string][]string{}
		for i, p := range parent {
			if p >= 0 {
				children[ids[p]] = append(children[ids[p]], ids[i])
			}
		}
		for _, c := range children {
			slices.Sort(c)
		}
		for _, i := range rng.Perm(n) {
			r := tok(ids[i], "", "model")
			if parent[i] >= 0 {
				r.ParentTokenID = ids[parent[i]]
			}
			must(t, s.PutToken(ctx, r))
		}
		revoked := map[string]bool{}
		for range 1 + rng.IntN(4) {
			target := ids[rng.IntN(n)]
			want := []string{}
			queue := []string{target}
			for len(queue) > 0 {
				cur := queue[0]
				queue = queue[1:]
				if !revoked[cur] {
					revoked[cur] = true
					want = append(want, cur)
				}
				queue = append(queue, children[cur]...)
			}
			got, err := s.RevokeToken(ctx, target, base)
			must(t, err)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: RevokeToken(%s) = %v, model says %v (parents %v of %v)", round, target, got, want, parent, ids)
			}
		}
	}
}

package injection

import "fmt"

// automaton is an Aho–Corasick DFA over byte-string literals (no upper-case
// ASCII; UTF-8 literals of the multilingual lexicon are matched byte-wise)
// with byte classes: bytes that occur in no literal share class 0, so the transition
// table is states × classes (a few tens of KB) and one scan costs one table
// load per input byte.
type automaton struct {
	class    [256]uint8
	nclass   int
	delta    []uint16 // state*nclass + class → next state
	outStart []int32  // per state: range into outs
	outs     []int32  // literal ids ending at a state (own and via suffix links)
	lens     []int    // literal lengths
	// States are numbered so that every state with outputs is ≥ firstOut: the
	// scan loop tests one integer per byte instead of loading outStart.
	firstOut int
	// depth is the longest literal: the state after any depth bytes does
	// not depend on the state before them (see walkFrom).
	depth int
	// The state's outputs flattened with the scanner's literal tables
	// (Scanner.flattenOutputs): acts[actStart[q]:actStart[q+1]].
	acts     []outAction
	actStart []int32
}

func buildAutomaton(lits []string) (*automaton, error) {
	a := &automaton{}
	a.nclass = 1
	for _, l := range lits {
		if l == "" {
			return nil, fmt.Errorf("empty literal")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if 'A' <= c && c <= 'Z' {
				return nil, fmt.Errorf("literal %q is not lower-case", l)
			}
			if a.class[c] == 0 {
				a.class[c] = uint8(a.nclass)
				a.nclass++
				if a.nclass > 255 {
					return nil, fmt.Errorf("too many byte classes")
				}
			}
		}
		a.lens = append(a.lens, len(l))
		a.depth = max(a.depth, len(l))
	}
	// Trie.
	K := a.nclass
	trieNext := []int32{}
	newState := func() int32 {
		for k := 0; k < K; k++ {
			trieNext = append(trieNext, -1)
		}
		return int32(len(trieNext)/K - 1)
	}
	newState()
	own := [][]int32{nil}
	for id, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := int(a.class[l[i]])
			if trieNext[int(s)*K+c] < 0 {
				ns := newState()
				own = append(own, nil)
				trieNext[int(s)*K+c] = ns
			}
			s = trieNext[int(s)*K+c]
		}
		own[s] = append(own[s], int32(id))
	}
	nstates := len(trieNext) / K
	if nstates > 65535 {
		return nil, fmt.Errorf("too many states")
	}
	// BFS for failure links and the full transition function.
	a.delta = make([]uint16, nstates*K)
	fail := make([]int32, nstates)
	outs := make([][]int32, nstates)
	outs[0] = own[0]
	queue := []int32{}
	order := []int32{0} // breadth-first order of the states
	for c := 0; c < K; c++ {
		if t := trieNext[c]; t > 0 {
			fail[t] = 0
			a.delta[c] = uint16(t)
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		order = append(order, s)
		outs[s] = append(append([]int32(nil), own[s]...), outs[fail[s]]...)
		for c := 0; c < K; c++ {
			t := trieNext[int(s)*K+c]
			if t > 0 {
				fail[t] = int32(a.delta[int(fail[s])*K+c])
				a.delta[int(s)*K+c] = uint16(t)
				queue = append(queue, t)
			} else {
				a.delta[int(s)*K+c] = a.delta[int(fail[s])*K+c]
			}
		}
	}
	// Renumber: states without outputs first (the root stays 0), then those
	// with outputs; within each group in breadth-first order, so that the
	// shallow states most text bytes visit share few cache lines.
	newID := make([]int, nstates)
	next := 0
	for _, st := range order {
		if len(outs[st]) == 0 {
			newID[st] = next
			next++
		}
	}
	a.firstOut = next
	for _, st := range order {
		if len(outs[st]) != 0 {
			newID[st] = next
			next++
		}
	}
	if newID[0] != 0 {
		return nil, fmt.Errorf("root state has outputs")
	}
	delta := make([]uint16, len(a.delta))
	newOuts := make([][]int32, nstates)
	for st := 0; st < nstates; st++ {
		for c := 0; c < K; c++ {
			delta[newID[st]*K+c] = uint16(newID[a.delta[st*K+c]])
		}
		newOuts[newID[st]] = outs[st]
	}
	a.delta = delta
	a.outStart = make([]int32, nstates+1)
	for st := 0; st < nstates; st++ {
		a.outStart[st] = int32(len(a.outs))
		a.outs = append(a.outs, newOuts[st]...)
	}
	a.outStart[nstates] = int32(len(a.outs))
	return a, nil
}

// scan calls hit(literal id, start offset) for every occurrence of every
// literal in text, in order of end offset.
func (a *automaton) scan(text []byte, hit func(id int, start int)) {
	K := a.nclass
	s := 0
	for i := 0; i < len(text); i++ {
		s = int(a.delta[s*K+int(a.class[text[i]])])
		if s >= a.firstOut {
			for _, id := range a.outs[a.outStart[s]:a.outStart[s+1]] {
				hit(int(id), i+1-a.lens[id])
			}
		}
	}
}

package tokens

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

type sigCase struct {
	name          string
	pub, msg, sig []byte
}

// goodSigs returns n valid signatures by n keys.
func goodSigs(n int) []sigCase {
	out := make([]sigCase, n)
	for i := range out {
		seed := bytes.Repeat([]byte{byte(i + 1)}, 32)
		priv := ed25519.NewKeyFromSeed(seed)
		msg := fmt.Appendf(nil, `{"requestId":"r%d","params":{}}`, i)
		out[i] = sigCase{fmt.Sprintf("good %d", i), []byte(priv.Public().(ed25519.PublicKey)), msg, ed25519.Sign(priv, msg)}
	}
	return out
}

// batchOf runs cases through one SigBatcher as a single batch: the test
// holds the combiner role while every caller queues, then combines.
func batchOf(t *testing.T, b *SigBatcher, cases []sigCase) []bool {
	t.Helper()
	b.mu.Lock()
	b.busy = true
	b.mu.Unlock()
	got := make([]bool, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { got[i] = b.Verify(c.pub, c.msg, c.sig) })
	}
	// Callers whose key does not decode are answered without queueing.
	want := 0
	for _, c := range cases {
		if len(c.pub) == 32 && len(c.sig) == 64 && expandedKeys.get(c.pub) != nil {
			want++
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d callers queued", n, want)
		}
		time.Sleep(time.Millisecond)
	}
	own := goodSigs(1)[0]
	if !b.combine(&sigJob{key: expandedKeys.get(own.pub), msg: own.msg, sig: own.sig}) {
		t.Fatal("the combiner's own valid signature failed")
	}
	wg.Wait()
	return got
}

// A bad signature in a batch fails only its own caller: every other
// signature of the batch still verifies, and each answer is the single
// verifier's.
func TestBatchBadSignatureDeniesOnlyItself(t *testing.T) {
	for _, bad := range []int{0, 7, 15} {
		t.Run(fmt.Sprintf("bad at %d", bad), func(t *testing.T) {
			cases := goodSigs(16)
			cases[bad].sig = append([]byte{}, cases[bad].sig...)
			cases[bad].sig[3] ^= 1
			var b SigBatcher
			got := batchOf(t, &b, cases)
			for i, ok := range got {
				if ok != (i != bad) {
					t.Errorf("signature %d: verified %v", i, ok)
				}
			}
			// The failed batch switches to single verification.
			if b.single != FallbackSingles {
				t.Errorf("single = %d after a failed batch, want %d", b.single, FallbackSingles)
			}
			if b.busy || len(b.queue) != 0 {
				t.Errorf("combiner left busy=%v queue=%d", b.busy, len(b.queue))
			}
		})
	}
}

// Batched, every edge case of the rule gets the plain verifier's answer.
func TestBatchMatchesPlain(t *testing.T) {
	good := goodSigs(1)[0]
	cases := goodSigs(8)
	add := func(name string, pub, msg, sig []byte) {
		cases = append(cases, sigCase{name, pub, msg, sig})
	}
	add("other message", good.pub, []byte("x"), good.sig)
	add("S not canonical", good.pub, good.msg, append(append([]byte{}, good.sig[:32]...), bytes.Repeat([]byte{0xff}, 32)...))
	idSig := append(mustHex(edgeKeys[0]), make([]byte, 32)...)
	for i, k := range edgeKeys {
		add(fmt.Sprintf("edge key %d", i), mustHex(k), good.msg, good.sig)
		add(fmt.Sprintf("edge key %d zero sig", i), mustHex(k), good.msg, make([]byte, 64))
		add(fmt.Sprintf("edge key %d identity sig", i), mustHex(k), good.msg, idSig)
	}
	var b SigBatcher
	got := batchOf(t, &b, cases)
	for i, c := range cases {
		if want := plainSig(c.pub, c.msg, c.sig); got[i] != want {
			t.Errorf("%s: batched %v, plain verifier %v", c.name, got[i], want)
		}
	}
}

// A batch of all-valid signatures verifies as a batch (no fallback).
func TestBatchAllValid(t *testing.T) {
	var b SigBatcher
	for i, ok := range batchOf(t, &b, goodSigs(20)) {
		if !ok {
			t.Errorf("signature %d refused", i)
		}
	}
	if b.single != 0 {
		t.Errorf("single = %d after a valid batch", b.single)
	}
}

// Random batches of valid and mutated signatures: each answer is the plain
// verifier's.
func TestBatchMatchesPlainProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(minSigBatch, 24).Draw(rt, "n")
		cases := goodSigs(n)
		for i := range cases {
			switch rapid.IntRange(0, 6).Draw(rt, "mutate") {
			case 1:
				cases[i].sig = append([]byte{}, cases[i].sig...)
				cases[i].sig[rapid.IntRange(0, 63).Draw(rt, "sigByte")] ^= rapid.ByteRange(1, 255).Draw(rt, "flip")
			case 2:
				cases[i].msg = append(append([]byte{}, cases[i].msg...), '!')
			case 3:
				cases[i].pub = mustHex(rapid.SampledFrom(edgeKeys).Draw(rt, "edge"))
			}
		}
		var b SigBatcher
		got := batchOf(t, &b, cases)
		for i, c := range cases {
			if want := plainSig(c.pub, c.msg, c.sig); got[i] != want {
				rt.Fatalf("%d: batched %v, plain verifier %v", i, got[i], want)
			}
		}
	})
}

// Many concurrent callers with a bad signature among them: each gets its
// own answer, and the batcher ends idle.
func TestBatcherConcurrent(t *testing.T) {
	cases := goodSigs(64)
	for i := 0; i < len(cases); i += 9 {
		cases[i].sig = append([]byte{}, cases[i].sig...)
		cases[i].sig[40] ^= 0x10
	}
	var b SigBatcher
	var wg sync.WaitGroup
	for round := range 20 {
		for i, c := range cases {
			wg.Go(func() {
				if got, want := b.Verify(c.pub, c.msg, c.sig), i%9 != 0; got != want {
					t.Errorf("round %d signature %d: %v", round, i, got)
				}
			})
		}
	}
	wg.Wait()
	if b.busy || len(b.queue) != 0 {
		t.Fatalf("combiner left busy=%v queue=%d", b.busy, len(b.queue))
	}
}

// More queued callers than a combiner serves: it hands the role to a
// queued caller, and every caller is answered.
func TestCombinerHandsOver(t *testing.T) {
	n := (maxCombinerRounds+1)*maxSigBatch + 2*maxSigBatch + 5
	cases := goodSigs(n)
	cases[n-1].sig = append([]byte{}, cases[n-1].sig...)
	cases[n-1].sig[9] ^= 4
	var b SigBatcher
	got := batchOf(t, &b, cases)
	for i, ok := range got {
		if ok != (i != n-1) {
			t.Errorf("signature %d: verified %v", i, ok)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.busy || len(b.queue) != 0 {
		t.Fatalf("combiner left busy=%v queue=%d", b.busy, len(b.queue))
	}
}

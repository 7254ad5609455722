package tokens

import (
	"runtime"
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// SigBatcher verifies the signatures of concurrent callers together, under
// the same rule as VerifySig (docs/tokens.md, "Signature rule"), and gives
// each caller its own answer. It uses no goroutine of its own: a caller that
// finds no verification running becomes the combiner. It first yields the
// processor while other callers keep arriving (the goroutines runnable at
// that instant, typically requests read together), then verifies its own
// signature and the queued ones as one batch (curve25519-voi's batch
// verifier: about half the CPU of single verifications per signature from
// 4 signatures on), then the batches queued meanwhile, while their callers wait. A batch
// forms only from requests that were competing for the CPU anyway; a lone
// request is verified at once and alone (below minSigBatch signatures each
// is verified singly).
//
// A batch that does not verify as a whole is verified again signature by
// signature (voi's fallback), so a bad signature only ever fails its own
// caller. After such a failure the next FallbackSingles signatures are
// verified singly: a stream of bad signatures costs the others at most one
// failed batch per FallbackSingles signatures. Batch and single
// verification use the same cofactored equation, so they accept exactly the
// same signatures (tested against the plain verifier, edge keys included).
//
// The zero value is ready for use and safe for concurrent use.
type SigBatcher struct {
	mu     sync.Mutex
	busy   bool      // a combiner is running
	queue  []*sigJob // waiting for the combiner
	spare  []*sigJob
	single int // signatures still to verify singly after a failed batch
}

// Batching thresholds. Below minSigBatch signatures the batch verifier is
// no cheaper than single verifications (per signature, best of three runs on
// the shared 2-core machine: 2 → no gain, 4 → 26 vs 44 µs, 8 → 22 vs 32 µs,
// 16 → 29 vs 52 µs); maxSigBatch bounds one batch's latency; a combiner runs
// at most maxCombinerRounds batches for others before it hands the role on.
const (
	minSigBatch       = 4
	maxSigBatch       = 64
	maxCombinerRounds = 2
	maxGatherYields   = 4
	// FallbackSingles is how many signatures are verified singly after
	// a batch failed.
	FallbackSingles = 64
)

type sigJob struct {
	key      *voi.ExpandedPublicKey
	msg, sig []byte
	ok       bool
	lead     bool          // woken to become the combiner, not verified
	done     chan struct{} // closed when ok (or lead) is set
}

var sigJobs = sync.Pool{New: func() any { return &sigJob{done: make(chan struct{}, 1)} }}

// Verify reports whether sig is a valid Ed25519 signature of msg by the
// 32-byte public key pub, exactly as VerifySig does. msg and sig must not
// change until it returns. It has the signature of a gateway SigVerifier.
func (b *SigBatcher) Verify(pub, msg, sig []byte) bool {
	if len(pub) != voi.PublicKeySize || len(sig) != voi.SignatureSize {
		return false
	}
	k := expandedKeys.get(pub)
	if k == nil {
		return false
	}
	b.mu.Lock()
	if b.busy {
		j := sigJobs.Get().(*sigJob)
		j.key, j.msg, j.sig, j.ok, j.lead = k, msg, sig, false, false
		b.queue = append(b.queue, j)
		b.mu.Unlock()
		<-j.done
		ok, lead := j.ok, j.lead
		j.key, j.msg, j.sig = nil, nil, nil
		if !lead {
			sigJobs.Put(j)
			return ok
		}
		// Handed the combiner role: the job is still to be verified.
		j.key, j.msg, j.sig = k, msg, sig
		ok = b.combine(j)
		j.key, j.msg, j.sig = nil, nil, nil
		sigJobs.Put(j)
		return ok
	}
	b.busy = true
	b.mu.Unlock()
	return b.combine(&sigJob{key: k, msg: msg, sig: sig})
}

// combine first lets the callers that are runnable right now reach the
// queue (gather), verifies own together with the queue, then up to
// maxCombinerRounds more batches of callers that queued meanwhile, then
// hands the role to the next queued caller or clears busy.
func (b *SigBatcher) combine(own *sigJob) bool {
	b.gather()
	first := true
	for range maxCombinerRounds + 1 {
		b.mu.Lock()
		n := min(len(b.queue), maxSigBatch)
		if first {
			n = min(n, maxSigBatch-1)
		}
		if n == 0 && !first {
			b.busy = false
			b.mu.Unlock()
			return own.ok
		}
		batch := b.spare[:0]
		if first {
			batch = append(batch, own)
		}
		batch = append(batch, b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		singly := b.single > 0 || len(batch) < minSigBatch
		if b.single > 0 {
			b.single = max(b.single-len(batch), 0)
		}
		b.spare = nil
		b.mu.Unlock()
		failed := b.run(batch, singly, own)
		b.mu.Lock()
		if failed {
			b.single = FallbackSingles
		}
		clear(batch)
		b.spare = batch[:0]
		b.mu.Unlock()
		first = false
	}
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.busy = false
		b.mu.Unlock()
		return own.ok
	}
	next := b.queue[0]
	b.queue = append(b.queue[:0], b.queue[1:]...)
	b.mu.Unlock()
	next.lead = true
	next.done <- struct{}{}
	return own.ok
}

// gather yields the processor while callers keep arriving (at most
// maxGatherYields times): the goroutines that are runnable now (requests
// read in the same instant, typically the clients answered by the same
// group commit) run until they queue here, so that they are verified in one
// batch. With nothing else runnable a yield returns at once, so a lone
// request is not delayed.
func (b *SigBatcher) gather() {
	b.mu.Lock()
	n := len(b.queue)
	b.mu.Unlock()
	for range maxGatherYields {
		runtime.Gosched()
		b.mu.Lock()
		m := len(b.queue)
		b.mu.Unlock()
		if m == n || m >= maxSigBatch-1 {
			return
		}
		n = m
	}
}

// run verifies batch (each singly when singly is set), answers every job
// but own (the combiner's, which nobody waits for) and reports whether a
// batch verification failed. A panic (which voi only raises when the
// system's randomness fails) denies every job of the batch that has not
// been answered: fail closed, and no caller waits for ever.
func (b *SigBatcher) run(batch []*sigJob, singly bool, own *sigJob) (failed bool) {
	answered := 0
	answer := func(j *sigJob) {
		if j != own {
			j.done <- struct{}{}
		}
		answered++
	}
	defer func() {
		if r := recover(); r != nil {
			for _, j := range batch[answered:] {
				j.ok = false
				if j != own {
					j.done <- struct{}{}
				}
			}
			failed = true
		}
	}()
	if singly {
		for _, j := range batch {
			j.ok = verifyOne(j)
			answer(j)
		}
		return false
	}
	ok := verifyBatch(batch)
	for _, j := range batch {
		answer(j)
	}
	return !ok
}

func verifyOne(j *sigJob) bool {
	return voi.VerifyExpandedWithOptions(j.key, j.msg, j.sig, verifyOpts)
}

// verifyBatch sets each job's ok and reports whether the batch as a whole
// verified. On a batch failure voi verifies every entry singly, so ok is
// each signature's own answer either way.
func verifyBatch(jobs []*sigJob) bool {
	bv := voi.NewBatchVerifierWithCapacity(len(jobs))
	for _, j := range jobs {
		bv.AddExpandedWithOptions(j.key, j.msg, j.sig, verifyOpts)
	}
	all, valid := bv.Verify(nil)
	for i, j := range jobs {
		j.ok = valid[i]
	}
	return all
}

package gateway

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sintgate/sintgate/gateway/attest"
)

// presign signs an allow's attestation while its ledger entry is being made
// durable: the ledger calls sequenced (ledger.Event.Sequenced) at its
// serialisation point, once the entry has its sequence and its content is
// fixed, and a presigner goroutine signs during the group commit's write and
// fdatasync instead of after them.
//
// Nothing is relaxed by it: the attestation is only taken (result) after
// the append has returned durable and the request has made every check it
// made before (the trip check after the commit); an append that fails, or a
// decision that is superseded, drops the signed attestation unsent, so there
// is still at most one attestation per allow leaving the gateway, and it
// carries the sequence of the entry the append returned (result re-signs if
// the two ever differed).
type presign struct {
	signer AttestSigner
	claims attest.Claims // LedgerSeq set when signing
	state  atomic.Int32  // presignIdle, presignQueued, presignRunning, presignTaken
	done   chan struct{} // closed by the presigner once it signed (state presignRunning)
	seq    uint64
	att    string
	err    error
}

// States of a presign.
const (
	presignIdle    = iota // not announced (or the queue was full): result signs
	presignQueued         // waiting for a presigner
	presignRunning        // a presigner took it: result waits for done
	presignTaken          // result took it back from the queue and signed itself
)

func newPresign(s AttestSigner, c attest.Claims) *presign {
	return &presign{signer: s, claims: c, done: make(chan struct{})}
}

// presigners is the pool of goroutines that sign during commits: one per
// CPU, fed by the ledger hook without blocking (a goroutine per allow cost
// about 3 % of the gateway's CPU in creating and ending it).
var presigners struct {
	once sync.Once
	q    chan *presign
}

// presignQueue bounds the signatures waiting for a presigner; beyond it an
// allow is signed after its commit instead.
const presignQueue = 4096

func startPresigners() {
	presigners.q = make(chan *presign, presignQueue)
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for ps := range presigners.q {
				if ps.state.CompareAndSwap(presignQueued, presignRunning) {
					ps.sign()
				}
			}
		}()
	}
}

// sequenced is the ledger hook: it queues the signature once and returns at
// once. A store calls it at most once per event, before Append returns; a
// second call is ignored. With the queue full nothing is started, and result
// signs after the commit.
func (ps *presign) sequenced(seq uint64) {
	presigners.once.Do(startPresigners)
	if ps.state.Load() != presignIdle {
		return
	}
	ps.seq = seq
	ps.state.Store(presignQueued)
	select {
	case presigners.q <- ps:
	default:
		ps.state.Store(presignIdle)
	}
}

func (ps *presign) sign() {
	defer close(ps.done)
	c := ps.claims
	c.LedgerSeq = ps.seq
	ps.att, ps.err = ps.signer.SignAttestation(c)
}

// result returns the attestation for the entry at seq, which the append has
// returned durable: the one a presigner signed during the commit when the
// ledger announced that sequence; otherwise (a ledger without the hook, a
// different sequence, or a signature still waiting in the queue, which the
// request takes back rather than wait behind others) one signed now.
func (ps *presign) result(seq uint64) (string, error) {
	if !ps.state.CompareAndSwap(presignQueued, presignTaken) && ps.state.Load() == presignRunning {
		<-ps.done
		if ps.err == nil && ps.seq == seq {
			return ps.att, nil
		}
	}
	c := ps.claims
	c.LedgerSeq = seq
	return ps.signer.SignAttestation(c)
}

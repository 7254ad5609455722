package gateway

import (
	"sync/atomic"

	"github.com/sintgate/sintgate/gateway/attest"
)

// presign signs an allow's attestation while its ledger entry is being made
// durable: the ledger calls sequenced (ledger.Event.Sequenced) at its
// serialisation point, once the entry has its sequence and its content is
// fixed, and the signature runs on its own goroutine during the group
// commit's write and fdatasync instead of after them.
//
// Nothing is relaxed by it: the attestation is only taken (result) after
// the append has returned durable and the request has made every check it
// made before (the trip check after the commit); an append that fails, or a
// decision that is superseded, drops the signed attestation unsent, so there
// is still at most one attestation per allow leaving the gateway, and it
// carries the sequence of the entry the append returned (result re-signs if
// the two ever differed).
type presign struct {
	signer  AttestSigner
	claims  attest.Claims // LedgerSeq set by the goroutine
	started atomic.Bool
	done    chan struct{}
	seq     uint64
	att     string
	err     error
}

func newPresign(s AttestSigner, c attest.Claims) *presign {
	return &presign{signer: s, claims: c, done: make(chan struct{})}
}

// sequenced is the ledger hook: it starts the signature once (a store calls
// it at most once per event; a second call is ignored) and returns at once.
func (ps *presign) sequenced(seq uint64) {
	if !ps.started.CompareAndSwap(false, true) {
		return
	}
	go ps.sign(seq)
}

func (ps *presign) sign(seq uint64) {
	defer close(ps.done)
	c := ps.claims
	c.LedgerSeq = seq
	ps.seq = seq
	ps.att, ps.err = ps.signer.SignAttestation(c)
}

// result returns the attestation for the entry at seq, which the append has
// returned durable: the one signed during the commit when the ledger
// announced that sequence, otherwise (a ledger without the hook, or a
// different sequence) one signed now.
func (ps *presign) result(seq uint64) (string, error) {
	if ps.started.Load() {
		<-ps.done
		if ps.err == nil && ps.seq == seq {
			return ps.att, nil
		}
	}
	c := ps.claims
	c.LedgerSeq = seq
	return ps.signer.SignAttestation(c)
}

package redisx

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// seqGen makes sorted-set members unique across replicas: a random process
// id and a counter (two calls in the same microsecond must both count).
type seqGen struct {
	id string
	n  atomic.Uint64
}

func newSeqGen() *seqGen {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &seqGen{id: hex.EncodeToString(b[:])}
}

func (s *seqGen) next() string { return s.id + "." + itoa(s.n.Add(1)) }

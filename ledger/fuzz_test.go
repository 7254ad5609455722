package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// FuzzDecodeVerify feeds NDJSON exports (seeded from a real chain and the
// rejection table) through DecodeEntry and the chain verifier. Invariants:
// no panics; an accepted line re-encodes to an entry that decodes to the same
// value; a chain that verifies has consecutive sequence numbers from 1.
func FuzzDecodeVerify(f *testing.F) {
	es := sealedChain(f, 4)
	var all bytes.Buffer
	for i := range es {
		line := EncodeEntry(&es[i])
		f.Add(line)
		all.Write(line)
		all.WriteByte('\n')
	}
	f.Add(all.Bytes())
	f.Add([]byte(goldenInput))
	f.Add([]byte(`{"payload":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 4096), MaxEntryBytes+2)
		v := NewChainVerifier(1, ZeroHash)
		var n uint64
		for sc.Scan() {
			e, err := DecodeEntry(sc.Bytes())
			if err != nil {
				return
			}
			again, err := DecodeEntry(EncodeEntry(&e))
			if err != nil {
				// Payload not canonical is fine for EncodeEntry's input
				// contract; canonicalise and retry.
				p, perr := CanonicalPayload(e.Payload)
				if perr != nil {
					return
				}
				e.Payload = p
				if again, err = DecodeEntry(EncodeEntry(&e)); err != nil {
					t.Fatalf("re-decode of %s: %v", EncodeEntry(&e), err)
				}
			}
			if again.SequenceNumber != e.SequenceNumber || again.Hash != e.Hash || again.TokenID != e.TokenID {
				t.Fatal("round trip changed fields")
			}
			if err := v.Add(&e); err != nil {
				return
			}
			n++
			if e.SequenceNumber != n {
				t.Fatalf("verifier accepted sequence %d at position %d", e.SequenceNumber, n)
			}
		}
	})
}

// FuzzHashInputIsJCS checks the hand-written canonical encoder against the
// reference JCS library for arbitrary string fields and payloads.
func FuzzHashInputIsJCS(f *testing.F) {
	g := goldenEntry()
	f.Add(g.EventID, g.EventType, g.AgentID, g.TokenID, string(g.Payload), uint64(1))
	f.Add("e", "t\u2028", "a\x00\"\\", "", `{"b":[1,2.50,"x"],"a":{}}`, uint64(MaxSequence))
	f.Fuzz(func(t *testing.T, id, typ, agent, tok, payload string, seq uint64) {
		for _, s := range []string{id, typ, agent, tok} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if seq > MaxSequence {
			return
		}
		p, err := CanonicalPayload(json.RawMessage(payload))
		if err != nil {
			return
		}
		e := Entry{EventID: id, SequenceNumber: seq, Timestamp: "2026-11-23T20:15:00.123456Z", EventType: typ,
			AgentID: agent, TokenID: tok, Payload: p, PreviousHash: ZeroHash, Hash: ZeroHash}
		for _, enc := range [][]byte{HashInput(&e), EncodeEntry(&e)} {
			ref, err := jcs.Transform(enc)
			if err != nil {
				t.Fatalf("not JSON: %s: %v", enc, err)
			}
			if !bytes.Equal(ref, enc) {
				t.Fatalf("not canonical:\n got %s\nwant %s", enc, ref)
			}
		}
	})
}

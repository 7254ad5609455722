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

func exportOf(t testing.TB, es []Entry) []byte {
	var b bytes.Buffer
	for i := range es {
		b.Write(EncodeEntry(&es[i]))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestVerifyNDJSON(t *testing.T) {
	es := sealedChain(t, 20)
	good := exportOf(t, es)
	lines := bytes.SplitAfter(good, []byte("\n"))
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	swap := func() []byte {
		c := append([][]byte{}, lines...)
		c[4], c[5] = c[5], c[4]
		return join(c)
	}
	flip := func() []byte {
		c := bytes.Clone(good)
		i := bytes.Index(c, []byte(`"i":9,`))
		c[i+4] = '8'
		return c
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		bad   uint64
		check uint64
	}{
		{"ok/full", good, 0, 20},
		{"ok/empty", nil, 0, 0},
		{"ok/no-final-newline", bytes.TrimSuffix(good, []byte("\n")), 0, 20},
		{"deny/swapped-lines", swap(), 5, 4},
		{"deny/edited-payload", flip(), 9, 8},
		{"deny/blank-line", join(append(append([][]byte{}, lines[:3]...), append([][]byte{[]byte("\n")}, lines[3:]...)...)), 4, 3},
		{"deny/missing-first", join(lines[1:]), 1, 0},
		{"deny/truncated-last-line", good[:len(good)-20], 20, 19},
		{"deny/huge-line", append(bytes.Clone(good), bytes.Repeat([]byte("x"), MaxEntryBytes+10)...), 21, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := VerifyNDJSON(bytes.NewReader(tc.data), []uint64{7, 20}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Checked != tc.check {
				t.Fatalf("checked %d want %d (%s)", rep.Checked, tc.check, rep.Reason)
			}
			if tc.bad == 0 {
				if !rep.Valid || rep.FirstBadSequence != nil {
					t.Fatalf("report %+v", rep)
				}
				return
			}
			if rep.Valid || rep.FirstBadSequence == nil || *rep.FirstBadSequence != tc.bad {
				t.Fatalf("report %+v, want bad %d", rep, tc.bad)
			}
		})
	}
	rep, _ := VerifyNDJSON(bytes.NewReader(good), []uint64{7, 20}, nil)
	var b TreeBuilder
	for i := 0; i < 7; i++ {
		l, _ := EntryLeafHash(es[i].Hash)
		b.Append(l)
	}
	if rep.Roots[7] != b.Root() {
		t.Fatal("root at 7 wrong")
	}
	if rep.Roots[20] != rep.Root {
		t.Fatal("root at 20 is not the final root")
	}
}

// FuzzVerifyNDJSON: arbitrary exports never panic, and a valid report's
// Checked equals the number of lines.
func FuzzVerifyNDJSON(f *testing.F) {
	good := exportOf(f, sealedChain(f, 3))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := VerifyNDJSON(bytes.NewReader(data), []uint64{1, 2}, nil)
		if err != nil {
			return
		}
		if rep.Valid {
			n := uint64(bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")))
			if len(bytes.TrimSuffix(data, []byte("\n"))) > 0 {
				n++
			}
			if n != rep.Checked {
				t.Fatalf("valid report checked %d of %d lines", rep.Checked, n)
			}
		}
	})
}

func TestIsCanonical(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, true}, {`[]`, true}, {`{"a":1,"b":[true,false,null,"x"]}`, true}, {`-12`, true}, {`0`, true},
		{`{"a":"\u001f\n\"\\é"}`, true},
		{`{"b":1,"a":2}`, false}, {`{"a":1,"a":1}`, false}, {`{ "a":1}`, false}, {`1.5`, false}, {`1e2`, false},
		{`01`, false}, {`-0`, false}, {`"\u0041"`, false}, {`"\u000a"`, false}, {`"\/"`, false}, {`"\u001F"`, false},
		{`{"é":1}`, false}, {`1234567890123456`, false}, {"\"\xff\"", false}, {`{"a":}`, false}, {`[1,]`, false}, {``, false},
	} {
		if got := isCanonical([]byte(tc.in)); got != tc.want {
			t.Errorf("isCanonical(%s) = %v", tc.in, got)
		}
	}
}

// FuzzIsCanonical: whatever the fast check accepts is a fixed point of the
// reference JCS implementation.
func FuzzIsCanonical(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[true,false,null,"x"]}`, `{"a":"\u001f\n\"\\é"}`, `[-12,0,{"z":{}}]`, `1.5`} {
		f.Add([]byte(s))
	}
	f.Add([]byte(goldenInput))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isCanonical(b) {
			return
		}
		ref, err := jcs.Transform(b)
		if err != nil {
			t.Fatalf("accepted invalid JSON %q: %v", b, err)
		}
		if !bytes.Equal(ref, b) {
			t.Fatalf("accepted non-canonical %q (canonical %q)", b, ref)
		}
	})
}

// BenchmarkVerifyNDJSON: offline verification rate of an export.
func BenchmarkVerifyNDJSON(b *testing.B) {
	data := exportOf(b, sealedChain(b, 5000))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := VerifyNDJSON(bytes.NewReader(data), nil, nil)
		if err != nil || !rep.Valid {
			b.Fatal(rep, err)
		}
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "entries/s")
}

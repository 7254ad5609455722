package pgledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
	"pgregory.net/rapid"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

// awkward strings: JCS escapes (quote, backslash, short and \u00xx control
// forms), DEL, non-ASCII, U+2028 (literal in JCS, escaped by encoding/json's
// HTML-safe mode), astral plane, and text that looks like the pieces the
// server splices (`,"payload":`).
var awkward = []string{
	"plain", `quote"d`, `back\slash`, "tab\there", "nl\nx", "cr\rx", "bs\bff\f", "\x01\x1f", "del\x7f",
	"é日本", "line\u2028sep", "emoji🦾", `,"payload":{}`, `","timestamp":"`, "</script>&",
}

func awkwardEvent(i int) ledger.Event {
	a := awkward[i%len(awkward)]
	b := awkward[(i/len(awkward)+i)%len(awkward)]
	ev := ledger.Event{
		EventType: "t." + b,
		AgentID:   "agent-" + a,
		Payload:   map[string]any{"s": a + b, "n": i, "nested": map[string]any{b: []any{a, 1.5, nil, true}}},
	}
	if i%3 != 0 {
		ev.TokenID = "tok-" + b
	}
	return ev
}

// checkStored reads every row back and checks it against what the Go code
// computes: the entry column is EncodeEntry of the decoded entry, the hash
// column is sha256(HashInput), the chain verifies, and every stored tree
// hash equals tlog's over the entries, as does the root.
func checkStored(t testing.TB, s *Store) []ledger.Entry {
	t.Helper()
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, `SELECT seq, event_id, event_type, agent_id, ts, hash, entry FROM sint_ledger_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() // a Fatal mid-loop must not leave the connection out (Close of the pool would hang)
	var all []ledger.Entry
	for rows.Next() {
		var seq int64
		var id uuid.UUID
		var typ, agent, ts string
		var hash, entry []byte
		if err := rows.Scan(&seq, &id, &typ, &agent, &ts, &hash, &entry); err != nil {
			t.Fatal(err)
		}
		e, err := ledger.DecodeEntry(entry)
		if err != nil {
			t.Fatalf("seq %d: %v: %q", seq, err, entry)
		}
		if enc := ledger.EncodeEntry(&e); !bytes.Equal(enc, entry) {
			t.Fatalf("seq %d: stored entry\n%q\nEncodeEntry\n%q", seq, entry, enc)
		}
		sum := sha256.Sum256(ledger.HashInput(&e))
		if !bytes.Equal(sum[:], hash) || hex.EncodeToString(sum[:]) != e.Hash {
			t.Fatalf("seq %d: hash column %x, entry hash %s, sha256(HashInput) %x", seq, hash, e.Hash, sum)
		}
		if h, err := ledger.HashEntry(&e); err != nil || h != e.Hash {
			t.Fatalf("seq %d: HashEntry %s %v", seq, h, err)
		}
		if e.SequenceNumber != uint64(seq) || e.EventID != id.String() || e.EventType != typ || e.AgentID != agent || e.Timestamp != ts {
			t.Fatalf("seq %d: index columns disagree with the entry %+v", seq, e)
		}
		all = append(all, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if bad, err := ledger.VerifySlice(all, ledger.ZeroHash); err != nil {
		t.Fatalf("chain breaks at %d: %v", bad, err)
	}
	// The tree, computed in Go.
	var want []tlog.Hash
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = want[x]
		}
		return out, nil
	})
	for i, e := range all {
		raw, _ := ledger.RawHash(e.Hash)
		hs, err := tlog.StoredHashes(int64(i), raw[:], mem)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
	}
	trows, err := s.pool.Query(ctx, `SELECT idx, hash FROM sint_ledger_tree ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer trows.Close()
	n := 0
	for trows.Next() {
		var idx int64
		var h []byte
		if err := trows.Scan(&idx, &h); err != nil {
			t.Fatal(err)
		}
		if idx != int64(n) || idx >= int64(len(want)) || !bytes.Equal(h, want[idx][:]) {
			t.Fatalf("stored hash %d (row %d): %x, tlog computes %x", idx, n, h, want[min(idx, int64(len(want)-1))][:])
		}
		n++
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) || int64(n) != tlog.StoredHashCount(int64(len(all))) {
		t.Fatalf("%d stored hashes, tlog has %d", n, len(want))
	}
	if len(all) > 0 {
		table := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.readStored(ctx, s.pool, idx) })
		got, err := tlog.TreeHash(int64(len(all)), table)
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := tlog.TreeHash(int64(len(all)), mem)
		if got != exp {
			t.Fatalf("root over the table %v, over Go's hashes %v", got, exp)
		}
	}
	return all
}

// TestByteExactTwoStores: two Stores (two processes) append concurrently
// events with awkward strings, tokenId empty and set, caller-chosen ids and
// duplicates; every stored byte must be what the Go code computes, and each
// answer must equal the stored entry.
func TestByteExactTwoStores(t *testing.T) {
	url := testenv.FreshPGDatabase(t)
	if url == "" {
		t.Skip("no PostgreSQL")
	}
	ctx := context.Background()
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	var mu sync.Mutex
	got := map[uint64]ledger.Entry{}
	var wg sync.WaitGroup
	const G, N = 6, 40
	for g := 0; g < G; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := stores[g%2]
			for i := 0; i < N; i++ {
				k := g*N + i
				evs := []ledger.Event{awkwardEvent(k)}
				if i%5 == 0 { // a batch, with a caller-chosen id
					e2 := awkwardEvent(k + 7)
					e2.EventID = uuid.Must(uuid.NewV7()).String()
					evs = append(evs, e2)
				}
				es, errs, err := s.AppendBatch(ctx, evs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for j := range es {
					if errs[j] != nil {
						t.Error(errs[j])
						continue
					}
					got[es[j].SequenceNumber] = es[j]
				}
				mu.Unlock()
				if i%5 == 0 { // the same id again, from the other process
					if _, err := stores[(g+1)%2].Append(ctx, evs[1]); !errors.Is(err, ledger.ErrDuplicateEvent) {
						t.Errorf("re-append of %s: %v", evs[1].EventID, err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	// One full-size group: many tree levels completed inside one call.
	big := make([]ledger.Event, ledger.MaxBatch)
	for i := range big {
		big[i] = awkwardEvent(1000 + i)
	}
	es, errs, err := stores[1].AppendBatch(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	for i := range es {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		got[es[i].SequenceNumber] = es[i]
	}
	all := checkStored(t, stores[0])
	if want := G*N + G*N/5 + ledger.MaxBatch; len(all) != want {
		t.Fatalf("%d entries, want %d", len(all), want)
	}
	for _, e := range all {
		a, ok := got[e.SequenceNumber]
		if !ok {
			t.Fatalf("sequence %d answered to no one", e.SequenceNumber)
		}
		if !bytes.Equal(ledger.EncodeEntry(&a), ledger.EncodeEntry(&e)) {
			t.Fatalf("answer %+v, stored %+v", a, e)
		}
	}
	for _, s := range stores {
		if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid {
			t.Fatalf("Verify %+v %v", res, err)
		}
		if n := s.rescued.Load(); n != 0 {
			t.Fatalf("%d groups failed and were answered by the lost-reply lookup", n)
		}
	}
}

// TestByteExactProperty: random strings (any valid UTF-8, including control
// characters and non-BMP) in agentId, eventType, tokenId and payload keys
// and values hash and store exactly as the Go code does.
func TestByteExactProperty(t *testing.T) {
	url := testenv.FreshPGDatabase(t)
	if url == "" {
		t.Skip("no PostgreSQL")
	}
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	noNUL := func(s string) bool { return !strings.ContainsRune(s, 0) }
	str := rapid.String().Filter(noNUL)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		k := rapid.IntRange(1, 4).Draw(rt, "events")
		evs := make([]ledger.Event, k)
		for i := range evs {
			evs[i] = ledger.Event{
				EventType: rapid.StringN(1, -1, ledger.MaxEventTypeBytes).Filter(noNUL).Draw(rt, "type"),
				AgentID:   rapid.StringN(1, -1, 200).Filter(noNUL).Draw(rt, "agent"),
				TokenID:   rapid.StringN(0, -1, ledger.MaxTokenIDBytes).Filter(noNUL).Draw(rt, "token"),
				Payload: map[string]any{
					str.Draw(rt, "key"): str.Draw(rt, "value"),
					"n":                 rapid.Int64().Draw(rt, "n"),
				},
			}
		}
		es, errs, err := s.AppendBatch(ctx, evs)
		if err != nil {
			rt.Fatal(err)
		}
		for i, e := range es {
			if errs[i] != nil {
				rt.Fatalf("event %d: %v", i, errs[i])
			}
			stored, err := s.Get(ctx, e.SequenceNumber)
			if err != nil {
				rt.Fatal(err)
			}
			if !bytes.Equal(ledger.EncodeEntry(&stored), ledger.EncodeEntry(&e)) {
				rt.Fatalf("answer %+v, stored %+v", e, stored)
			}
			if stored.AgentID != evs[i].AgentID || stored.EventType != evs[i].EventType || stored.TokenID != evs[i].TokenID {
				rt.Fatalf("strings changed: %+v vs %+v", stored, evs[i])
			}
		}
		n += k
	})
	all := checkStored(t, s)
	if len(all) != n {
		t.Fatalf("%d entries, appended %d", len(all), n)
	}
	if r := s.rescued.Load(); r != 0 {
		t.Fatalf("%d groups failed and were answered by the lost-reply lookup", r)
	}
}

// TestPieces: the client-built pieces around the payload are cut from
// HashInput correctly even when the strings contain the separators.
func TestPieces(t *testing.T) {
	for _, a := range awkward {
		for _, tok := range []string{"", a} {
			t.Run(fmt.Sprintf("%q/token=%q", a, tok), func(t *testing.T) {
				p := ledger.Prepared{Event: ledger.Event{EventType: a, AgentID: a, TokenID: tok}, Payload: json.RawMessage(`{"x":"` + `,\"payload\":{}` + `"}`)}
				id := "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f"
				pre, suf := pieces(id, &p)
				e := ledger.Entry{EventID: id, SequenceNumber: 12, Timestamp: "2026-11-23T20:00:00.000001Z", EventType: a, AgentID: a,
					TokenID: tok, Payload: p.Payload, PreviousHash: ledger.ZeroHash}
				// What sint_ledger_append concatenates.
				in := string(pre) + `,"payload":` + string(p.Payload) + `,"previousHash":"` + e.PreviousHash + `","sequenceNumber":"12","timestamp":"` + e.Timestamp + `"` + string(suf)
				if in != string(ledger.HashInput(&e)) {
					t.Fatalf("spliced %q\nHashInput %q", in, ledger.HashInput(&e))
				}
				sum := sha256.Sum256([]byte(in))
				e.Hash = hex.EncodeToString(sum[:])
				enc := string(pre) + `,"hash":"` + e.Hash + `","payload":` + string(p.Payload) + `,"previousHash":"` + e.PreviousHash + `","sequenceNumber":12,"timestamp":"` + e.Timestamp + `"` + string(suf)
				if enc != string(ledger.EncodeEntry(&e)) {
					t.Fatalf("spliced %q\nEncodeEntry %q", enc, ledger.EncodeEntry(&e))
				}
			})
		}
	}
}

// TestLockKeyInMigration: the function takes the same advisory lock as
// every other appender (appendLockKey).
func TestLockKeyInMigration(t *testing.T) {
	for _, name := range []string{"migrations/002_append_function.sql", "migrations/003_fleet_estop_guard.sql"} {
		b, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "pg_advisory_xact_lock("+strconv.FormatInt(appendLockKey, 10)+")") {
			t.Fatalf("sint_ledger_append of %s does not lock appendLockKey", name)
		}
	}
}

// TestLostCommitReply: the group committed but its answer was lost; the
// store finds every event recorded and answers from the stored entries:
// the event recorded by this group gets its entry, an event whose id was
// already recorded with other content gets ErrDuplicateEvent.
func TestLostCommitReply(t *testing.T) {
	c := &ledgertest.Clock{}
	s := openFresh(t, c.Now)
	defer s.Close()
	ctx := context.Background()
	first, err := s.Append(ctx, ledger.Event{EventID: "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f", EventType: "a.b", AgentID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	s.afterCommit = func() error { return errors.New("connection reset after COMMIT") }
	es, errs, err := s.AppendBatch(ctx, []ledger.Event{
		{EventID: first.EventID, EventType: "other", AgentID: "y"},
		{EventType: "c.d", AgentID: "z", TokenID: "tok", Payload: map[string]string{"k": "v"}},
	})
	s.afterCommit = nil
	if err != nil {
		t.Fatalf("lost reply of a committed group: %v", err)
	}
	if s.rescued.Load() != 1 {
		t.Fatal("the lost-reply lookup did not answer")
	}
	if !errors.Is(errs[0], ledger.ErrDuplicateEvent) || errs[1] != nil {
		t.Fatalf("errs %v", errs)
	}
	stored, err := s.Get(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ledger.EncodeEntry(&es[1]), ledger.EncodeEntry(&stored)) {
		t.Fatalf("answer %+v, stored %+v", es[1], stored)
	}
	// Not committed: a failure before COMMIT leaves an event unrecorded, so
	// the group fails.
	s.beforeCommit = func(b *pgx.Batch) { b.Queue(`SELECT 1/0`) }
	_, _, err = s.AppendBatch(ctx, []ledger.Event{{EventType: "lost", AgentID: "x"}})
	s.beforeCommit = nil
	if codes.Of(err) != codes.LedgerUnavailable {
		t.Fatalf("rolled-back group: %v", err)
	}
	checkStored(t, s)
}

// TestNULRefusedPerEvent: PostgreSQL text cannot hold U+0000; such an
// event is refused on its own instead of failing its whole group.
func TestNULRefusedPerEvent(t *testing.T) {
	c := &ledgertest.Clock{}
	s := openFresh(t, c.Now)
	defer s.Close()
	es, errs, err := s.AppendBatch(context.Background(), []ledger.Event{
		{EventType: "a.b", AgentID: "x"}, {EventType: "a.b", AgentID: "x\x00y"}, {EventType: "a\x00", AgentID: "x"}, {EventType: "a.b", AgentID: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || codes.Of(errs[1]) != codes.MalformedRequest || codes.Of(errs[2]) != codes.MalformedRequest || errs[3] != nil {
		t.Fatalf("errs %v", errs)
	}
	if es[3].SequenceNumber != 2 {
		t.Fatalf("sequence %d", es[3].SequenceNumber)
	}
	checkStored(t, s)
}

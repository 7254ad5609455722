package filestore

import (
	"bytes"
	"context"
	"testing"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

// TestGenerateIsWhatAppendWrites: a generated store opens without repairs,
// verifies, its checkpoints verify against the stored tree, its export
// verifies offline, every event id is found, and it keeps appending.
func TestGenerateIsWhatAppendWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     uint64
		small bool
	}{
		{"decisions-2", 2, false},
		{"decisions-70001", 70001, false}, // two event id segments
		{"small-1000", 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			signer, pub := ledgertest.Signer(t)
			dir := t.TempDir()
			cp, err := Generate(ctx, dir, tc.n, GenOptions{Signer: signer, CheckpointEvery: 10000, Small: tc.small, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{CheckDuty: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if r := s.Recovered(); len(r) != 0 {
				t.Fatalf("generated store repaired at open: %v", r)
			}
			if err := s.WaitChecked(ctx); err != nil {
				t.Fatalf("background check: %v", err)
			}
			res, err := s.Verify(ctx, 0, 0)
			if err != nil || !res.Valid || res.Checked != tc.n {
				t.Fatalf("Verify %+v %v", res, err)
			}
			size, root, err := ledger.VerifyCheckpoint(cp, signer.Name(), pub)
			if err != nil || size != tc.n-1 {
				t.Fatalf("checkpoint %v size %d", err, size)
			}
			if th, _ := s.TreeHash(ctx, size); th != root {
				t.Fatal("final checkpoint root differs from the stored tree")
			}
			l := &ledger.Ledger{Store: s}
			latest, err := l.LatestCheckpoint(ctx)
			if err != nil || latest.RootHash != cp.RootHash {
				t.Fatalf("latest checkpoint %+v %v", latest, err)
			}
			var buf bytes.Buffer
			if err := s.Export(ctx, &buf, 0, 0, nil); err != nil {
				t.Fatal(err)
			}
			rep, err := ledger.VerifyNDJSON(&buf, []uint64{size}, nil)
			if err != nil || !rep.Valid || rep.Roots[size] != root {
				t.Fatalf("export %+v %v", rep, err)
			}
			for _, seq := range []uint64{1, tc.n / 2, tc.n} {
				e, err := s.Get(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.GetByEventID(ctx, e.EventID)
				if err != nil || got.SequenceNumber != seq {
					t.Fatalf("GetByEventID(%d) %+v %v", seq, got, err)
				}
				if _, err := s.Append(ctx, ledger.Event{EventID: e.EventID, EventType: "x.y", AgentID: "a"}); err != ledger.ErrDuplicateEvent {
					t.Fatalf("re-used generated id %d: %v", seq, err)
				}
			}
			e, err := s.Append(ctx, ledger.Event{EventType: "x.y", AgentID: "a"})
			if err != nil || e.SequenceNumber != tc.n+1 {
				t.Fatalf("append %+v %v", e, err)
			}
			if res, _ := s.Verify(ctx, 0, 0); !res.Valid {
				t.Fatalf("after append %+v", res)
			}
		})
	}
}

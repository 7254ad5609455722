package pgledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

func openFresh(t *testing.T, clock func() time.Time) *Store {
	t.Helper()
	url := testenv.FreshPGDatabase(t)
	if url == "" {
		t.Skip("no PostgreSQL")
	}
	s, err := Open(context.Background(), url, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	testenv.PostgresURL(t)
	ledgertest.Run(t, ledgertest.Options{
		Open: func(t *testing.T, clock func() time.Time) ledger.Store { return openFresh(t, clock) },
		// The tamper: an UPDATE as superuser with the trigger disabled.
		Tamper: func(t *testing.T, st ledger.Store, seq uint64) {
			s := st.(*Store)
			ctx := context.Background()
			for _, q := range []string{
				`ALTER TABLE sint_ledger_entries DISABLE TRIGGER sint_ledger_entries_no_change`,
				fmt.Sprintf(`UPDATE sint_ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"i":%d', '"i":99999'), 'UTF8') WHERE seq = %d`, seq-1, seq),
				`ALTER TABLE sint_ledger_entries ENABLE TRIGGER sint_ledger_entries_no_change`,
			} {
				tag, err := s.pool.Exec(ctx, q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if strings.HasPrefix(q, "UPDATE") && tag.RowsAffected() != 1 {
					t.Fatalf("tamper updated %d rows", tag.RowsAffected())
				}
			}
		},
	})
}

func TestAppendOnlyTriggers(t *testing.T) {
	c := &ledgertest.Clock{}
	s := openFresh(t, c.Now)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, ledger.Event{EventType: "a.b", AgentID: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for name, q := range map[string]string{
		"deny/update-entry":   `UPDATE sint_ledger_entries SET agent_id = 'y' WHERE seq = 2`,
		"deny/delete-entry":   `DELETE FROM sint_ledger_entries WHERE seq = 3`,
		"deny/truncate-entry": `TRUNCATE sint_ledger_entries`,
		"deny/update-tree":    `UPDATE sint_ledger_tree SET hash = hash WHERE idx = 0`,
		"deny/delete-tree":    `DELETE FROM sint_ledger_tree`,
		"deny/truncate-tree":  `TRUNCATE sint_ledger_tree`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.pool.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: err %v", q, err)
			}
		})
	}
	if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid || res.Checked != 3 {
		t.Fatalf("Verify %+v %v", res, err)
	}
}

func TestDeletedRowIsReported(t *testing.T) {
	c := &ledgertest.Clock{}
	s := openFresh(t, c.Now)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := s.Append(ctx, ledger.Event{EventType: "a.b", AgentID: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`ALTER TABLE sint_ledger_entries DISABLE TRIGGER sint_ledger_entries_no_change`,
		`DELETE FROM sint_ledger_entries WHERE seq = 6`,
		`ALTER TABLE sint_ledger_entries ENABLE TRIGGER sint_ledger_entries_no_change`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Verify(ctx, 0, 0)
	if err != nil || res.Valid || *res.FirstBadSequence != 6 {
		t.Fatalf("Verify %+v %v", res, err)
	}
}

// TestTwoProcessesOneChain: two stores (two appender goroutines, two pools,
// as two gateway processes would have) append concurrently to one database.
func TestTwoProcessesOneChain(t *testing.T) {
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
	var wg sync.WaitGroup
	const per = 60
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := stores[g%2]
			for i := 0; i < per; i++ {
				if _, err := s.Append(ctx, ledger.Event{EventType: "policy.evaluated", AgentID: fmt.Sprintf("p%d", g%2), Payload: map[string]int{"i": i}}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	res, err := stores[0].Verify(ctx, 0, 0)
	if err != nil || !res.Valid || res.Checked != 8*per {
		t.Fatalf("Verify %+v %v (%s)", res, err, res.Reason)
	}
	r0, _ := stores[0].TreeHash(ctx, 8*per)
	r1, _ := stores[1].TreeHash(ctx, 8*per)
	if r0 != r1 {
		t.Fatal("the two processes disagree on the root")
	}
	for _, s := range stores {
		if n := s.rescued.Load(); n != 0 {
			t.Fatalf("%d groups failed and were answered by the lost-reply lookup", n)
		}
	}
}

// TestRolledBackGroupLeavesNoTrace: a group that fails after its rows and
// stored hashes were written (rolled back) must leave nothing behind — in
// the table or in the in-process stored-hash cache — so the next appends
// build a correct tree.
func TestRolledBackGroupLeavesNoTrace(t *testing.T) {
	c := &ledgertest.Clock{}
	s := openFresh(t, c.Now)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := s.Append(ctx, ledger.Event{EventType: "a.b", AgentID: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// A statement between the append call and COMMIT fails: the rows and
	// stored hashes the call wrote are rolled back.
	s.beforeCommit = func(b *pgx.Batch) { b.Queue(`SELECT 1/0`) }
	if _, err := s.Append(ctx, ledger.Event{EventType: "lost", AgentID: "x"}); err == nil {
		t.Fatal("append succeeded despite the rollback")
	}
	s.beforeCommit = nil
	// Another process fills the positions the rolled-back group had used.
	s2, err := New(ctx, s.pool, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var last ledger.Entry
	for i := 0; i < 5; i++ {
		e, err := s2.Append(ctx, ledger.Event{EventType: "a.b", AgentID: "y"})
		if err != nil {
			t.Fatal(err)
		}
		last = e
	}
	if last.SequenceNumber != 10 {
		t.Fatalf("last sequence %d, want 10", last.SequenceNumber)
	}
	if _, err := s.LastOfType(ctx, "lost"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("rolled-back entry visible: %v", err)
	}
	for name, st := range map[string]*Store{"failed-store": s, "other-store": s2} {
		res, err := st.Verify(ctx, 0, 0)
		if err != nil || !res.Valid || res.Checked != 10 {
			t.Fatalf("%s: Verify %+v %v (%s)", name, res, err, res.Reason)
		}
	}
	r1, _ := s.TreeHash(ctx, 10)
	r2, _ := s2.TreeHash(ctx, 10)
	if r1 != r2 {
		t.Fatal("the store whose group rolled back serves a different tree")
	}
}

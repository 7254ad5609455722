package app

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/ledger"
)

// archivedFirst is a shared ledger whose first entry was archived out of
// PostgreSQL on a host that cannot read the archive: Get fails, the tree
// (kept whole by archiving) answers.
type archivedFirst struct {
	ledger.Store
	leaf tlog.Hash
}

var errArchived = errors.New("LEDGER_UNAVAILABLE: entry 1 is archived")

func (a archivedFirst) Get(context.Context, uint64) (ledger.Entry, error) {
	return ledger.Entry{}, errArchived
}

func (a archivedFirst) TreeHash(_ context.Context, size uint64) (tlog.Hash, error) {
	if size != 1 {
		return tlog.Hash{}, errors.New("unexpected size")
	}
	return a.leaf, nil
}

// TestFleetIdentitySurvivesArchiving (a replica refused to start once the
// first entry was archived out of PostgreSQL and its host could not read
// the archive, since the fleet id was read from the entry): the id comes
// from the tree, which archiving keeps; a single node has none.
func TestFleetIdentitySurvivesArchiving(t *testing.T) {
	ctx := context.Background()
	lg := archivedFirst{leaf: tlog.Hash{1, 2, 3}}
	for _, tc := range []struct {
		name   string
		shared bool
		want   string
	}{
		{"fleet", true, "0102030000000000000000000000000000000000000000000000000000000000"},
		{"single-node", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fleetIdentity(ctx, tc.shared, lg)
			if err != nil || got != tc.want {
				t.Fatalf("fleetIdentity = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/ledger/pgledger"
)

var (
	ledgerArchiveStore string
	ledgerArchiveTo    string
	ledgerArchiveUpTo  uint64
)

var ledgerArchiveCmd = &cobra.Command{
	Use:   "archive --store DIR|postgres://… --to ARCHIVE_DIR [--up-to N]",
	Short: "Move sealed ledger entries to an archive directory (tlog-tiles layout)",
	Long: `Move the sealed entries of an embedded ledger store (--ledger-dir of a
stopped gateway: the store's LOCK refuses a running one) into an archive
directory laid out like C2SP tlog-tiles: tile/entries/<N> bundles of 256
canonical entries, tile/8/<L>/<N> hash tiles and the signed checkpoint. Only
whole bundles covered by the latest checkpoint move (and at most --up-to
entries). Their blocks in ledger.log are released; every read, proof,
Verify, export (and so "sintctl ledger verify") keeps working across the
boundary, reading the archive. The archive directory must stay where it is.

With --store postgres://… (a PostgreSQL ledger; run as the owner of the
ledger tables, gateways may keep running) the same layout is written and
read back against the stored tree, the boundary is recorded in
sint_ledger_archive, then the archived rows are removed in batches (the
tree, the removed rows' event ids and the retained event types stay).
Gateways read archived entries from the recorded directory (or their
ledger archive directory setting). An interrupted run leaves a ledger that
verifies; run it again to complete it.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		if ledgerArchiveStore == "" || ledgerArchiveTo == "" {
			return fmt.Errorf("--store and --to are required")
		}
		if strings.HasPrefix(ledgerArchiveStore, "postgres://") || strings.HasPrefix(ledgerArchiveStore, "postgresql://") {
			return archivePostgres(cmd)
		}
		s, err := filestore.Open(ledgerArchiveStore, filestore.Options{})
		if err != nil {
			return err
		}
		rep, err := s.Archive(cmd.Context(), ledgerArchiveTo, ledgerArchiveUpTo)
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "archived entries 1..%d (%d bundles, %d tiles written, %d log bytes released)\n",
			rep.UpTo, rep.Bundles, rep.Tiles, rep.FreedBytes)
		return nil
	},
}

func archivePostgres(cmd *cobra.Command) error {
	s, err := pgledger.Open(cmd.Context(), ledgerArchiveStore, pgledger.Options{})
	if err != nil {
		return err
	}
	rep, err := s.Archive(cmd.Context(), ledgerArchiveTo, ledgerArchiveUpTo)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "archived entries 1..%d (%d bundles, %d tiles written, rows removed through %d: %d)\n",
		rep.UpTo, rep.Bundles, rep.Tiles, rep.PurgedTo, rep.Removed)
	return nil
}

func init() {
	f := ledgerArchiveCmd.Flags()
	f.StringVar(&ledgerArchiveStore, "store", "", "embedded ledger store directory (gateway stopped), or a postgres:// URL (as the tables' owner)")
	f.StringVar(&ledgerArchiveTo, "to", "", "archive directory")
	f.Uint64Var(&ledgerArchiveUpTo, "up-to", ^uint64(0), "archive at most the entries up to this sequence number")
	ledgerGroup().AddCommand(ledgerArchiveCmd)
}

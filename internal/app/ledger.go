package app

import (
	"time"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
)

// openEmbeddedLedger opens the durable embedded ledger in dir.
func openEmbeddedLedger(dir string, clock func() time.Time) (ledger.Store, error) {
	return filestore.Open(dir, filestore.Options{Clock: clock})
}

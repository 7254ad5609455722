package embedded_test

import (
	"path/filepath"
	"testing"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
	"github.com/sintgate/sintgate/store/storetest"
)

func TestEconomyContract(t *testing.T) {
	storetest.RunEconomy(t, func(t *testing.T) store.Economy {
		s, err := embedded.Open(filepath.Join(t.TempDir(), "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

package pgstore

import (
	"testing"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/storetest"
)

func TestEconomyContract(t *testing.T) {
	s, err := Open(t.Context(), testenv.FreshPGDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	storetest.RunEconomy(t, func(t *testing.T) store.Economy {
		if _, err := s.pool.Exec(t.Context(), "TRUNCATE econ_accounts, econ_transactions, econ_prices"); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
)

type pingStore struct{ store.Store }

func (pingStore) Ping(context.Context) error { return nil }

// failingLedger is an empty ledger whose store may have failed itself.
type failingLedger struct {
	ledger.Store
	failed error
}

func (l failingLedger) Size(context.Context) (uint64, error) { return 0, nil }
func (l failingLedger) Failed() error                        { return l.failed }

// TestReadyReportsAFailedLedger: a ledger store that failed itself (its
// background check found tampered or torn derived files) refuses every
// append, so every decision denies; readiness must say so instead of "ok".
func TestReadyReportsAFailedLedger(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failed error
		status int
	}{
		{"healthy", nil, 200},
		{"failed", errors.New("ledger: store failed: derived files disagree with the log"), 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Deps{Store: pingStore{}, Ledger: failingLedger{failed: tc.failed}, Breaker: estop.NewBreaker(),
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(func() bool { return false })})
			resp, err := s.App.Test(httptest.NewRequest("GET", "/health/ready", nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET /health/ready = %d %s, want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
}

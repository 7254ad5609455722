package app

import (
	"context"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/pgstore"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestFleetRevocationFromSkewedReplica: a token revoked by another replica
// whose clock is an hour behind (its RevokedAt is an hour old), with its
// bus message lost, reaches a running replica anyway. The store poll
// (RevokedSince) reaches back only revocationOverlap by the revoking
// replica's clock and missed it for good, so the token stayed usable on
// this replica until its restart.
//
//   - ledger-entry: the revocation is in the store and the ledger (the
//     normal case): the catch-up reads token.revoked past its cursor.
//   - store-only: the ledger append failed after the store's commit: the
//     periodic full read of the store's revocations (revocationResync).
func TestFleetRevocationFromSkewedReplica(t *testing.T) {
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	other, err := pgstore.Open(context.Background(), pgURL) // the skewed replica's store handle
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	run := func(t *testing.T, resync time.Duration, agent string, withLedger bool, nBase int) {
		old := revocationResync
		revocationResync = resync
		t.Cleanup(func() { revocationResync = old })
		dir := t.TempDir()
		ck := &clock{t: time.Now().Truncate(time.Millisecond)}
		res, _, err := InitDataDir(context.Background(), dir, ck.Now())
		if err != nil {
			t.Fatal(err)
		}
		h, _ := serveWith(t, dir, ck, res.AdminAPIKey, Options{StoreURL: pgURL, RedisAddr: redisAddr}, nil)
		if st := h.admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 && st != 200 {
			t.Fatalf("add root: %d", st)
		}
		h.nextN = nBase
		tok := h.tokenFor(agent, nil)
		move := func() (string, string) {
			_, d := h.intercept(agent, h.interceptBody(agent, func(m map[string]any) { m["tokenId"] = tok.Claims.TokenID }))
			return d.Decision, str(d.Code)
		}
		if d, c := move(); d != "allow" {
			t.Fatalf("before: %s %s", d, c)
		}
		skewed := time.Now().Add(-time.Hour)
		if _, err := other.RevokeToken(context.Background(), tok.Claims.TokenID, skewed); err != nil {
			t.Fatal(err)
		}
		if withLedger {
			if _, err := h.g.Ledger.Append(context.Background(), ledger.Event{EventType: "token.revoked", AgentID: "operator:other", TokenID: tok.Claims.TokenID,
				Payload: map[string]any{"tokenId": tok.Claims.TokenID, "cause": tok.Claims.TokenID}}); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, "the skewed replica's revocation to be enforced", func() bool {
			_, c := move()
			return c == "TOKEN_REVOKED"
		})
	}
	t.Run("ledger-entry", func(t *testing.T) { run(t, time.Hour, "skew-agent-1", true, 1000) })
	t.Run("store-only", func(t *testing.T) { run(t, 200*time.Millisecond, "skew-agent-2", false, 2000) })
}

// TestFleetCircuitInStoreOnly: a circuit another replica opened in
// PostgreSQL whose ledger entry (append failed after the store's write)
// and bus announcement were both lost reaches this replica through the
// periodic re-read (revocationResync); the catch-up reads only the
// ledger, so it never did.
func TestFleetCircuitInStoreOnly(t *testing.T) {
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	other, err := pgstore.Open(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	old := revocationResync
	revocationResync = 200 * time.Millisecond
	t.Cleanup(func() { revocationResync = old })
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, _ := serveWith(t, dir, ck, res.AdminAPIKey, Options{StoreURL: pgURL, RedisAddr: redisAddr}, nil)
	h.trustRoot("root")
	tok := h.tokenFor("cs-agent", nil)
	move := func() (string, string) {
		_, d := h.intercept("cs-agent", h.interceptBody("cs-agent", func(m map[string]any) { m["tokenId"] = tok.Claims.TokenID }))
		return d.Decision, str(d.Code)
	}
	if d, c := move(); d != "allow" {
		t.Fatalf("before: %s %s", d, c)
	}
	if err := other.PutAgent(context.Background(), store.Agent{AgentID: tokentest.Pub("cs-agent"), RegisteredAt: time.Now().UnixMilli(),
		CircuitOpen: true, CircuitCause: "injection flood", CircuitSince: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the circuit opened in PostgreSQL only to be enforced", func() bool {
		_, c := move()
		return c == "CIRCUIT_OPEN"
	})
}

package attest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// jwksServer serves the JWKS of ks at the time held in now, counting hits;
// down makes it answer 503.
type jwksServer struct {
	ks   atomic.Pointer[Keyset]
	hits atomic.Int64
	down atomic.Bool
	now  atomic.Int64 // unix seconds
	srv  *httptest.Server
}

func newJWKSServer(t *testing.T, ks *Keyset) *jwksServer {
	s := &jwksServer{}
	s.ks.Store(ks)
	s.now.Store(t0.Unix())
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.ks.Load().JWKS(time.Unix(s.now.Load(), 0)))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func TestJWKSCache(t *testing.T) {
	ctx := context.Background()
	k1 := goldenKey(t)
	ks, err := NewKeyset("gw-test", k1)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, ks)
	cache := NewJWKSCache(srv.srv.Client(), srv.srv.URL+"/.well-known/jwks.json")

	c := goldenClaims()
	now := time.Unix(c.IssuedAt, 0)
	tok, _ := Sign(k1, c)

	t.Run("fetches-once-then-caches", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			if _, err := cache.Verify(ctx, tok, now, expectFor(c)); err != nil {
				t.Fatal(err)
			}
		}
		if h := srv.hits.Load(); h != 1 {
			t.Fatalf("hits = %d, want 1", h)
		}
	})

	// The gateway rotates; an attestation from the new key arrives.
	k2, _ := NewKey(make([]byte, 32), t0)
	ks2, _ := NewKeyset("gw-test", k2)
	srv.ks.Store(ks2)
	tok2, _ := Sign(k2, c)

	t.Run("unknown-kid-refetches", func(t *testing.T) {
		later := now.Add(15 * time.Second) // past MinInterval, before exp
		if _, err := cache.Verify(ctx, tok2, later, expectFor(c)); err != nil {
			t.Fatalf("verify after rotation: %v", err)
		}
		if h := srv.hits.Load(); h != 2 {
			t.Fatalf("hits = %d, want 2", h)
		}
	})
	t.Run("unknown-kid-refetch-is-rate-limited", func(t *testing.T) {
		other, _ := NewKey(bytesOf(7), t0)
		bad, _ := Sign(other, c)
		for i := 0; i < 10; i++ {
			_, err := cache.Verify(ctx, bad, now.Add(16*time.Second), expectFor(c))
			if ReasonOf(err) != ReasonUnknownKey {
				t.Fatalf("err = %v", err)
			}
		}
		if h := srv.hits.Load(); h != 2 {
			t.Fatalf("hits = %d, want 2 (no refetch within MinInterval)", h)
		}
	})
	t.Run("stale-keys-used-while-gateway-down", func(t *testing.T) {
		srv.down.Store(true)
		defer srv.down.Store(false)
		at := now.Add(30 * time.Minute) // past MaxAge, within MaxStale
		c2 := c
		c2.IssuedAt, c2.ExpiresAt = at.Unix(), at.Unix()+30
		tok, _ := Sign(k2, c2)
		if _, err := cache.Verify(ctx, tok, at, expectFor(c2)); err != nil {
			t.Fatalf("verify with stale keys: %v", err)
		}
		at = now.Add(2 * time.Hour) // past MaxStale: fail closed
		c2.IssuedAt, c2.ExpiresAt = at.Unix(), at.Unix()+30
		tok, _ = Sign(k2, c2)
		_, err := cache.Verify(ctx, tok, at, expectFor(c2))
		if ReasonOf(err) != ReasonKeysUnavailable || codes.Of(err) != codes.InternalError {
			t.Fatalf("err = %v, want %s", err, ReasonKeysUnavailable)
		}
	})
	t.Run("recovers-when-gateway-returns", func(t *testing.T) {
		at := now.Add(3 * time.Hour)
		c2 := c
		c2.IssuedAt, c2.ExpiresAt = at.Unix(), at.Unix()+30
		tok, _ := Sign(k2, c2)
		if _, err := cache.Verify(ctx, tok, at, expectFor(c2)); err != nil {
			t.Fatal(err)
		}
	})
}

func bytesOf(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b
	}
	return s
}

func TestJWKSCacheFailsClosedWithoutKeys(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()
	cache := NewJWKSCache(srv.Client(), srv.URL)
	c := goldenClaims()
	tok, _ := Sign(goldenKey(t), c)
	_, err := cache.Verify(context.Background(), tok, time.Unix(c.IssuedAt, 0), expectFor(c))
	if ReasonOf(err) != ReasonKeysUnavailable {
		t.Fatalf("err = %v", err)
	}
}

func TestJWKSCacheCoalescesConcurrentFetches(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	ks, _ := NewKeyset("gw-test", goldenKey(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		w.Write(ks.JWKS(t0))
	}))
	defer srv.Close()
	cache := NewJWKSCache(srv.Client(), srv.URL)
	c := goldenClaims()
	tok, _ := Sign(goldenKey(t), c)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cache.Verify(context.Background(), tok, time.Unix(c.IssuedAt, 0), expectFor(c))
			errs <- err
		}()
	}
	// Let every goroutine reach the fetch before the server answers; the
	// count below does not depend on how long this takes.
	for hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h := hits.Load(); h != 1 {
		t.Fatalf("hits = %d, want 1", h)
	}
}

func TestJWKSCacheHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	cache := NewJWKSCache(srv.Client(), srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := goldenClaims()
	tok, _ := Sign(goldenKey(t), c)
	if _, err := cache.Verify(ctx, tok, time.Unix(c.IssuedAt, 0), expectFor(c)); err == nil {
		t.Fatal("verified with a cancelled context and no keys")
	}
}

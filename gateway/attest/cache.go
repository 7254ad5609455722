package attest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a JWKSCache.
const (
	DefaultJWKSMaxAge      = 5 * time.Minute
	DefaultJWKSMaxStale    = time.Hour
	DefaultJWKSMinInterval = 10 * time.Second
)

// JWKSCache fetches a gateway's JWKS document over HTTP, caches the verifier
// built from it, and refreshes it when it is older than MaxAge or when an
// attestation names a kid it does not know (a rotation), at most once per
// MinInterval. If a refresh fails, the previous key set keeps being used
// until it is MaxStale old; after that, and before the first successful
// fetch, verification fails closed with ReasonKeysUnavailable.
//
// Set MaxAge, MaxStale and MinInterval before first use. It reads no clock:
// every method takes now. It is safe for concurrent use;
// concurrent refreshes are coalesced into one request.
type JWKSCache struct {
	client *http.Client
	url    string

	MaxAge      time.Duration // refresh a key set older than this; default DefaultJWKSMaxAge
	MaxStale    time.Duration // never use a key set older than this; default DefaultJWKSMaxStale
	MinInterval time.Duration // minimum time between fetch attempts; default DefaultJWKSMinInterval

	sem         chan struct{}              // held while fetching
	cur         atomic.Pointer[cacheEntry] // last good key set
	mu          sync.Mutex                 // guards lastAttempt
	lastAttempt time.Time
}

type cacheEntry struct {
	v         *Verifier
	fetchedAt time.Time
}

// NewJWKSCache returns a cache of the JWKS at url fetched with client (nil
// means http.DefaultClient).
func NewJWKSCache(client *http.Client, url string) *JWKSCache {
	if client == nil {
		client = http.DefaultClient
	}
	return &JWKSCache{
		client: client, url: url,
		MaxAge: DefaultJWKSMaxAge, MaxStale: DefaultJWKSMaxStale, MinInterval: DefaultJWKSMinInterval,
		sem: make(chan struct{}, 1),
	}
}

// Verify verifies an attestation with the cached key set (see
// Verifier.Verify), fetching the key set first if needed, and refetching it
// once if the attestation's kid is unknown.
func (c *JWKSCache) Verify(ctx context.Context, token string, now time.Time, want Expect) (*Claims, error) {
	v, err := c.Verifier(ctx, now)
	if err != nil {
		return nil, err
	}
	claims, err := v.Verify(token, now, want)
	if ReasonOf(err) != ReasonUnknownKey {
		return claims, err
	}
	if rerr := c.refresh(ctx, now, false); rerr != nil {
		return nil, err
	}
	return c.cur.Load().v.Verify(token, now, want)
}

// Verifier returns the cached verifier, fetching the key set if there is
// none or it is older than MaxAge.
func (c *JWKSCache) Verifier(ctx context.Context, now time.Time) (*Verifier, error) {
	e := c.cur.Load()
	if e != nil && now.Sub(e.fetchedAt) < c.MaxAge {
		return e.v, nil
	}
	err := c.refresh(ctx, now, false)
	if e2 := c.cur.Load(); e2 != nil && now.Sub(e2.fetchedAt) < c.MaxStale {
		return e2.v, nil
	}
	if err == nil {
		err = fmt.Errorf("key set is older than %v", c.MaxStale)
	}
	return nil, wrapKeysUnavailable(err)
}

// Refresh fetches the key set now, regardless of its age and of MinInterval.
func (c *JWKSCache) Refresh(ctx context.Context, now time.Time) error {
	return c.refresh(ctx, now, true)
}

func wrapKeysUnavailable(err error) error {
	return verifyErr(ReasonKeysUnavailable, "", err.Error())
}

// refresh fetches the key set unless another caller fetched it while we
// waited, or (force unset) an attempt was made within MinInterval.
func (c *JWKSCache) refresh(ctx context.Context, now time.Time, force bool) error {
	before := c.cur.Load()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	if after := c.cur.Load(); after != before {
		return nil // someone else refreshed while we waited
	}
	c.mu.Lock()
	if !force && !c.lastAttempt.IsZero() && now.Sub(c.lastAttempt) < c.MinInterval {
		c.mu.Unlock()
		return fmt.Errorf("attest: JWKS fetched less than %v ago", c.MinInterval)
	}
	c.lastAttempt = now
	c.mu.Unlock()

	v, err := c.fetch(ctx)
	if err != nil {
		return err
	}
	c.cur.Store(&cacheEntry{v: v, fetchedAt: now})
	return nil
}

func (c *JWKSCache) fetch(ctx context.Context) (*Verifier, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("attest: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("attest: JWKS fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("attest: JWKS fetch: HTTP %d", resp.StatusCode)
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSLen+1))
	if err != nil {
		return nil, fmt.Errorf("attest: JWKS fetch: %w", err)
	}
	return NewVerifierFromJWKS(doc)
}

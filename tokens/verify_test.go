package tokens_test

import (
	"sync"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
	tt "github.com/sintgate/sintgate/tokens/tokentest"
)

// chain builds root(root→alice) → d1(alice→bob) → d2(bob→carol) → d3(carol→dave) → d4(dave→erin).
type fixture struct {
	root, d1, d2, d3, d4 *tokens.Token
	lookup               tokens.MapLookup
	roots                tokens.RootSet
}

func newFixture() *fixture {
	f := &fixture{}
	f.root = tt.Sign("root", tt.Root("root", "alice", 1, now))
	f.d1 = tt.Sign("alice", tt.Child(f.root, "bob", 2))
	f.d2 = tt.Sign("bob", tt.Child(f.d1, "carol", 3))
	f.d3 = tt.Sign("carol", tt.Child(f.d2, "dave", 4))
	f.d4 = tt.Sign("dave", tt.Child(f.d3, "erin", 5))
	f.lookup = tokens.MapLookup{}
	for _, t := range []*tokens.Token{f.root, f.d1, f.d2, f.d3, f.d4} {
		f.lookup[t.Claims.TokenID] = t.Raw
	}
	f.roots = tokens.RootSet{tt.Pub("root"): true}
	return f
}

func raws(ts ...*tokens.Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Raw
	}
	return out
}

type chainCase struct {
	name         string
	leaf         string
	inline       []string
	lookup       tokens.Lookup
	revoked      []string
	nowMs        int64
	registration bool
	want         codes.Code
}

func chainCases(f *fixture) []chainCase {
	// Variants signed correctly but wrong in one way.
	d1 := func(edit func(c *tokens.Claims)) *tokens.Token {
		c := tt.Child(f.root, "bob", 20)
		edit(&c)
		return tt.Sign(mustIssuerName(c.Issuer), c)
	}
	expiredRoot := func() *tokens.Token {
		c := tt.Root("root", "alice", 30, now-2*tt.Day)
		return tt.Sign("root", c)
	}()
	childOfExpired := tt.Sign("alice", tt.Child(expiredRoot, "bob", 31))
	future := tt.Root("root", "alice", 32, now)
	nb := now + tt.Hour
	future.NotBefore = &nb
	futureRoot := tt.Sign("root", future)
	early := tt.Sign("root", tt.Root("root", "alice", 33, now+6000))
	slightlyEarly := tt.Sign("root", tt.Root("root", "alice", 34, now+4000))
	stranger := tt.Sign("mallory", tt.Root("mallory", "alice", 35, now))
	nonRevocable := tt.Root("root", "alice", 36, now)
	nonRevocable.Revocable = false
	nonRevRoot := tt.Sign("root", nonRevocable)
	// A forged child: signed by mallory, claiming to be issued by alice.
	forged := func() string {
		c := tt.Child(f.root, "bob", 37)
		c.Issuer = tt.Pub("mallory")
		c.DelegationChain = []string{tt.Pub("root"), tt.Pub("mallory")}
		return tt.Sign("mallory", c).Raw
	}()
	badSig := f.d1.Raw[:len(f.d1.Raw)-2] + flipB64(f.d1.Raw[len(f.d1.Raw)-2:])
	return []chainCase{
		{name: "ok/root", leaf: f.root.Raw},
		{name: "ok/depth-1-lookup", leaf: f.d1.Raw, lookup: f.lookup},
		{name: "ok/depth-3-lookup", leaf: f.d3.Raw, lookup: f.lookup},
		{name: "ok/depth-3-inline", leaf: f.d3.Raw, inline: raws(f.root, f.d1, f.d2)},
		{name: "ok/depth-3-inline-partial-then-lookup", leaf: f.d3.Raw, inline: raws(f.d1, f.d2), lookup: f.lookup},
		{name: "deny/malformed", leaf: "x.y.z", want: codes.MalformedToken},
		{name: "deny/malformed-ancestor", leaf: f.d1.Raw, inline: []string{"x.y.z"}, want: codes.MalformedToken},
		{name: "deny/bad-signature", leaf: badSig, lookup: f.lookup, want: codes.InvalidSignature},
		{name: "deny/forged-issuer", leaf: forged, lookup: f.lookup, want: codes.InvalidChain},
		{name: "deny/unknown-root", leaf: stranger.Raw, want: codes.UnknownIssuer},
		{name: "deny/parent-not-found", leaf: f.d2.Raw, want: codes.TokenNotFound},
		{name: "deny/grandparent-not-found", leaf: f.d2.Raw, inline: raws(f.d1), want: codes.TokenNotFound},
		{name: "deny/issuer-not-parent-subject", leaf: d1(func(c *tokens.Claims) {
			c.Issuer = tt.Pub("carol")
			c.DelegationChain = []string{tt.Pub("root"), tt.Pub("carol")}
		}).Raw, lookup: f.lookup, want: codes.InvalidChain},
		{name: "deny/chain-not-parent-chain", leaf: d1(func(c *tokens.Claims) {
			c.DelegationChain = []string{tt.Pub("mallory"), tt.Pub("alice")}
		}).Raw, lookup: f.lookup, want: codes.InvalidChain},
		{name: "deny/chain-not-ending-with-issuer", leaf: d1(func(c *tokens.Claims) {
			c.DelegationChain = []string{tt.Pub("root"), tt.Pub("bob")}
		}).Raw, lookup: f.lookup, want: codes.InvalidChain},
		{name: "deny/parent-id-mismatch-inline", leaf: f.d2.Raw, inline: raws(f.root), want: codes.InvalidChain},
		{name: "deny/root-with-long-chain", leaf: func() string {
			c := tt.Root("root", "alice", 38, now)
			c.DelegationChain = []string{tt.Pub("x"), tt.Pub("root")}
			return tt.Sign("root", c).Raw
		}(), want: codes.InvalidChain},
		{name: "deny/inline-above-root", leaf: f.d1.Raw, inline: raws(f.d1, f.root), want: codes.InvalidChain},
		{name: "deny/depth-4", leaf: f.d4.Raw, lookup: f.lookup, want: codes.DelegationDepthExceeded},
		{name: "deny/expired", leaf: f.root.Raw, nowMs: now + tt.Day, want: codes.TokenExpired},
		{name: "deny/expired-ancestor", leaf: childOfExpired.Raw, inline: raws(expiredRoot), want: codes.TokenExpired},
		{name: "deny/not-before", leaf: futureRoot.Raw, want: codes.TokenNotYetValid},
		{name: "ok/not-before-at-registration", leaf: futureRoot.Raw, registration: true},
		{name: "deny/issued-more-than-5s-ahead", leaf: early.Raw, want: codes.TokenNotYetValid},
		{name: "ok/issued-4s-ahead", leaf: slightlyEarly.Raw},
		{name: "deny/revoked", leaf: f.root.Raw, revoked: []string{f.root.Claims.TokenID}, want: codes.TokenRevoked},
		{name: "deny/revoked-ancestor", leaf: f.d2.Raw, lookup: f.lookup, revoked: []string{f.d1.Claims.TokenID}, want: codes.TokenRevoked},
		{name: "deny/widening-child", leaf: d1(func(c *tokens.Claims) { c.Tier = 4 }).Raw, lookup: f.lookup, want: codes.ConstraintViolation},
		{name: "deny/non-revocable-root", leaf: nonRevRoot.Raw, want: codes.ConstraintViolation},
		// Order: the root's failure wins over the leaf's.
		{name: "order/expired-root-before-bad-leaf-signature", leaf: mustFlipSig(childOfExpired.Raw), inline: raws(expiredRoot), want: codes.TokenExpired},
		{name: "order/signature-before-issuer", leaf: mustFlipSig(stranger.Raw), want: codes.InvalidSignature},
		{name: "order/revoked-before-widening", leaf: d1(func(c *tokens.Claims) { c.Tier = 4 }).Raw, lookup: f.lookup, revoked: []string{tt.TokenID(20)}, want: codes.TokenRevoked},
	}
}

func mustIssuerName(pub string) string {
	for _, n := range []string{"root", "alice", "bob", "carol", "dave", "erin", "mallory", "x"} {
		if tt.Pub(n) == pub {
			return n
		}
	}
	// The issuer is not a test name: sign with alice (a forged issuer claim).
	return "alice"
}

// flipB64 changes a base64url character to another valid one.
func flipB64(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func mustFlipSig(raw string) string {
	// Flip the first signature character: stays valid base64url, 64 bytes.
	i := len(raw) - 86
	return raw[:i] + flipB64(raw[i:i+1]) + raw[i+1:]
}

func TestVerifyChain(t *testing.T) {
	f := newFixture()
	for _, cacheSize := range []int{0, 1024} {
		v := tokens.NewVerifier(cacheSize)
		for _, tc := range chainCases(f) {
			name := tc.name
			if cacheSize > 0 {
				name = "cached/" + name
			}
			t.Run(name, func(t *testing.T) {
				rev := tokens.NewRevocationSet()
				for _, tok := range []*tokens.Token{f.root, f.d1, f.d2, f.d3, f.d4} {
					p := ""
					if tok.Claims.ParentTokenID != nil {
						p = *tok.Claims.ParentTokenID
					}
					rev.Register(tok.Claims.TokenID, p)
				}
				rev.Register(tt.TokenID(20), f.root.Claims.TokenID)
				for _, id := range tc.revoked {
					rev.Revoke(id)
				}
				n := tc.nowMs
				if n == 0 {
					n = now
				}
				var lookup tokens.Lookup
				if tc.lookup != nil {
					lookup = tc.lookup
				}
				// Twice: the second run exercises the cache.
				for i := 0; i < 2; i++ {
					chain, err := v.VerifyChain(n, tc.leaf, tc.inline, f.roots, rev, lookup, tc.registration)
					wantCode(t, err, tc.want)
					if err == nil {
						if chain[len(chain)-1].Raw != tc.leaf || chain[0].Depth() != 0 {
							t.Fatal("chain is not root-first, leaf-last")
						}
						for d, tok := range chain {
							if tok.Depth() != d {
								t.Fatalf("chain[%d] has depth %d", d, tok.Depth())
							}
						}
					}
				}
			})
		}
	}
}

func TestVerifyRevokeVerify(t *testing.T) {
	f := newFixture()
	v := tokens.NewVerifier(16)
	rev := tokens.NewRevocationSet()
	rev.Register(f.root.Claims.TokenID, "")
	rev.Register(f.d1.Claims.TokenID, f.root.Claims.TokenID)
	rev.Register(f.d2.Claims.TokenID, f.d1.Claims.TokenID)
	if _, err := v.VerifyChain(now, f.d2.Raw, nil, f.roots, rev, f.lookup, false); err != nil {
		t.Fatal(err)
	}
	before := v.Stats()
	newly := rev.Revoke(f.root.Claims.TokenID)
	if len(newly) != 3 {
		t.Fatalf("cascade revoked %v", newly)
	}
	_, err := v.VerifyChain(now, f.d2.Raw, nil, f.roots, rev, f.lookup, false)
	wantCode(t, err, codes.TokenRevoked)
	after := v.Stats()
	if after.Hits-before.Hits < 3 || after.Misses != before.Misses {
		t.Fatalf("second verification did not come from the cache: %+v → %+v", before, after)
	}
	// Expiry is not cached either.
	_, err = v.VerifyChain(f.d1.Claims.ExpiresAt, f.d1.Raw, nil, f.roots, nil, f.lookup, false)
	wantCode(t, err, codes.TokenExpired)
	// Nor is the root registry.
	_, err = v.VerifyChain(now, f.d1.Raw, nil, tokens.RootSet{}, nil, f.lookup, false)
	wantCode(t, err, codes.UnknownIssuer)
}

func TestParseVerified(t *testing.T) {
	f := newFixture()
	v := tokens.NewVerifier(2)
	for i := 0; i < 3; i++ {
		for _, tok := range []*tokens.Token{f.root, f.d1, f.d2} {
			got, err := v.ParseVerified(tok.Raw)
			if err != nil || got.Claims.TokenID != tok.Claims.TokenID {
				t.Fatal(err)
			}
		}
	}
	if s := v.Stats(); s.Evictions == 0 {
		t.Fatalf("cache of 2 never evicted: %+v", s)
	}
	_, err := v.ParseVerified(mustFlipSig(f.root.Raw))
	wantCode(t, err, codes.InvalidSignature)
	// A bad signature is never cached as good.
	_, err = v.ParseVerified(mustFlipSig(f.root.Raw))
	wantCode(t, err, codes.InvalidSignature)
}

func TestRevocationSet(t *testing.T) {
	s := tokens.NewRevocationSet()
	s.Register("r", "")
	s.Register("a", "r")
	s.Register("b", "a")
	s.Register("c", "a")
	s.Register("x", "r")
	t.Run("revoke-middle-cascades-down-only", func(t *testing.T) {
		got := s.Revoke("a")
		if len(got) != 3 || got[0] != "a" {
			t.Fatalf("newly revoked %v", got)
		}
		for id, want := range map[string]bool{"r": false, "a": true, "b": true, "c": true, "x": false} {
			if s.IsRevoked(id) != want {
				t.Errorf("IsRevoked(%s) != %v", id, want)
			}
		}
	})
	t.Run("later-descendant-is-revoked", func(t *testing.T) {
		s.Register("d", "b")
		if !s.IsRevoked("d") {
			t.Fatal("descendant registered after the revocation is not revoked")
		}
	})
	t.Run("revoke-again-is-empty", func(t *testing.T) {
		if got := s.Revoke("a"); len(got) != 1 || got[0] != "d" {
			t.Fatalf("second revoke returned %v", got)
		}
	})
	t.Run("unknown-id-revoked-ahead", func(t *testing.T) {
		s.Revoke("future")
		s.Register("future-child", "future")
		if !s.IsRevoked("future-child") {
			t.Fatal("child of a revoked id is not revoked")
		}
	})
	t.Run("cycle-terminates", func(t *testing.T) {
		s.Register("p", "q")
		s.Register("q", "p")
		s.IsRevoked("p")
		s.Revoke("p")
		if !s.IsRevoked("q") {
			t.Fatal("q not revoked")
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 200; j++ {
					s.Register(tt.TokenID(j), "r")
					s.IsRevoked(tt.TokenID(j))
				}
			}()
		}
		s.Revoke("r")
		wg.Wait()
		if !s.IsRevoked(tt.TokenID(199)) {
			t.Fatal("not revoked under the revoked root")
		}
	})
}

func TestVerifierConcurrent(t *testing.T) {
	f := newFixture()
	v := tokens.NewVerifier(4)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				for _, leaf := range []*tokens.Token{f.d1, f.d2, f.d3} {
					if _, err := v.VerifyChain(now, leaf.Raw, nil, f.roots, nil, f.lookup, false); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

package tokens

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math"
	"testing"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Benchmarks (docs/tokens.md records the figures). Keys and tokens are built
// here without tokentest (which imports this package).

func benchKey(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("sintgate-test-key:" + name))
	return ed25519.NewKeyFromSeed(s[:])
}

func benchPub(name string) string {
	return fmt.Sprintf("%x", benchKey(name).Public().(ed25519.PublicKey))
}

// benchChain returns tokens of depth 0..3 and a lookup holding them.
func benchChain(b *testing.B) ([]*Token, MapLookup, RootSet) {
	names := []string{"root", "a", "b", "c", "d"}
	now := int64(1_763_928_000_000)
	var out []*Token
	lookup := MapLookup{}
	for d := 0; d <= 3; d++ {
		v := 0.5
		c := Claims{
			TokenID:     fmt.Sprintf("01900000-0000-7000-8000-%012x", d+1),
			Issuer:      benchPub(names[d]),
			Subject:     benchPub(names[d+1]),
			Resource:    "ros:///arm/**",
			Actions:     []string{"publish", "call"},
			Constraints: Constraints{MaxVelocityMps: &v, Geofence: &Geofence{Frame: "map", Polygon: [][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 10}}}},
			Tier:        3, IssuedAt: now, ExpiresAt: now + 3600_000,
			Nonce:     fmt.Sprintf("00000000-0000-4000-8000-%012x", d+1),
			Revocable: true,
		}
		for i := 0; i <= d; i++ {
			c.DelegationChain = append(c.DelegationChain, benchPub(names[i]))
		}
		if d > 0 {
			p := out[d-1].Claims.TokenID
			c.ParentTokenID = &p
		}
		t, err := Sign(benchKey(names[d]), c)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, t)
		lookup[t.Claims.TokenID] = t.Raw
	}
	return out, lookup, RootSet{benchPub("root"): true}
}

var sigImpls = []struct {
	name string
	fn   func(pub, msg, sig []byte) bool
}{
	{"voi-default", plainSig},
	{"voi-default-expanded-cache", sigImpl},
	{"voi-zip215", func(pub, msg, sig []byte) bool {
		return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, &voi.Options{Verify: voi.VerifyOptionsZIP_215})
	}},
	{"stdlib", func(pub, msg, sig []byte) bool { return ed25519.Verify(pub, msg, sig) }},
}

func BenchmarkVerifySig(b *testing.B) {
	k := benchKey("root")
	msg := make([]byte, 600)
	sig := ed25519.Sign(k, msg)
	pub := []byte(k.Public().(ed25519.PublicKey))
	for _, impl := range sigImpls {
		b.Run(impl.name, func(b *testing.B) {
			m := startCPU(b)
			for b.Loop() {
				if !impl.fn(pub, msg, sig) {
					b.Fatal("does not verify")
				}
			}
			m.stop(b)

		})
	}
}

func BenchmarkVerifyChain(b *testing.B) {
	chain, lookup, roots := benchChain(b)
	now := int64(1_763_928_000_000)
	rev := NewRevocationSet()
	for _, t := range chain {
		p := ""
		if t.Claims.ParentTokenID != nil {
			p = *t.Claims.ParentTokenID
		}
		rev.Register(t.Claims.TokenID, p)
	}
	defer func(f func(pub, msg, sig []byte) bool) { sigImpl = f }(sigImpl)
	for _, impl := range sigImpls {
		sigImpl = impl.fn
		for d := 0; d <= 3; d++ {
			for _, cache := range []int{0, 1024} {
				name := fmt.Sprintf("%s/depth=%d/cache=%v", impl.name, d, cache > 0)
				b.Run(name, func(b *testing.B) {
					v := NewVerifier(cache)
					leaf := chain[d].Raw
					m := startCPU(b)
					for b.Loop() {
						if _, err := v.VerifyChain(now, leaf, nil, roots, rev, lookup, false); err != nil {
							b.Fatal(err)
						}
					}
					m.stop(b)

				})
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	chain, _, _ := benchChain(b)
	raw := chain[3].Raw
	b.SetBytes(int64(len(raw)))
	m := startCPU(b)
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
	m.stop(b)

}

func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct{ name, p, r string }{
		{"literal", "ros:///cmd_vel", "ros:///cmd_vel"},
		{"prefix-dstar", "ros:///arm/**", "ros:///arm/joint_trajectory"},
		{"star-middle", "mqtt://*/line1/*/valve*", "mqtt://factory/line1/cell7/valve12"},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := startCPU(b)
			for b.Loop() {
				if !Match(c.p, c.r) {
					b.Fatal("no match")
				}
			}
			m.stop(b)

		})
	}
}

func BenchmarkContains(b *testing.B) {
	long := ""
	for i := 0; i < 40; i++ {
		long += "*a"
	}
	for _, c := range []struct{ name, p, c string }{
		{"typical", "ros:///arm/**", "ros:///arm/joint*/cmd"},
		{"alternating-80-tokens", long + "**", long + "*"},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := startCPU(b)
			for b.Loop() {
				Contains(c.p, c.c)
			}
			m.stop(b)

		})
	}
}

func BenchmarkPolygonContains(b *testing.B) {
	circle := func(n int, r float64) [][2]float64 {
		out := make([][2]float64, n)
		for i := range out {
			a := 2 * 3.141592653589793 * float64(i) / float64(n)
			out[i] = [2]float64{r * math.Cos(a), r * math.Sin(a)}
		}
		return out
	}
	for _, c := range []struct {
		name string
		p, c [][2]float64
	}{
		{"square-in-square", [][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 10}}, [][2]float64{{1, 1}, {2, 1}, {2, 2}, {1, 2}}},
		{"256-identical", circle(256, 10), circle(256, 10)},
		{"256-in-256", circle(256, 10), circle(256, 9)},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := startCPU(b)
			for b.Loop() {
				if !PolygonContains(c.p, c.c) {
					b.Fatal("not contained")
				}
			}
			m.stop(b)

		})
	}
}

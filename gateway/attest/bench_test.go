package attest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// cpuNanos returns the CPU time (user + system) the process has used. The
// benchmarks report it per op as cpu-ns/op next to ns/op: on the shared
// 2-core machine the wall-clock ns/op mostly measures the other tenants.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
}

// benchClaims is a typical allow with a small envelope.
func benchClaims() Claims {
	c := goldenClaims()
	c.Envelope = json.RawMessage(`{"maxVelocityMps":0.5,"maxAngularVelocityRps":1,"geofence":{"frame":"map","polygon":[[0,0],[10,0],[10,10],[0,10]]}}`)
	return c
}

// BenchmarkSign is the hot-path cost: hand-built JSON + base64 + Ed25519.
func BenchmarkSign(b *testing.B) {
	k := goldenKey(b)
	c := benchClaims()
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		if _, err := Sign(k, c); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkSignParallel signs from every core at once.
func BenchmarkSignParallel(b *testing.B) {
	k := goldenKey(b)
	c := benchClaims()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Sign(k, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeClaims is Sign without the signature: the overhead the
// package adds on top of Ed25519.
func BenchmarkEncodeClaims(b *testing.B) {
	c := benchClaims()
	buf := make([]byte, 0, 1024)
	enc := base64.RawURLEncoding
	out := make([]byte, 2048)
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		p, err := appendClaims(buf[:0], &c)
		if err != nil {
			b.Fatal(err)
		}
		enc.Encode(out, p)
	}
	reportCPU(b, start)
}

// BenchmarkEncodeClaimsEncodingJSON is the reflection-based alternative,
// for comparison.
func BenchmarkEncodeClaimsEncodingJSON(b *testing.B) {
	c := benchClaims()
	enc := base64.RawURLEncoding
	out := make([]byte, 2048)
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		p, err := json.Marshal(&c)
		if err != nil {
			b.Fatal(err)
		}
		enc.Encode(out, p)
	}
	reportCPU(b, start)
}

// BenchmarkEd25519Sign compares the bare signature of a 600-byte message by
// crypto/ed25519 and curve25519-voi.
func BenchmarkEd25519Sign(b *testing.B) {
	k := goldenKey(b)
	msg := make([]byte, 600)
	b.Run("stdlib", func(b *testing.B) {
		start := cpuNanos()
		for b.Loop() {
			ed25519.Sign(k.Private, msg)
		}
		reportCPU(b, start)
	})
	b.Run("voi", func(b *testing.B) {
		priv := voi.NewKeyFromSeed(k.Private.Seed())
		start := cpuNanos()
		for b.Loop() {
			voi.Sign(priv, msg)
		}
		reportCPU(b, start)
	})
}

func BenchmarkVerify(b *testing.B) {
	k := goldenKey(b)
	c := benchClaims()
	tok, _ := Sign(k, c)
	v := NewVerifier(k)
	now := time.Unix(c.IssuedAt, 0)
	want := expectFor(c)
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		if _, err := v.Verify(tok, now, want); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

func BenchmarkParamsHash(b *testing.B) {
	p := json.RawMessage(`{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}`)
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		if _, err := ParamsHash(p); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkParamsHashJCSOnly is ParamsHash through the reference library
// alone (what the fast path saves).
func BenchmarkParamsHashJCSOnly(b *testing.B) {
	p := []byte(`{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}`)
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		c, err := jcs.Transform(p)
		if err != nil {
			b.Fatal(err)
		}
		s := sha256.Sum256(c)
		_ = hex.EncodeToString(s[:])
	}
	reportCPU(b, start)
}

package tokens

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"pgregory.net/rapid"
)

// edgeKeys are encodings the rule must refuse or treat exactly as the plain
// verifier does: small-order points, non-canonical encodings, non-points.
var edgeKeys = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity (small order)
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = −1 (order 2)
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p (non-canonical 0)
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1 (non-canonical identity)
	"0100000000000000000000000000000000000000000000000000000000000080", // identity with the sign bit
	"0200000000000000000000000000000000000000000000000000000000000000", // y = 2
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// The cached expanded-key verifier and the plain verifier give the same
// answer for every key, message and signature, and asking twice (the second
// time from the cache) gives the same answer again.
func TestExpandedMatchesPlain(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	pub := []byte(priv.Public().(ed25519.PublicKey))
	msg := []byte("sintgate")
	good := ed25519.Sign(priv, msg)
	cases := map[string]struct{ pub, msg, sig []byte }{
		"valid":            {pub, msg, good},
		"other message":    {pub, []byte("sintgatf"), good},
		"flipped sig byte": {pub, msg, append(append([]byte{}, good[:5]...), append([]byte{good[5] ^ 1}, good[6:]...)...)},
		"S not canonical":  {pub, msg, append(append([]byte{}, good[:32]...), bytes.Repeat([]byte{0xff}, 32)...)},
	}
	for i, k := range edgeKeys {
		cases["edge key "+string(rune('a'+i))] = struct{ pub, msg, sig []byte }{mustHex(k), msg, good}
		cases["edge key zero sig "+string(rune('a'+i))] = struct{ pub, msg, sig []byte }{mustHex(k), msg, make([]byte, 64)}
		// R = identity, S = 0 verifies under a small-order key in
		// cofactorless rules; ours refuses small-order A.
		idSig := append(mustHex(edgeKeys[0]), make([]byte, 32)...)
		cases["edge key identity sig "+string(rune('a'+i))] = struct{ pub, msg, sig []byte }{mustHex(k), msg, idSig}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			want := plainSig(c.pub, c.msg, c.sig)
			for range 2 {
				if got := VerifySig(c.pub, c.msg, c.sig); got != want {
					t.Fatalf("VerifySig = %v, plain verifier %v", got, want)
				}
			}
		})
	}
	if !VerifySig(pub, msg, good) {
		t.Fatal("a valid signature does not verify")
	}
}

func TestExpandedMatchesPlainProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "seed")
		priv := ed25519.NewKeyFromSeed(seed)
		pub := []byte(priv.Public().(ed25519.PublicKey))
		msg := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "msg")
		sig := ed25519.Sign(priv, msg)
		switch rapid.IntRange(0, 3).Draw(t, "mutate") {
		case 1:
			i := rapid.IntRange(0, 31).Draw(t, "keyByte")
			pub = append([]byte{}, pub...)
			pub[i] ^= rapid.ByteRange(1, 255).Draw(t, "keyFlip")
		case 2:
			i := rapid.IntRange(0, 63).Draw(t, "sigByte")
			sig[i] ^= rapid.ByteRange(1, 255).Draw(t, "sigFlip")
		case 3:
			pub = mustHex(rapid.SampledFrom(edgeKeys).Draw(t, "edge"))
		}
		if got, want := VerifySig(pub, msg, sig), plainSig(pub, msg, sig); got != want {
			t.Fatalf("VerifySig = %v, plain verifier %v", got, want)
		}
	})
}

func FuzzExpandedMatchesPlain(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	pub := []byte(priv.Public().(ed25519.PublicKey))
	f.Add(pub, []byte("m"), ed25519.Sign(priv, []byte("m")))
	for _, k := range edgeKeys {
		f.Add(mustHex(k), []byte("m"), make([]byte, 64))
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != 32 || len(sig) != 64 {
			return
		}
		if got, want := VerifySig(pub, msg, sig), plainSig(pub, msg, sig); got != want {
			t.Fatalf("VerifySig = %v, plain verifier %v", got, want)
		}
	})
}

// The cache stays bounded under a flood of distinct keys.
func TestExpandedCacheBounded(t *testing.T) {
	seed := make([]byte, 32)
	for i := range maxExpandedKeys + 10 {
		seed[0], seed[1] = byte(i), byte(i>>8)
		priv := ed25519.NewKeyFromSeed(seed)
		pub := []byte(priv.Public().(ed25519.PublicKey))
		expandedKeys.get(pub)
		expandedKeys.mu.RLock()
		n := len(expandedKeys.m)
		expandedKeys.mu.RUnlock()
		if n > maxExpandedKeys {
			t.Fatalf("cache holds %d keys, bound %d", n, maxExpandedKeys)
		}
	}
}

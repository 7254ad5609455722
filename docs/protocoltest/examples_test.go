// Package protocoltest checks the byte examples of docs/protocol.md with the
// product's own verifiers, so the wire contract cannot drift from the code.
//
// Each example is the fenced block that follows an HTML comment
// `<!-- example: NAME -->` in docs/protocol.md. TestProtocolExamples verifies
// every block independently (signatures, token chain, attestation against
// the stated JWKS, ledger hashes, checkpoint note, inclusion proof);
// TestProtocolExamplesReproducible regenerates them from the fixed keys and
// compares byte for byte. Run with -print to print the generated blocks.
package protocoltest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
)

var printExamples = flag.Bool("print", false, "print the generated example blocks")

const docPath = "../protocol.md"

// The fixed test keys. root and alice are the first two keys of
// tokens/testdata/vectors.json; the gateway seed is bytes 0x01..0x20, the
// key of gateway/attest's golden test.
const (
	rootSeed  = "ad6129b8ae744ff0efd1ab6cdaf0ed172449ec292a564dd4bcbd989234ef6e4a"
	aliceSeed = "d483c42b1d7cb5f2878b17cc8a5638f5388c374639078025a22e59f3856fbd5e"
	gatewayID = "gw-test"
	// requestTimeMs is when the example request is signed and decided.
	requestTimeMs = int64(1763928000000)
	policyHash    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func gatewaySeed() []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = byte(i + 1)
	}
	return s
}

// keysBlock is the "keys" example: every fixed key of the document.
type keysBlock struct {
	RootSeed         string `json:"rootSeed"`
	RootPublicKey    string `json:"rootPublicKey"`
	AgentSeed        string `json:"agentSeed"`
	AgentID          string `json:"agentId"`
	GatewayID        string `json:"gatewayId"`
	GatewaySeed      string `json:"gatewaySeed"`
	GatewayPublicKey string `json:"gatewayPublicKey"`
	GatewayKID       string `json:"gatewayKid"`
}

func mustSeed(t testing.TB, h string) ed25519.PrivateKey {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != ed25519.SeedSize {
		t.Fatalf("bad seed %q", h)
	}
	return ed25519.NewKeyFromSeed(b)
}

func pubHex(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }

// generate builds every example block from the fixed keys with the product's
// signers. Ed25519 is deterministic, so the output never changes.
func generate(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	root, alice := mustSeed(t, rootSeed), mustSeed(t, aliceSeed)
	gk, err := attest.NewKey(gatewaySeed(), time.UnixMilli(requestTimeMs))
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := json.MarshalIndent(keysBlock{
		RootSeed: rootSeed, RootPublicKey: pubHex(root),
		AgentSeed: aliceSeed, AgentID: pubHex(alice),
		GatewayID: gatewayID, GatewaySeed: hex.EncodeToString(gatewaySeed()),
		GatewayPublicKey: hex.EncodeToString(gk.Public), GatewayKID: gk.KID,
	}, "", "  ")
	out["keys"] = string(kb)

	// The capability token: the first registered token of the token vectors.
	var vec struct {
		Registered []string `json:"registered"`
	}
	vb, err := os.ReadFile("../../tokens/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(vb, &vec); err != nil || len(vec.Registered) == 0 {
		t.Fatalf("tokens/testdata/vectors.json: %v", err)
	}
	tok, err := tokens.Parse(vec.Registered[0])
	if err != nil {
		t.Fatal(err)
	}
	out["capability-token"] = tok.Raw
	claims, _ := json.MarshalIndent(tok.Claims, "", "  ")
	out["capability-token-claims"] = string(claims)

	// The signed intercept request.
	body := `{"requestId":"019aaf00-0000-7000-8000-000000000001","agentId":"` + pubHex(alice) +
		`","timestamp":1763928000000,"tokenId":"` + tok.Claims.TokenID +
		`","resource":"ros:///cmd_vel","action":"publish","params":{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}}`
	sig := base64.RawURLEncoding.EncodeToString(ed25519.Sign(alice, []byte(body)))
	out["signed-request"] = "POST /v1/intercept HTTP/1.1\nContent-Type: application/json\n" +
		"X-Agent-Id: " + pubHex(alice) + "\nX-Agent-Timestamp: 1763928000000\nX-Agent-Sig: " + sig + "\n\n" + body

	// The attestation of the allow of that request, and the JWKS to check it.
	req, cerr := gateway.ParseRequest([]byte(body))
	if cerr != nil {
		t.Fatal(cerr)
	}
	att, err := attest.Sign(gk, attest.Claims{
		Issuer: gatewayID, Subject: pubHex(alice), Audience: req.Resource, Action: req.Action,
		JTI: req.RequestID, IssuedAt: requestTimeMs / 1000, ExpiresAt: requestTimeMs/1000 + attest.DefaultLifetimeSeconds,
		TokenID: tok.Claims.TokenID, Tier: 2, ParamsHash: req.ParamsHash,
		Envelope: json.RawMessage(`{}`), PolicyHash: policyHash, LedgerSeq: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	out["attestation"] = att
	out["jwks"] = strings.TrimSpace(string(attest.EncodeJWKS([]attest.Key{gk})))

	// Two ledger entries: the golden vector of package ledger.
	e1 := ledger.Entry{
		EventID: "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f", SequenceNumber: 1,
		Timestamp: "2026-11-23T20:15:00.123456Z", EventType: "policy.evaluated",
		AgentID:      "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
		TokenID:      "01936d5e-0000-7000-8000-000000000001",
		Payload:      json.RawMessage(`{"tier":1,"decision":"allow","resource":"ros:///cmd_vel","speed":1.50,"note":"\u00e9<\n"}`),
		PreviousHash: ledger.ZeroHash,
	}
	seal := func(e *ledger.Entry) {
		p, err := ledger.CanonicalPayload(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		e.Payload = p
		if e.Hash, err = ledger.HashEntry(e); err != nil {
			t.Fatal(err)
		}
	}
	seal(&e1)
	e2 := ledger.Entry{
		EventID: "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e60", SequenceNumber: 2,
		Timestamp: "2026-11-23T20:15:00.123457Z", EventType: "policy.loaded", AgentID: "system",
		Payload: json.RawMessage(`{}`), PreviousHash: e1.Hash,
	}
	seal(&e2)
	out["ledger-entries"] = strings.TrimSpace(string(ledger.EncodeEntry(&e1))) + "\n" + strings.TrimSpace(string(ledger.EncodeEntry(&e2)))
	out["ledger-hash-input"] = string(ledger.HashInput(&e1))

	// The checkpoint of the two-entry tree, signed by the gateway key.
	var b ledger.TreeBuilder
	l1, _ := ledger.EntryLeafHash(e1.Hash)
	l2, _ := ledger.EntryLeafHash(e2.Hash)
	b.Append(l1)
	b.Append(l2)
	ns, err := ledger.NewEd25519Signer(gatewayID, gk.KID, gk.Private)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.SignCheckpoint(ns, 2, b.Root(), time.Date(2026, 11, 23, 20, 15, 1, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	cpb, _ := json.MarshalIndent(cp, "", "  ")
	out["checkpoint"] = string(cpb)
	out["checkpoint-note"] = strings.TrimSuffix(cp.Note, "\n")

	// The inclusion proof of entry 1 in that tree: the sibling leaf hash.
	proof, _ := json.MarshalIndent(map[string]any{
		"leafIndex": 0, "treeSize": 2, "inclusionProof": ledger.HexHashes([]tlog.Hash{l2}),
	}, "", "  ")
	out["inclusion-proof"] = string(proof)
	return out
}

// readExamples returns every `<!-- example: NAME -->` block of the document.
func readExamples(t testing.TB, doc []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(doc))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name string
	var in bool
	var buf []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case in && line == "```":
			if _, dup := out[name]; dup {
				t.Fatalf("example %q appears twice", name)
			}
			out[name] = strings.Join(buf, "\n")
			name, in, buf = "", false, nil
		case in:
			buf = append(buf, line)
		case name != "" && strings.HasPrefix(line, "```"):
			in = true
		case name != "" && strings.TrimSpace(line) != "":
			t.Fatalf("example %q: marker not followed by a fenced block", name)
		case strings.HasPrefix(line, "<!-- example: ") && strings.HasSuffix(line, " -->"):
			name = strings.TrimSuffix(strings.TrimPrefix(line, "<!-- example: "), " -->")
		}
	}
	if name != "" || in {
		t.Fatalf("example %q not closed", name)
	}
	return out
}

func docExamples(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	return readExamples(t, doc)
}

// TestProtocolExamplesReproducible regenerates every example from the fixed
// keys and compares it with the document byte for byte.
func TestProtocolExamplesReproducible(t *testing.T) {
	gen := generate(t)
	if *printExamples {
		for _, n := range []string{"keys", "capability-token", "capability-token-claims", "signed-request", "attestation", "jwks",
			"ledger-entries", "ledger-hash-input", "checkpoint", "checkpoint-note", "inclusion-proof"} {
			fmt.Printf("<!-- example: %s -->\n```\n%s\n```\n\n", n, gen[n])
		}
	}
	got := docExamples(t)
	for name, want := range gen {
		if got[name] != want {
			t.Errorf("example %q in docs/protocol.md differs from the generated one:\n doc: %q\n gen: %q", name, got[name], want)
		}
	}
	for name := range got {
		if _, ok := gen[name]; !ok {
			t.Errorf("example %q in docs/protocol.md is not generated or checked", name)
		}
	}
}

type fixedRoots map[string]bool

func (r fixedRoots) IsTrustedRoot(k string) bool { return r[k] }

// TestProtocolExamples verifies every example of the document with the
// product's verifiers, independently of the generator.
func TestProtocolExamples(t *testing.T) {
	ex := docExamples(t)
	need := func(n string) string {
		t.Helper()
		s, ok := ex[n]
		if !ok {
			t.Fatalf("docs/protocol.md has no example %q", n)
		}
		return s
	}
	var keys keysBlock
	if err := json.Unmarshal([]byte(need("keys")), &keys); err != nil {
		t.Fatalf("keys: %v", err)
	}
	t.Run("keys", func(t *testing.T) {
		if pubHex(mustSeed(t, keys.RootSeed)) != keys.RootPublicKey || pubHex(mustSeed(t, keys.AgentSeed)) != keys.AgentID ||
			pubHex(mustSeed(t, keys.GatewaySeed)) != keys.GatewayPublicKey {
			t.Error("a public key does not belong to its seed")
		}
		pub, _ := hex.DecodeString(keys.GatewayPublicKey)
		if attest.KeyID(pub) != keys.GatewayKID {
			t.Error("gatewayKid is not the first 16 hex of sha256(gatewayPublicKey)")
		}
	})

	tokRaw := need("capability-token")
	var tok *tokens.Token
	t.Run("capability-token", func(t *testing.T) {
		chain, err := tokens.NewVerifier(0).VerifyChain(requestTimeMs, tokRaw, nil,
			fixedRoots{keys.RootPublicKey: true}, nil, nil, false)
		if err != nil {
			t.Fatalf("token does not verify against the root key: %v", err)
		}
		tok = chain[len(chain)-1]
		if tok.Claims.Subject != keys.AgentID || tok.Claims.Issuer != keys.RootPublicKey {
			t.Errorf("issuer/subject = %s/%s", tok.Claims.Issuer, tok.Claims.Subject)
		}
		var shown tokens.Claims
		if err := json.Unmarshal([]byte(need("capability-token-claims")), &shown); err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(shown)
		b, _ := json.Marshal(tok.Claims)
		if !bytes.Equal(a, b) {
			t.Errorf("the decoded claims shown differ from the token's:\n%s\n%s", a, b)
		}
	})
	if tok == nil {
		t.FailNow()
	}

	var req *gateway.Request
	t.Run("signed-request", func(t *testing.T) {
		head, body, ok := strings.Cut(need("signed-request"), "\n\n")
		if !ok {
			t.Fatal("no blank line between headers and body")
		}
		h := map[string]string{}
		for _, l := range strings.Split(head, "\n")[1:] {
			k, v, _ := strings.Cut(l, ": ")
			h[k] = v
		}
		r, cerr := gateway.ParseRequest([]byte(body))
		if cerr != nil {
			t.Fatalf("body: %v", cerr)
		}
		req = r
		if aerr := gateway.Authenticate(gateway.AgentHeaders{AgentID: h["X-Agent-Id"], Timestamp: h["X-Agent-Timestamp"], Sig: h["X-Agent-Sig"]},
			[]byte(body), gateway.SignedBody{AgentID: r.AgentID, RequestID: r.RequestID, Timestamp: r.Timestamp},
			requestTimeMs, tokens.VerifySig); aerr != nil {
			t.Fatalf("request does not authenticate: %v", aerr)
		}
		if r.AgentID != keys.AgentID || r.TokenID != tok.Claims.TokenID {
			t.Error("the request is not alice's with the example token")
		}
		if !tokens.Match(tok.Claims.Resource, r.Resource) {
			t.Error("the token does not cover the request's resource")
		}
	})
	if req == nil {
		t.FailNow()
	}

	t.Run("attestation", func(t *testing.T) {
		v, err := attest.NewVerifierFromJWKS([]byte(need("jwks")))
		if err != nil {
			t.Fatalf("jwks: %v", err)
		}
		c, err := v.Verify(need("attestation"), time.UnixMilli(requestTimeMs), attest.Expect{
			Issuer: keys.GatewayID, AgentID: req.AgentID, Resource: req.Resource, Action: req.Action, ParamsHash: req.ParamsHash,
		})
		if err != nil {
			t.Fatalf("attestation does not verify against the JWKS: %v", err)
		}
		if c.JTI != req.RequestID || c.TokenID != req.TokenID {
			t.Errorf("jti/tokenId = %s/%s", c.JTI, c.TokenID)
		}
	})

	var leaves []tlog.Hash
	var hashes []string
	t.Run("ledger-entries", func(t *testing.T) {
		prev := ledger.ZeroHash
		for i, line := range strings.Split(need("ledger-entries"), "\n") {
			e, err := ledger.DecodeEntry([]byte(line))
			if err != nil {
				t.Fatalf("entry %d: %v", i+1, err)
			}
			h, err := ledger.HashEntry(&e)
			if err != nil || h != e.Hash {
				t.Fatalf("entry %d: hash recomputes to %s, the entry says %s (%v)", i+1, h, e.Hash, err)
			}
			if e.PreviousHash != prev || e.SequenceNumber != uint64(i+1) {
				t.Fatalf("entry %d does not chain", i+1)
			}
			if i == 0 {
				in := need("ledger-hash-input")
				if string(ledger.HashInput(&e)) != in {
					t.Errorf("hash input shown is not JCS of entry 1")
				}
				if sum := sha256.Sum256([]byte(in)); hex.EncodeToString(sum[:]) != e.Hash {
					t.Errorf("sha256(hash input) != entry 1 hash")
				}
			}
			prev = e.Hash
			l, _ := ledger.EntryLeafHash(e.Hash)
			leaves = append(leaves, l)
			hashes = append(hashes, e.Hash)
		}
	})
	if len(leaves) != 2 {
		t.FailNow()
	}

	t.Run("checkpoint", func(t *testing.T) {
		var cp ledger.Checkpoint
		if err := json.Unmarshal([]byte(need("checkpoint")), &cp); err != nil {
			t.Fatal(err)
		}
		if cp.Note != need("checkpoint-note")+"\n" {
			t.Error("the note shown is not the checkpoint's note")
		}
		keys, err := ledger.ParseJWKS([]byte(need("jwks")))
		if err != nil {
			t.Fatal(err)
		}
		pub, ok := keys[cp.KID]
		if !ok {
			t.Fatalf("checkpoint kid %s not in the JWKS", cp.KID)
		}
		size, root, err := ledger.VerifyCheckpoint(cp, ledger.Origin(gatewayID), pub)
		if err != nil {
			t.Fatalf("checkpoint does not verify: %v", err)
		}
		var b ledger.TreeBuilder
		for _, l := range leaves {
			b.Append(l)
		}
		if size != 2 || root != b.Root() {
			t.Error("checkpoint does not sign the tree of the two example entries")
		}
		var p struct {
			LeafIndex      uint64   `json:"leafIndex"`
			TreeSize       uint64   `json:"treeSize"`
			InclusionProof []string `json:"inclusionProof"`
		}
		if err := json.Unmarshal([]byte(need("inclusion-proof")), &p); err != nil {
			t.Fatal(err)
		}
		proof, err := ledger.ParseHexHashes(p.InclusionProof)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyInclusion(proof, p.TreeSize, p.LeafIndex, root, hashes[p.LeafIndex]); err != nil {
			t.Errorf("inclusion proof does not verify: %v", err)
		}
	})
}

package app

import (
	"io"
	"net/http"
	"testing"

	"github.com/sintgate/sintgate/ledger"
)

// TestLedgerEndpoints checks proofs, consistency and the export offline, the
// way an auditor would: with the JWKS and nothing else from the gateway.
func TestLedgerEndpoints(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	mut := withToken("lg1", nil)(h)
	var last string
	for range 20 {
		st, d := h.intercept("lg1", h.interceptBody("lg1", mut))
		if st != 200 {
			t.Fatalf("intercept: %d", st)
		}
		last = d.Ledger.EventID
	}
	var jwks []byte
	{
		resp, err := http.Get(h.url + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		jwks, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	keys, err := ledger.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("proof/verifies-offline", func(t *testing.T) {
		h.t = t
		var p struct {
			Entry          ledger.Entry      `json:"entry"`
			LeafIndex      uint64            `json:"leafIndex"`
			TreeSize       uint64            `json:"treeSize"`
			InclusionProof []string          `json:"inclusionProof"`
			Checkpoint     ledger.Checkpoint `json:"checkpoint"`
		}
		if st := h.admin("GET", "/v1/ledger/proof/"+last, nil, &p); st != 200 {
			t.Fatalf("proof: %d", st)
		}
		pub, ok := keys[p.Checkpoint.KID]
		if !ok {
			t.Fatalf("checkpoint kid %s not in JWKS", p.Checkpoint.KID)
		}
		size, root, err := ledger.VerifyCheckpoint(p.Checkpoint, "sintgate/"+h.g.Server.GatewayID, pub)
		if err != nil || size != p.TreeSize || p.LeafIndex != p.Entry.SequenceNumber-1 {
			t.Fatalf("checkpoint: size %d err %v", size, err)
		}
		proof, _ := ledger.ParseHexHashes(p.InclusionProof)
		if err := ledger.VerifyInclusion(proof, p.TreeSize, p.LeafIndex, root, p.Entry.Hash); err != nil {
			t.Fatalf("inclusion: %v", err)
		}
		// A proof for another entry's hash must not verify (one hex digit
		// changed; always a different hash).
		other := []byte(p.Entry.Hash)
		if other[0] == '0' {
			other[0] = '1'
		} else {
			other[0] = '0'
		}
		if err := ledger.VerifyInclusion(proof, p.TreeSize, p.LeafIndex, root, string(other)); err == nil {
			t.Fatal("a proof verified for a different hash")
		}
	})

	t.Run("consistency/proves-append-only", func(t *testing.T) {
		h.t = t
		var cp1 ledger.Checkpoint
		h.admin("GET", "/v1/ledger/checkpoint", nil, &cp1)
		for range 5 {
			h.intercept("lg1", h.interceptBody("lg1", mut))
		}
		var p struct {
			From, To uint64
			Proof    []string
		}
		n, _ := h.g.Ledger.Size(t.Context())
		if st := h.admin("GET", "/v1/ledger/consistency?from="+itoa(cp1.TreeSize)+"&to="+itoa(n), nil, &p); st != 200 {
			t.Fatalf("consistency: %d", st)
		}
		newRoot, _ := h.g.Ledger.TreeHash(t.Context(), n)
		_, oldRoot, err := ledger.VerifyCheckpoint(cp1, "", keys[cp1.KID])
		if err != nil {
			t.Fatal(err)
		}
		proof, _ := ledger.ParseHexHashes(p.Proof)
		if err := ledger.VerifyConsistency(proof, cp1.TreeSize, n, oldRoot, newRoot); err != nil {
			t.Fatalf("consistency proof does not verify: %v", err)
		}
	})

	t.Run("export/verifies-offline", func(t *testing.T) {
		h.t = t
		req, _ := http.NewRequest("GET", h.url+"/v1/ledger/export", nil)
		req.Header.Set("Authorization", "Bearer "+h.adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rep, err := ledger.VerifyNDJSON(resp.Body, nil, nil)
		n, _ := h.g.Ledger.Size(t.Context())
		if err != nil || !rep.Valid || rep.Checked < n-1 {
			t.Fatalf("export: %+v %v (size %d)", rep, err, n)
		}
	})

	t.Run("auth/read-scope-required", func(t *testing.T) {
		h.t = t
		if st := h.do("GET", "/v1/ledger", nil, nil, nil); st != 401 {
			t.Fatalf("no key: %d", st)
		}
		var k struct{ Key string }
		h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "bob", "scopes": []string{"approve"}}, &k)
		if st := h.do("GET", "/v1/ledger", map[string]string{"Authorization": "Bearer " + k.Key}, nil, nil); st != 403 {
			t.Fatalf("key without read: %d", st)
		}
		if st := h.do("GET", "/v1/ledger", map[string]string{"Authorization": "Bearer sk_" + "00_bad"}, nil, nil); st != 401 {
			t.Fatalf("bad key: %d", st)
		}
	})
}

package app

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/sintgate/sintgate/ledger"
)

// sintJSON is the part of /.well-known/sint.json a witness and a bridge
// author read.
type sintJSON struct {
	GatewayID  string   `json:"gatewayId"`
	Bridges    []string `json:"bridges"`
	Checkpoint struct {
		Origin       string   `json:"origin"`
		VerifierKey  string   `json:"verifierKey"`
		VerifierKeys []string `json:"verifierKeys"`
	} `json:"checkpoint"`
}

func getSintJSON(t *testing.T, url string) sintJSON {
	t.Helper()
	resp, err := http.Get(url + "/.well-known/sint.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sint.json: %d", resp.StatusCode)
	}
	var d sintJSON
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDiscoveryBridgesAndCheckpointVerifier: sint.json lists every bridge the
// product ships, and its published note verifier key alone (no JWKS, no
// derivation) verifies a real checkpoint of the gateway's ledger with the
// reference note implementation, before and after a key rotation.
func TestDiscoveryBridgesAndCheckpointVerifier(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	mut := withToken("wk1", nil)(h)
	for range 3 {
		if st, _ := h.intercept("wk1", h.interceptBody("wk1", mut)); st != 200 {
			t.Fatalf("intercept: %d", st)
		}
	}
	d := getSintJSON(t, h.url)

	t.Run("bridges/shipped", func(t *testing.T) {
		for _, b := range []string{"ros1", "ros2", "gpio", "mqtt", "mcp"} {
			if !slices.Contains(d.Bridges, b) {
				t.Errorf("bridges %v lack %q", d.Bridges, b)
			}
		}
		for _, b := range []string{"opcua"} {
			if slices.Contains(d.Bridges, b) {
				t.Errorf("bridges %v list %q, which the product does not ship", d.Bridges, b)
			}
		}
	})

	// verify opens a checkpoint note with the given verifier keys only.
	verify := func(t *testing.T, cp ledger.Checkpoint, vkeys ...string) {
		t.Helper()
		var vs []note.Verifier
		for _, k := range vkeys {
			v, err := note.NewVerifier(k)
			if err != nil {
				t.Fatalf("published verifier key %q: %v", k, err)
			}
			vs = append(vs, v)
		}
		n, err := note.Open([]byte(cp.Note), note.VerifierList(vs...))
		if err != nil {
			t.Fatalf("checkpoint does not verify with the published key: %v", err)
		}
		lines := strings.Split(n.Text, "\n")
		if len(lines) != 4 || lines[0] != d.Checkpoint.Origin || lines[1] != strconv.FormatUint(cp.TreeSize, 10) {
			t.Fatalf("signed body %q does not match origin %q size %d", n.Text, d.Checkpoint.Origin, cp.TreeSize)
		}
		root, _ := base64.StdEncoding.DecodeString(lines[2])
		if len(root) != 32 {
			t.Fatalf("root line %q", lines[2])
		}
	}

	var cp ledger.Checkpoint
	t.Run("checkpoint/verifies-with-published-key", func(t *testing.T) {
		h.t = t
		if d.Checkpoint.Origin != "sintgate/"+d.GatewayID || d.Checkpoint.VerifierKey == "" ||
			len(d.Checkpoint.VerifierKeys) == 0 || d.Checkpoint.VerifierKeys[0] != d.Checkpoint.VerifierKey {
			t.Fatalf("checkpoint member %+v", d.Checkpoint)
		}
		if st := h.admin("GET", "/v1/ledger/checkpoint", nil, &cp); st != 200 || cp.TreeSize == 0 {
			t.Fatalf("checkpoint: %d %+v", st, cp)
		}
		verify(t, cp, d.Checkpoint.VerifierKey)
	})

	t.Run("checkpoint/old-key-still-published-after-rotation", func(t *testing.T) {
		h.t = t
		if _, err := h.g.Server.Keys.Rotate(h.g.Server.Clock()); err != nil {
			t.Fatal(err)
		}
		d2 := getSintJSON(t, h.url)
		if d2.Checkpoint.VerifierKey == d.Checkpoint.VerifierKey || !slices.Contains(d2.Checkpoint.VerifierKeys, d.Checkpoint.VerifierKey) {
			t.Fatalf("after rotation: %+v (before: %q)", d2.Checkpoint, d.Checkpoint.VerifierKey)
		}
		verify(t, cp, d2.Checkpoint.VerifierKeys...)
		h.intercept("wk1", h.interceptBody("wk1", mut))
		fresh, err := h.g.Server.Checkpoint(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		verify(t, fresh, d2.Checkpoint.VerifierKey)
	})
}

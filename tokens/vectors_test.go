package tokens_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
	tt "github.com/sintgate/sintgate/tokens/tokentest"
)

var update = flag.Bool("update", false, "rewrite tokens/testdata/vectors.json and the seed fuzz corpus")

// Vectors is the language-neutral test-vector file (docs/tokens.md).
type Vectors struct {
	Version        int              `json:"version"`
	Description    string           `json:"description"`
	Keys           []VectorKey      `json:"keys"`
	TrustedRoots   []string         `json:"trustedRoots"`
	Registered     []string         `json:"registered"`
	Chains         []ChainVector    `json:"chains"`
	Match          []MatchVector    `json:"match"`
	Contains       []ContainsVector `json:"contains"`
	NormalResource []NormalVector   `json:"normalResource"`
}

type VectorKey struct {
	Name      string `json:"name"`
	Seed      string `json:"seed"`
	PublicKey string `json:"publicKey"`
}

type ChainVector struct {
	Name         string   `json:"name"`
	NowMs        int64    `json:"nowMs"`
	Token        string   `json:"token"`
	Chain        []string `json:"chain"`
	UseRegistry  bool     `json:"useRegistered"`
	Revoked      []string `json:"revoked"`
	Registration bool     `json:"registration"`
	Expect       string   `json:"expect"`
}

type MatchVector struct {
	Pattern  string `json:"pattern"`
	Resource string `json:"resource"`
	Expect   bool   `json:"expect"`
}

type ContainsVector struct {
	Parent string `json:"parent"`
	Child  string `json:"child"`
	Expect bool   `json:"expect"`
}

type NormalVector struct {
	Resource string `json:"resource"`
	Valid    bool   `json:"valid"`
}

var keyNames = []string{"root", "alice", "bob", "carol", "dave", "erin", "mallory", "x"}

func buildVectors() *Vectors {
	f := newFixture()
	v := &Vectors{
		Version: 1,
		Description: "sintgate capability-token vectors (PROTOCOL.md §2-3). Keys are Ed25519 seeds (hex). " +
			"For each chain case run §3.1 on token at nowMs with trustedRoots; ancestors come from chain " +
			"(root first, parent last) and, when useRegistered is true, from registered by parentTokenId. " +
			"A token is revoked if its tokenId or an ancestor's is in revoked. registration=true skips the " +
			"not-yet-valid check. expect is OK or the first failing code.",
		TrustedRoots: []string{tt.Pub("root")},
	}
	for _, n := range keyNames {
		v.Keys = append(v.Keys, VectorKey{n, hex.EncodeToString(tt.Seed(n)), tt.Pub(n)})
	}
	for _, t := range []*tokens.Token{f.root, f.d1, f.d2, f.d3, f.d4} {
		v.Registered = append(v.Registered, t.Raw)
	}
	for _, c := range chainCases(f) {
		n := c.nowMs
		if n == 0 {
			n = now
		}
		exp := string(c.want)
		if exp == "" {
			exp = "OK"
		}
		v.Chains = append(v.Chains, ChainVector{
			Name: c.name, NowMs: n, Token: c.leaf, Chain: c.inline, UseRegistry: c.lookup != nil,
			Revoked: c.revoked, Registration: c.registration, Expect: exp,
		})
	}
	for _, pc := range parseCases() {
		if len(pc.raw) > 2000 {
			continue // keep the file readable; the long cases stay in the Go table
		}
		exp := string(pc.want)
		if exp == "" {
			exp = "OK"
		}
		// A well-formed token signed by "root" verifies as a root token.
		v.Chains = append(v.Chains, ChainVector{Name: "parse/" + pc.name, NowMs: now, Token: pc.raw, Expect: exp})
	}
	for _, m := range matchCases() {
		v.Match = append(v.Match, MatchVector{m.pattern, m.resource, m.want})
	}
	for _, c := range containsCases() {
		v.Contains = append(v.Contains, ContainsVector{c.parent, c.child, c.want})
	}
	for _, r := range []struct {
		r  string
		ok bool
	}{{"ros:///cmd_vel", true}, {"robot:arm:joint_1", true}, {"ros:///a/../b", false}, {"ROS:///a", false},
		{"ros:///a//b", false}, {"ros:///%61", false}, {"mqtt://f/a%2Fb", true}, {"ros:///*", false}} {
		v.NormalResource = append(v.NormalResource, NormalVector{r.r, r.ok})
	}
	return v
}

func encodeVectors(v *Vectors) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const vectorsPath = "testdata/vectors.json"

// TestVectorsGolden checks that signing is reproducible byte for byte: the
// vectors regenerated from the Go tables equal the committed file.
func TestVectorsGolden(t *testing.T) {
	got := encodeVectors(buildVectors())
	if *update {
		if err := os.WriteFile(vectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		writeSeedCorpus(t)
	}
	want, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run go test ./tokens -run TestVectorsGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("testdata/vectors.json differs from the regenerated vectors: token encoding or the tables changed (review, then -update)")
	}
}

// TestVectors runs the committed vector file the way another language would.
func TestVectors(t *testing.T) {
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var v Vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Chains) < 40 || len(v.Match) == 0 || len(v.Contains) == 0 {
		t.Fatal("vector file is suspiciously small")
	}
	for _, k := range v.Keys {
		seed, _ := hex.DecodeString(k.Seed)
		if got := tt.Pub(k.Name); got != k.PublicKey || hex.EncodeToString(seed) != hex.EncodeToString(tt.Seed(k.Name)) {
			t.Fatalf("key %s does not derive", k.Name)
		}
	}
	roots := tokens.RootSet{}
	for _, r := range v.TrustedRoots {
		roots[r] = true
	}
	reg := tokens.MapLookup{}
	for _, raw := range v.Registered {
		tok, err := tokens.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		reg[tok.Claims.TokenID] = raw
	}
	verifier := tokens.NewVerifier(256)
	for _, c := range v.Chains {
		t.Run(c.Name, func(t *testing.T) {
			rev := tokens.NewRevocationSet()
			all := append(append([]string{c.Token}, c.Chain...), v.Registered...)
			for _, raw := range all {
				if tok, err := tokens.Parse(raw); err == nil {
					p := ""
					if tok.Claims.ParentTokenID != nil {
						p = *tok.Claims.ParentTokenID
					}
					rev.Register(tok.Claims.TokenID, p)
				}
			}
			for _, id := range c.Revoked {
				rev.Revoke(id)
			}
			var lookup tokens.Lookup
			if c.UseRegistry {
				lookup = reg
			}
			_, err := verifier.VerifyChain(c.NowMs, c.Token, c.Chain, roots, rev, lookup, c.Registration)
			got := "OK"
			if err != nil {
				got = string(codes.Of(err))
			}
			if got != c.Expect {
				t.Fatalf("got %s, want %s (%v)", got, c.Expect, err)
			}
		})
	}
	for _, m := range v.Match {
		if tokens.Match(m.Pattern, m.Resource) != m.Expect {
			t.Errorf("match %q %q != %v", m.Pattern, m.Resource, m.Expect)
		}
	}
	for _, c := range v.Contains {
		if tokens.Contains(c.Parent, c.Child) != c.Expect {
			t.Errorf("contains %q %q != %v", c.Parent, c.Child, c.Expect)
		}
	}
	for _, r := range v.NormalResource {
		if (tokens.NormalResource(r.Resource) == nil) != r.Valid {
			t.Errorf("normalResource %q != %v", r.Resource, r.Valid)
		}
	}
}

// writeSeedCorpus writes the table inputs as the fuzzers' corpus under
// testdata/fuzz (go test -fuzz also reads f.Add seeds; the files let a fuzz
// run start from them without the tables).
func writeSeedCorpus(t *testing.T) {
	write := func(fuzzer, name string, args ...string) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n"
		for _, a := range args {
			body += a + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, pc := range parseCases() {
		if len(pc.raw) > 2000 {
			continue
		}
		write("FuzzParse", strconv.Itoa(i), "string("+strconv.Quote(pc.raw)+")")
	}
	for i, c := range containsCases() {
		write("FuzzContains", strconv.Itoa(i), "string("+strconv.Quote(c.parent)+")", "string("+strconv.Quote(c.child)+")")
	}
}

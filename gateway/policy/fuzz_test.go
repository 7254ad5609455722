package policy

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(protocolExample))
	f.Add(DefaultYAML())
	for _, tc := range parseErrorCases {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("non-nil policy with an error")
			}
			return
		}
		if _, err := hex.DecodeString(p.Hash()); err != nil || len(p.Hash()) != 64 {
			t.Fatalf("bad hash %q", p.Hash())
		}
		again, err := Parse("fuzz.yaml", p.Raw())
		if err != nil || again.Hash() != p.Hash() {
			t.Fatalf("reparse differs: %v", err)
		}
		if !bytes.Equal(p.Raw(), data) {
			t.Fatal("Raw differs from input")
		}
		for _, r := range p.Rules() {
			if r.Tier < 1 || r.Tier > 5 {
				t.Fatalf("rule tier %d", r.Tier)
			}
			if tier := p.Tier(r.Resource, "move", true, true); tier < 1 || tier > 5 {
				t.Fatalf("Tier = %d", tier)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("ros:///**/joint_states", "ros:///a/b/joint_states")
	f.Add("a*a*a*b", "aaaaaaab")
	f.Add("gpio://*/led*", "gpio://cell1/led_green")
	f.Fuzz(func(t *testing.T, pat, res string) {
		if len(pat) > 64 || len(res) > 128 || validPattern(pat) != "" {
			return
		}
		cp := compilePattern(pat)
		re := reference(pat)
		if !re.MatchString(res) && !regexp.MustCompile(`^`).MatchString(res) {
			return
		}
		if got, want := cp.match(res), re.MatchString(res); got != want {
			t.Fatalf("match(%q, %q) = %v, reference %v", pat, res, got, want)
		}
	})
}

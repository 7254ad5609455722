package tokens_test

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sintgate/sintgate/tokens"
	"pgregory.net/rapid"
)

type matchCase struct {
	name, pattern, resource string
	want                    bool
}

func matchCases() []matchCase {
	return []matchCase{
		{"literal/equal", "ros:///cmd_vel", "ros:///cmd_vel", true},
		{"literal/case-sensitive", "ros:///cmd_vel", "ros:///CMD_VEL", false},
		{"literal/prefix-only", "ros:///cmd", "ros:///cmd_vel", false},
		{"star/one-segment", "ros:///arm/*", "ros:///arm/joint1", true},
		{"star/not-across-slash", "ros:///arm/*", "ros:///arm/j/1", false},
		{"star/empty-run", "ros:///arm/*", "ros:///arm/", true},
		{"star/middle", "ros:///*/cmd_vel", "ros:///robot1/cmd_vel", true},
		{"star/middle-two-segments", "ros:///*/cmd_vel", "ros:///a/b/cmd_vel", false},
		{"dstar/any-depth", "ros:///sensors/**", "ros:///sensors/lidar/front", true},
		{"dstar/needs-prefix", "ros:///sensors/**", "ros:///sensorsx", false},
		{"dstar/empty", "ros:///sensors/**", "ros:///sensors/", true},
		{"dstar/not-parent", "ros:///sensors/**", "ros:///sensors", false},
		{"dstar/middle", "mqtt://**/valve7", "mqtt://factory/line1/valve7", true},
		{"dstar/middle-suffix-mismatch", "mqtt://**/valve7", "mqtt://factory/line1/valve8", false},
		{"mixed/star-then-dstar", "gpio://*/**", "gpio://cell1/a/b", true},
		{"mixed/star-suffix", "robot:arm:*", "robot:arm:joint_1", true},
		{"everything", "**", "mcp://filesystem/writeFile", true},
		{"star-not-everything", "*", "mcp://filesystem/writeFile", false},
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokens.Match(tc.pattern, tc.resource); got != tc.want {
				t.Fatalf("Match(%q, %q) = %v", tc.pattern, tc.resource, got)
			}
			if got := refMatch(tc.pattern, tc.resource); got != tc.want {
				t.Fatalf("reference disagrees with the table for %q %q", tc.pattern, tc.resource)
			}
		})
	}
}

type containsCase struct {
	name, parent, child string
	want                bool
}

func containsCases() []containsCase {
	return []containsCase{
		{"equal-literal", "ros:///cmd_vel", "ros:///cmd_vel", true},
		{"different-literal", "ros:///cmd_vel", "ros:///cmd_vel2", false},
		{"dstar-contains-literal", "ros:///**", "ros:///cmd_vel", true},
		{"dstar-contains-star", "ros:///**", "ros:///arm/*", true},
		{"dstar-contains-dstar", "ros:///**", "ros:///arm/**", true},
		{"star-contains-literal", "ros:///arm/*", "ros:///arm/joint1", true},
		{"star-contains-star", "ros:///arm/*", "ros:///arm/j*", true},
		{"star-not-dstar", "ros:///arm/*", "ros:///arm/**", false},
		{"star-not-slash", "ros:///arm/*", "ros:///arm/a/b", false},
		{"literal-not-star", "ros:///arm/joint1", "ros:///arm/*", false},
		{"narrower-dstar-not-wider", "ros:///arm/**", "ros:///**", false},
		{"widen-scheme", "ros:///**", "**", false},
		{"star-prefix-suffix", "*a*", "*a", true},
		{"star-needs-a", "*a*", "*", false},
		{"middle-dstar", "mqtt://**/valve7", "mqtt://factory/*/valve7", true},
		{"middle-dstar-other-suffix", "mqtt://**/valve7", "mqtt://factory/**", false},
		{"invalid-child", "ros:///**", "ros:///***", false},
		// The token-alignment DP of PROTOCOL.md §2 gets these wrong.
		{"split-child-dstar", "**/*", "/**", true},
		{"split-child-dstar-2", "**/**", "/**", true},
		{"split-child-star", "*a*", "a*", true},
	}
}

func TestContains(t *testing.T) {
	for _, tc := range containsCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokens.Contains(tc.parent, tc.child); got != tc.want {
				t.Fatalf("Contains(%q, %q) = %v", tc.parent, tc.child, got)
			}
		})
	}
}

func TestNormalResource(t *testing.T) {
	for _, tc := range []struct {
		name, r string
		ok      bool
	}{
		{"ok/ros", "ros:///cmd_vel", true},
		{"ok/ros-nested", "ros:///arm/joint_trajectory", true},
		{"ok/gpio", "gpio://cell1/gripper", true},
		{"ok/mqtt", "mqtt://factory/line1/valve7", true},
		{"ok/mcp", "mcp://filesystem/writeFile", true},
		{"ok/colon-form", "robot:arm:joint_1", true},
		{"ok/percent-reserved", "mqtt://f/a%2Fb", true},
		{"bad/empty", "", false},
		{"bad/no-scheme", "/cmd_vel", false},
		{"bad/uppercase-scheme", "ROS:///cmd_vel", false},
		{"bad/dot-segment", "ros:///a/./b", false},
		{"bad/dotdot-segment", "ros:///a/../b", false},
		{"bad/dotdot-colon-form", "robot:../x", false},
		{"bad/empty-segment", "ros:///a//b", false},
		{"bad/trailing-slash", "ros:///a/", false},
		{"bad/only-root", "ros:///", false},
		{"bad/percent-unreserved", "ros:///%61", false},
		{"bad/percent-lowercase-hex", "mqtt://f/a%2fb", false},
		{"bad/percent-truncated", "ros:///a%2", false},
		{"bad/star", "ros:///*", false},
		{"bad/space", "ros:///a b", false},
		{"bad/non-ascii", "ros:///café", false},
		{"bad/too-long", "ros:///" + strings.Repeat("a", 506), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tokens.NormalResource(tc.r); (err == nil) != tc.ok {
				t.Fatalf("NormalResource(%q) = %v", tc.r, err)
			}
		})
	}
}

func TestValidAction(t *testing.T) {
	for a, ok := range map[string]bool{"publish": true, "estop": true, "a.b_c-9": true, "": false, "Publish": false,
		"a b": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if tokens.ValidAction(a) != ok {
			t.Errorf("ValidAction(%q) != %v", a, ok)
		}
	}
}

var reCache sync.Map

// refMatch is an independent reference: the pattern compiled to a regexp.
func refMatch(pattern, resource string) bool {
	if re, ok := reCache.Load(pattern); ok {
		return re.(*regexp.Regexp).MatchString(resource)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '*' {
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString("(?s:.*)")
				i++
			} else {
				b.WriteString("[^/]*")
			}
			continue
		}
		b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
	}
	b.WriteString("$")
	re := regexp.MustCompile(b.String())
	reCache.Store(pattern, re)
	return re.MatchString(resource)
}

// allStrings enumerates every string over alphabet of length ≤ n.
func allStrings(alphabet string, n int) []string {
	out := []string{""}
	layer := []string{""}
	for l := 1; l <= n; l++ {
		var next []string
		for _, s := range layer {
			for i := 0; i < len(alphabet); i++ {
				next = append(next, s+alphabet[i:i+1])
			}
		}
		out = append(out, next...)
		layer = next
	}
	return out
}

// genPattern draws small valid patterns over {a, b, /, *, **}.
var genPattern = rapid.Custom(func(t *rapid.T) string {
	pieces := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "/", "*", "**"}), 1, 5).Draw(t, "pieces")
	p := strings.Join(pieces, "")
	if tokens.ValidPattern(p) != nil {
		t.Skip("run of three stars")
	}
	return p
})

// The universe of the brute force: every string of length ≤ 7 over a, b, '/'
// and c (a character no pattern mentions, standing for "anything else").
var universe = allStrings("abc/", 7)

// universe6 is the length ≤ 6 part (the Match property checks every string).
var universe6 = allStrings("abc/", 6)

func TestMatchAgainstRegexpProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPattern.Draw(t, "p")
		for _, s := range universe6 {
			if tokens.Match(p, s) != refMatch(p, s) {
				t.Fatalf("Match(%q, %q) = %v, reference %v", p, s, tokens.Match(p, s), refMatch(p, s))
			}
		}
	})
}

func TestContainsAgainstBruteForceProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		parent := genPattern.Draw(t, "parent")
		child := genPattern.Draw(t, "child")
		brute, witness := true, ""
		for _, s := range universe {
			if refMatch(child, s) && !refMatch(parent, s) {
				brute, witness = false, s
				break
			}
		}
		if got := tokens.Contains(parent, child); got != brute {
			t.Fatalf("Contains(%q, %q) = %v, brute force %v (witness %q)", parent, child, got, brute, witness)
		}
	})
}

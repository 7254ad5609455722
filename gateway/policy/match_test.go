package policy

import (
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		name, pattern, resource string
		want                    bool
	}{
		{"match/literal", "ros:///cmd_vel", "ros:///cmd_vel", true},
		{"nomatch/literal-prefix", "ros:///cmd_vel", "ros:///cmd_vel2", false},
		{"nomatch/case", "ros:///cmd_vel", "ros:///CMD_VEL", false},
		{"match/star-segment", "ros:///*/cmd_vel", "ros:///base/cmd_vel", true},
		{"nomatch/star-no-slash", "ros:///*/cmd_vel", "ros:///a/b/cmd_vel", false},
		{"match/star-empty", "ros:///*/cmd_vel", "ros:////cmd_vel", true},
		{"match/dstar-deep", "ros:///sensors/**", "ros:///sensors/a/b/c", true},
		{"match/dstar-empty", "ros:///sensors/**", "ros:///sensors/", true},
		{"nomatch/dstar-needs-prefix", "ros:///sensors/**", "ros:///sensors", false},
		{"match/dstar-middle", "ros:///**/joint_states", "ros:///a/b/joint_states", true},
		{"match/star-suffix", "gpio://*/led*", "gpio://cell1/led_green", true},
		{"nomatch/star-suffix-slash", "gpio://*/led*", "gpio://cell1/led/x", false},
		{"match/only-dstar", "**", "anything/at/all", true},
		{"match/only-star", "*", "robot:arm:joint_1", true},
		{"nomatch/only-star-slash", "*", "a/b", false},
		{"match/colon-resource", "robot:arm:*", "robot:arm:joint_1", true},
		{"match/backtracking", "a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaab", true},
		{"nomatch/backtracking", "a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"match/triple-collapses", "a/**", "a/x/y", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := compilePattern(tc.pattern)
			if got := p.match(tc.resource); got != tc.want {
				t.Fatalf("match(%q, %q) = %v", tc.pattern, tc.resource, got)
			}
		})
	}
}

func TestSpecificity(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    int
	}{{"ros:///cmd_vel", 14}, {"ros:///**", 7}, {"ros:///*/cmd_vel", 15}, {"**", 0}, {"a*b**c", 3}} {
		if got := compilePattern(tc.pattern).literals; got != tc.want {
			t.Errorf("literals(%q) = %d, want %d", tc.pattern, got, tc.want)
		}
	}
}

// reference translates a pattern to an anchored regexp: the obvious,
// independent implementation of §2.
func reference(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); {
		switch {
		case strings.HasPrefix(p[i:], "**"):
			for i < len(p) && p[i] == '*' {
				i++
			}
			b.WriteString("(?s:.*)")
		case p[i] == '*':
			b.WriteString("[^/]*")
			i++
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			i++
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestPatternMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alpha := rapid.SampledFrom([]string{"a", "b", "/", ":", "*", "**"})
		pat := strings.Join(rapid.SliceOfN(alpha, 0, 10).Draw(t, "pattern"), "")
		res := strings.Join(rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "/", ":"}), 0, 12).Draw(t, "resource"), "")
		cp := compilePattern(pat)
		if got, want := cp.match(res), reference(pat).MatchString(res); got != want {
			t.Fatalf("match(%q, %q) = %v, reference %v", pat, res, got, want)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	p := compilePattern("ros:///**/follow_joint_trajectory/goal")
	for i := 0; i < b.N; i++ {
		p.match("ros:///ur5/arm_controller/follow_joint_trajectory/goal")
	}
}

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestListenVariableDocumented guards issue 19 §5: the gateway's address can
// only be changed with the Makefile's LISTEN variable, so the README (right
// below its two set-up commands) and docs/services.md (where make run is
// described) must name it together with its default.
func TestListenVariableDocumented(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := regexp.MustCompile(`(?m)^LISTEN\s*\?=\s*(\S+)`).FindStringSubmatch(read("Makefile"))
	if m == nil {
		t.Fatal("Makefile no longer defines LISTEN ?= …; update this test and the docs")
	}
	readme := read("README.md")
	head, _, ok := strings.Cut(readme, "## ")
	if !ok {
		t.Fatal("README has no sections")
	}
	for name, text := range map[string]string{"README.md (before its first section)": head, "docs/services.md": read("docs/services.md")} {
		if !strings.Contains(text, "make run LISTEN=") || !strings.Contains(text, m[1]) {
			t.Errorf("%s does not document make run LISTEN=… with its default %s", name, m[1])
		}
	}
}

// TestReadmeWalkthrough guards the README's walkthrough (issue 19 §5): every
// sintctl command in it exists and takes the flags it is given; the
// escalation is approved through sintctl and its agent waits for the
// attestation before the e-stop step, which says that a trip cancels
// pending approvals; and the README still opens with exactly two set-up
// commands.
func TestReadmeWalkthrough(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	head, _, _ := strings.Cut(readme, "## ")
	if setup := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(head); setup == nil ||
		len(strings.Split(strings.TrimSpace(setup[1]), "\n")) != 2 || !strings.HasPrefix(setup[1], "make run") ||
		!strings.Contains(setup[1], "\nmake test") {
		t.Errorf("the README must open with exactly the two set-up commands make run and make test, got %q", setup)
	}
	_, walk, ok := strings.Cut(readme, "## One-minute walkthrough")
	if !ok {
		t.Fatal("README has no walkthrough")
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(walk)
	if m == nil {
		t.Fatal("walkthrough has no sh block")
	}
	block := strings.ReplaceAll(m[1], "\\\n", " ")
	var cmds []string
	for _, line := range strings.Split(block, "\n") {
		for _, seg := range shellSegments(line) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(seg), "$S "); ok {
				cmds = append(cmds, rest)
			}
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("found only %d sintctl commands in the walkthrough", len(cmds))
	}
	at := func(prefix string) int {
		for i, c := range cmds {
			if strings.HasPrefix(c, prefix) {
				return i
			}
		}
		t.Errorf("the walkthrough has no `sintctl %s`", prefix)
		return -1
	}
	wait, approve, trip := -1, at("approvals approve"), at("estop trip")
	for i, c := range cmds {
		if strings.HasPrefix(c, "intercept ") && strings.Contains(c, "--wait") {
			wait = i
		}
	}
	if wait < 0 || !(wait < approve && approve < trip) {
		t.Errorf("order: intercept --wait at %d, approvals approve at %d, estop trip at %d; want the escalation waited for and approved before the trip", wait, approve, trip)
	}
	if before, _, _ := strings.Cut(m[1], "estop trip"); !regexp.MustCompile(`trip cancels every\s+(#\s*)?pending approval`).MatchString(before) {
		t.Error("the walkthrough does not say, before its trip, that a trip cancels pending approvals")
	}
	for _, c := range cmds {
		args := shellWords(c)
		cmd, rest, err := rootCmd.Find(args)
		if err != nil || cmd == rootCmd {
			t.Errorf("sintctl %s: no such command (%v)", c, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("sintctl %s: %v", c, err)
		}
	}
	// ParseFlags set the command's flag variables: leave none behind.
	interceptFlags.wait, interceptFlags.params, interceptFlags.tokenFile = false, "", ""
}

// shellSegments splits a line at ; and & outside quotes and drops a
// trailing # comment.
func shellSegments(line string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	prevSpace := true
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && prevSpace:
			return append(out, cur.String())
		case r == ';' || r == '&':
			out = append(out, cur.String())
			cur.Reset()
			prevSpace = true
			continue
		}
		prevSpace = r == ' ' || r == '\t'
		cur.WriteRune(r)
	}
	return append(out, cur.String())
}

// shellWords splits a command into words, removing quotes; "$(...)" and
// <placeholder> become a 64-hex word (a public key or id).
func shellWords(s string) []string {
	s = regexp.MustCompile(`"\$\([^)]*\)"|<[A-Za-z]+>`).ReplaceAllString(s, strings.Repeat("ab", 32))
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

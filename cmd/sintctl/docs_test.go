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

package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// valueName is what a flag's value may be called in help: a pflag type name
// (string, duration, stringArray, …) or an upper-case placeholder (FILE).
var valueName = regexp.MustCompile(`^(?:[a-z][a-zA-Z0-9]*|[A-Z][A-Z0-9_]*)$`)

// pflagTypes are the lower-case value names pflag derives from a flag's type.
var pflagTypes = map[string]bool{
	"string": true, "strings": true, "stringArray": true, "int": true, "uint": true, "float": true,
	"duration": true, "int64": true, "uint64": true, "float64": true, "bytesHex": true, "stringToString": true,
}

// TestHelpFlagValueNames renders every command's help and checks that each
// flag's value name is one word of a known form. pflag takes a back-quoted
// word in a usage string as the value name, which once printed
// "--agent-key sintctl keys gen" in sintctl intercept --help (issue 19 §5).
func TestHelpFlagValueNames(t *testing.T) {
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(rootCmd)
	if len(cmds) < 20 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	checked := 0
	for _, c := range cmds {
		t.Run(strings.ReplaceAll(c.CommandPath(), " ", "_"), func(t *testing.T) {
			var buf bytes.Buffer
			c.SetOut(&buf)
			defer c.SetOut(nil)
			if err := c.Help(); err != nil {
				t.Fatal(err)
			}
			inFlags := false
			for _, line := range strings.Split(buf.String(), "\n") {
				if strings.HasSuffix(line, "Flags:") { // "Flags:" and "Global Flags:"
					inFlags = true
					continue
				}
				if strings.TrimSpace(line) == "" {
					inFlags = false
				}
				i := strings.Index(line, "--")
				if !inFlags || i < 0 {
					continue
				}
				left, _, _ := strings.Cut(line[i:], "  ") // pflag pads name and value from the usage
				f := strings.Fields(left)
				checked++
				if len(f) > 2 {
					t.Errorf("flag %s has a value name of several words: %q", f[0], line)
					continue
				}
				if len(f) == 2 && (!valueName.MatchString(f[1]) || (f[1] == strings.ToLower(f[1]) && !pflagTypes[f[1]])) {
					t.Errorf("flag %s has an odd value name %q: %q", f[0], f[1], line)
				}
			}
		})
	}
	if checked < 100 {
		t.Fatalf("only %d flag lines found in the help texts: did the help format change?", checked)
	}
}

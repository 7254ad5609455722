package mcpbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gowebpki/jcs"
)

// Limits on untrusted input.
const (
	// MaxArgsBytes bounds a call's arguments, before and after
	// canonicalisation: the intercept body that carries them is limited to
	// 64 KiB (PROTOCOL.md §1), and the rest of the body needs room.
	MaxArgsBytes = 48 << 10
	// MaxArgsDepth bounds the nesting of the arguments: the gateway limits
	// the whole intercept body to depth 32 and params sit one level down.
	MaxArgsDepth = 31
	// MaxServerNameLen and MaxToolNameLen bound the two parts of a resource
	// (MCP tool names are 1..128 characters).
	MaxServerNameLen = 64
	MaxToolNameLen   = 128
)

// Action is the intercept action of every tool call (docs/policy.md).
const Action = "call"

// jsonSpace is the whitespace of RFC 8259.
const jsonSpace = " \t\n\r"

// CanonicalArgs returns the RFC 8785 (JCS) form of a tool call's arguments.
// Absent arguments (nil, only whitespace) and JSON null become {}. Anything
// else must be a JSON object of at most MaxArgsBytes and MaxArgsDepth with
// no duplicate member names and valid UTF-8; otherwise CanonicalArgs fails.
// The result is what the bridge sends to the gateway as params AND to the
// downstream tool as arguments, so both read exactly the same value.
func CanonicalArgs(raw []byte) ([]byte, error) {
	p := bytes.Trim(raw, jsonSpace)
	if len(p) == 0 || string(p) == "null" {
		return []byte("{}"), nil
	}
	if len(p) > MaxArgsBytes {
		return nil, fmt.Errorf("arguments are larger than %d bytes", MaxArgsBytes)
	}
	if p[0] != '{' {
		return nil, errors.New("arguments must be a JSON object")
	}
	if !json.Valid(p) {
		return nil, errors.New("arguments are not valid JSON")
	}
	if d := depth(p); d > MaxArgsDepth {
		return nil, fmt.Errorf("arguments nest deeper than %d levels", MaxArgsDepth)
	}
	c, err := jcs.Transform(p)
	if err != nil {
		return nil, fmt.Errorf("arguments are not canonicalisable: %w", err)
	}
	if len(c) > MaxArgsBytes {
		return nil, fmt.Errorf("canonical arguments are larger than %d bytes", MaxArgsBytes)
	}
	if len(c) == 0 || c[0] != '{' { // cannot happen for a valid object; fail closed
		return nil, errors.New("arguments must be a JSON object")
	}
	return c, nil
}

// depth returns the deepest nesting of objects and arrays in valid JSON p.
func depth(p []byte) int {
	d, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range p {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// ValidServerName reports whether s can be the <server> of
// mcp://<server>/<tool>: 1..MaxServerNameLen characters of [A-Za-z0-9._-],
// not "." or "..". Policy patterns are case-sensitive, so the name is used as
// given.
func ValidServerName(s string) error {
	return validName("server name", s, MaxServerNameLen)
}

// ValidToolName reports whether a downstream tool name can be exposed: the
// MCP tool name alphabet [A-Za-z0-9._-], 1..MaxToolNameLen characters, not
// "." or ".." (which would be dot segments, PROTOCOL.md §2). Names outside it
// (a "/" would let one tool name look like a path of several) are not
// exposed.
func ValidToolName(s string) error {
	return validName("tool name", s, MaxToolNameLen)
}

func validName(what, s string, limit int) error {
	if s == "" || len(s) > limit {
		return fmt.Errorf("%s must be 1..%d characters", what, limit)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%s %q is a dot segment", what, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%s %q has a character outside [A-Za-z0-9._-]", what, s)
		}
	}
	return nil
}

// ToolResource returns the resource of a tool call, mcp://<server>/<tool>,
// or an error if either name is invalid.
func ToolResource(server, tool string) (string, error) {
	if err := ValidServerName(server); err != nil {
		return "", err
	}
	if err := ValidToolName(tool); err != nil {
		return "", err
	}
	return "mcp://" + server + "/" + tool, nil
}

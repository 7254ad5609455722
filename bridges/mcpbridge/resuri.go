package mcpbridge

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sintgate/sintgate/tokens"
)

// Actions and resource shapes of the downstream resources and prompts the
// bridge mirrors (docs/mcp.md §"Resources and prompts").
const (
	// ActionRead is the intercept action of a resources/read, on
	// ResourceURI(server, uri).
	ActionRead = "read"
	// ActionGet is the intercept action of a prompts/get, on
	// PromptResource(server, name).
	ActionGet = "get"
	// Report actions of flagged resource and prompt definitions (as
	// ActionToolFlagged for tools).
	ActionResourceFlagged = "mcp.resource.flagged"
	ActionPromptFlagged   = "mcp.prompt.flagged"
)

// unreservedChar reports whether c is an RFC 3986 unreserved character.
func unreservedChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// uriChar reports whether c may appear literally in a downstream resource
// URI the bridge accepts: RFC 3986 unreserved, gen-delims but '#',
// sub-delims and '%'.
func uriChar(c byte) bool {
	return unreservedChar(c) || strings.IndexByte(":/?[]@!$&'()*+,;=%", c) >= 0
}

// encodeURI is the one spelling of a downstream URI inside a gateway
// resource: every byte but the unreserved ones percent-encoded with
// uppercase hex, so the URI is one path segment (no '/') in normal form
// (PROTOCOL.md §2), and two URIs give two resources.
func encodeURI(u string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if unreservedChar(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

// decodeURI undoes one level of percent-encoding; a '%' not followed by two
// hex digits is an error.
func decodeURI(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			sb.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New("a '%' not followed by two hex digits")
		}
		sb.WriteByte(unhexByte(s[i+1])<<4 | unhexByte(s[i+2]))
		i += 2
	}
	return sb.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhexByte(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// MaxResourceURILen bounds a downstream resource URI (its encoded form must
// still fit the gateway's 512-byte resource).
const MaxResourceURILen = 400

// ValidResourceURI reports whether a downstream resource URI is in the one
// spelling the bridge gates, so that no second spelling of the same
// downstream resource can escape a policy or token pattern written for the
// first:
//
//   - 1..MaxResourceURILen bytes of the URI alphabet (unreserved, reserved
//     but '#', '%'): no fragment, no space, no non-ASCII;
//   - a lowercase scheme [a-z][a-z0-9+.-]* followed by ':';
//   - every '%' followed by two uppercase hex digits that encode neither an
//     unreserved character (%2E is '.'), nor '/' or '\', nor a control
//     character;
//   - an authority (after "//") without uppercase letters, without
//     userinfo ('@'), not "." or ".."; for file: an empty authority
//     (file://localhost/x is file:///x);
//   - in the path (before any '?'), no "." or ".." segment and no empty
//     segment (a path of exactly "/" excepted).
//
// Anything else is refused (not listed, or MALFORMED_REQUEST for a read):
// the bridge never normalises on the agent's behalf.
func ValidResourceURI(u string) error {
	if u == "" || len(u) > MaxResourceURILen {
		return fmt.Errorf("resource URI must be 1..%d bytes", MaxResourceURILen)
	}
	for i := 0; i < len(u); i++ {
		if !uriChar(u[i]) {
			return fmt.Errorf("resource URI has a character outside the URI alphabet at byte %d (no fragment, space or non-ASCII)", i)
		}
		if u[i] != '%' {
			continue
		}
		if i+2 >= len(u) || !upperHexByte(u[i+1]) || !upperHexByte(u[i+2]) {
			return errors.New("resource URI has a '%' not followed by two uppercase hex digits")
		}
		v := unhexByte(u[i+1])<<4 | unhexByte(u[i+2])
		if unreservedChar(v) || v == '/' || v == '\\' || v < 0x20 || v == 0x7f {
			return fmt.Errorf("resource URI percent-encodes %q (an unreserved character, a separator or a control character)", string(rune(v)))
		}
	}
	colon := strings.IndexByte(u, ':')
	if colon < 1 {
		return errors.New("resource URI has no scheme")
	}
	scheme := u[:colon]
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '.' || c == '-')) {
			return errors.New("resource URI scheme is not lowercase [a-z][a-z0-9+.-]*")
		}
	}
	rest := u[colon+1:]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q]
	}
	path := rest
	if strings.HasPrefix(rest, "//") {
		auth := rest[2:]
		path = ""
		if s := strings.IndexByte(auth, '/'); s >= 0 {
			auth, path = auth[:s], auth[s:]
		}
		switch {
		case auth == "." || auth == "..":
			return errors.New("resource URI has a dot segment as its authority")
		case strings.ContainsAny(auth, "@"):
			return errors.New("resource URI authority has userinfo")
		case strings.ToLower(auth) != auth:
			return errors.New("resource URI authority has uppercase letters")
		case scheme == "file" && auth != "":
			return errors.New("file: resource URI with an authority (write file:///path)")
		case auth == "" && path == "":
			return errors.New("resource URI has nothing after the scheme's //")
		case path == "":
			return nil // an authority alone
		}
	}
	if path == "/" {
		return nil
	}
	path = strings.TrimPrefix(path, "/")
	if path == "" {
		return errors.New("resource URI has an empty path")
	}
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "":
			return errors.New("resource URI has an empty path segment")
		case ".", "..":
			return errors.New("resource URI has a dot segment")
		}
	}
	return nil
}

func upperHexByte(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// ResourceURI returns the gateway resource of downstream resource uri of
// server: mcp://<server>/resource/<uri, every byte but the unreserved ones
// percent-encoded>. It is also the URI the agent reads the resource by
// through the bridge (unambiguous behind a Group). uri must be
// ValidResourceURI.
func ResourceURI(server, uri string) (string, error) {
	if err := ValidServerName(server); err != nil {
		return "", err
	}
	if err := ValidResourceURI(uri); err != nil {
		return "", err
	}
	r := "mcp://" + server + "/resource/" + encodeURI(uri)
	if err := tokens.NormalResource(r); err != nil { // too long once encoded
		return "", fmt.Errorf("resource of %q: %w", uri, err)
	}
	return r, nil
}

// ParseResourceURI reads an agent's resources/read URI: the server and the
// downstream URI of mcp://<server>/resource/<encoded uri>. The encoded part
// is percent-decoded once (any case of hex digits, '/' kept), and the
// downstream URI must be ValidResourceURI; resource is its one gated
// spelling (ResourceURI), whatever spelling the agent sent.
func ParseResourceURI(agentURI string) (server, uri, resource string, err error) {
	rest, ok := strings.CutPrefix(agentURI, "mcp://")
	if !ok {
		return "", "", "", errors.New("not an mcp:// resource of the bridge")
	}
	server, enc, ok := strings.Cut(rest, "/resource/")
	if !ok || ValidServerName(server) != nil {
		return "", "", "", errors.New("not mcp://<server>/resource/<uri>")
	}
	if uri, err = decodeURI(enc); err != nil {
		return "", "", "", fmt.Errorf("resource URI: %w", err)
	}
	if resource, err = ResourceURI(server, uri); err != nil {
		return "", "", "", err
	}
	return server, uri, resource, nil
}

// PromptResource returns the gateway resource of prompt name of server,
// mcp://<server>/prompt/<name>; the name follows ValidToolName.
func PromptResource(server, name string) (string, error) {
	if err := ValidServerName(server); err != nil {
		return "", err
	}
	if err := validName("prompt name", name, MaxToolNameLen); err != nil {
		return "", err
	}
	return "mcp://" + server + "/prompt/" + name, nil
}

// TemplatePattern returns the agent's URI template of a downstream resource
// template (each literal part encoded as ResourceURI encodes a URI, the
// {expressions} kept) and the resource pattern covering every resource it
// can expand to (each expression a '*': the encoded URI has no '/').
func TemplatePattern(server, tmpl string) (agentTmpl, pattern string, err error) {
	if err := ValidServerName(server); err != nil {
		return "", "", err
	}
	if tmpl == "" || len(tmpl) > MaxResourceURILen {
		return "", "", fmt.Errorf("resource template must be 1..%d bytes", MaxResourceURILen)
	}
	var at, pat strings.Builder
	at.WriteString("mcp://" + server + "/resource/")
	pat.WriteString("mcp://" + server + "/resource/")
	rest := tmpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		lit := rest
		if open >= 0 {
			lit = rest[:open]
		}
		if strings.ContainsAny(lit, "}") {
			return "", "", errors.New("resource template has an unbalanced '}'")
		}
		for i := 0; i < len(lit); i++ {
			if !uriChar(lit[i]) {
				return "", "", errors.New("resource template has a character outside the URI alphabet")
			}
		}
		at.WriteString(encodeURI(lit))
		pat.WriteString(encodeURI(lit))
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", "", errors.New("resource template has an unclosed '{'")
		}
		expr := rest[open : open+end+1]
		for i := 1; i < len(expr)-1; i++ {
			if c := expr[i]; !(unreservedChar(c) || strings.IndexByte("+#./;?&,*:", c) >= 0) {
				return "", "", errors.New("resource template expression has an unexpected character")
			}
		}
		at.WriteString(expr)
		if !strings.HasSuffix(pat.String(), "*") {
			pat.WriteByte('*')
		}
		rest = rest[open+end+1:]
	}
	p := pat.String()
	if err := tokens.ValidPattern(p); err != nil {
		return "", "", fmt.Errorf("resource template pattern: %w", err)
	}
	return at.String(), p, nil
}

// Scope is what the agent's token covers: its resource pattern and
// actions. The bridge lists a downstream resource, resource template or
// prompt only if the scope could ever allow reading it (its resource
// matched, or for a template some resource it expands to, and the action
// granted): the gateway still decides every read.
type Scope struct {
	Resource string
	Actions  []string
}

// ScopeOfToken returns the Scope of a capability token's compact JWS (its
// payload, signature not checked: the gateway checks it on every intercept;
// the scope only decides what is listed).
func ScopeOfToken(jws string) (*Scope, error) {
	t, err := tokens.Parse(jws)
	if err != nil {
		return nil, err
	}
	return &Scope{Resource: t.Claims.Resource, Actions: t.Claims.Actions}, nil
}

// covers reports whether the scope could allow action on some resource
// pattern matches: the two patterns' languages intersect.
func (s *Scope) covers(pattern, action string) bool {
	if s == nil {
		return false
	}
	granted := false
	for _, a := range s.Actions {
		if a == action || a == "*" {
			granted = true
		}
	}
	return granted && PatternsIntersect(s.Resource, pattern)
}

// maxIntersectStates bounds PatternsIntersect's search; beyond it the
// answer is false (not listed: fail closed).
const maxIntersectStates = 1 << 16

// PatternsIntersect reports whether some resource is matched by both
// patterns ('*' any run without '/', '**' any run; PROTOCOL.md §2). It
// searches the product of the two patterns' position automata.
func PatternsIntersect(p, q string) bool {
	if tokens.ValidPattern(p) != nil || tokens.ValidPattern(q) != nil {
		return false
	}
	P, Q := globTokens(p), globTokens(q)
	type st struct{ i, j int }
	seen := map[st]bool{}
	stack := []st{{0, 0}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[s] {
			continue
		}
		if len(seen) >= maxIntersectStates {
			return false
		}
		seen[s] = true
		if s.i == len(P) && s.j == len(Q) {
			return true
		}
		// A wildcard may match nothing.
		if s.i < len(P) && P[s.i] < 0 {
			stack = append(stack, st{s.i + 1, s.j})
		}
		if s.j < len(Q) && Q[s.j] < 0 {
			stack = append(stack, st{s.i, s.j + 1})
		}
		if s.i == len(P) || s.j == len(Q) {
			continue
		}
		a, b := P[s.i], Q[s.j]
		// Both consume one common character; a wildcard stays.
		ni, nj := s.i+1, s.j+1
		if a < 0 {
			ni = s.i
		}
		if b < 0 {
			nj = s.j
		}
		switch {
		case a >= 0 && b >= 0:
			if a == b {
				stack = append(stack, st{ni, nj})
			}
		case a >= 0: // b a wildcard
			if a != '/' || b == globDStar {
				stack = append(stack, st{ni, nj})
			}
		case b >= 0:
			if b != '/' || a == globDStar {
				stack = append(stack, st{ni, nj})
			}
		default: // two wildcards: some character other than '/' fits both
			stack = append(stack, st{ni, nj})
		}
	}
	return false
}

const (
	globStar  = -1
	globDStar = -2
)

func globTokens(p string) []int {
	var out []int
	for i := 0; i < len(p); i++ {
		if p[i] == '*' {
			if i+1 < len(p) && p[i+1] == '*' {
				out = append(out, globDStar)
				i++
			} else {
				out = append(out, globStar)
			}
			continue
		}
		out = append(out, int(p[i]))
	}
	return out
}

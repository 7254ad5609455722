package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/tokens"
)

// tokNow is the clock of the offline token commands (tests replace it).
var tokNow = time.Now

// tokenResult is what issue and delegate print with -o json (and write with
// --json FILE): the shape of the gateway's 201 answer to a registration.
type tokenResult struct {
	TokenID string        `json:"tokenId"`
	Token   string        `json:"token"`
	Claims  tokens.Claims `json:"claims"`
}

// tokDeny reports a §3.1 code the gateway would answer: exit 3, and with
// -o json the error body on stdout.
func tokDeny(cmd *cobra.Command, err error) error {
	code := codes.Of(err)
	if flagOutput == "json" {
		msg := err.Error()
		var ce *codes.Error
		if errors.As(err, &ce) {
			msg = ce.Message
		}
		_ = writeOut(cmd.OutOrStdout(), map[string]any{"error": map[string]string{"code": string(code), "message": msg}}, nil)
	}
	return &exitError{exitDeny, err}
}

func tokLocal(format string, a ...any) error {
	return &exitError{exitLocal, fmt.Errorf(format, a...)}
}

// compactJWS is the shape of a compact JWS: three base64url segments.
var compactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$`)

// readTokenArg reads a JWS given inline, as @FILE, or as the path of an
// existing file (sintctl token issue ... > agent.jws; token register agent.jws).
// An argument that is neither a compact JWS nor a file is a local error that
// says what to pass, and so is a file that does not hold a compact JWS.
func readTokenArg(s string) (string, error) {
	if compactJWS.MatchString(strings.TrimSpace(s)) {
		return strings.TrimSpace(s), nil
	}
	file, at := strings.CutPrefix(s, "@")
	if !at {
		if st, err := os.Stat(s); err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("%q is neither a compact JWS (header.payload.signature) nor an existing file: pass the token itself, a file path, or @FILE", s)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	raw := strings.TrimSpace(string(b))
	if !compactJWS.MatchString(raw) {
		return "", fmt.Errorf("%s does not hold a compact JWS (header.payload.signature), as sintctl token issue writes", file)
	}
	return raw, nil
}

func parseConstraints(s string) (map[string]json.RawMessage, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := readArg(s)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("--constraints: %w", err)
	}
	return m, nil
}

// decodeConstraints decodes a constraints object strictly (unknown names rejected).
func decodeConstraints(m map[string]json.RawMessage) (tokens.Constraints, error) {
	var c tokens.Constraints
	if m == nil {
		return c, nil
	}
	b, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("--constraints: %w", err)
	}
	return c, nil
}

func emitToken(cmd *cobra.Command, t *tokens.Token, jsonFile string) error {
	res := tokenResult{TokenID: t.Claims.TokenID, Token: t.Raw, Claims: t.Claims}
	if jsonFile != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(jsonFile, append(b, '\n'), 0o644); err != nil {
			return tokLocal("%v", err)
		}
	}
	return writeOut(cmd.OutOrStdout(), res, func(w io.Writer) {
		fmt.Fprintln(w, t.Raw)
		fmt.Fprintf(cmd.ErrOrStderr(), "tokenId %s  depth %d  subject %s  %s [%s] tier %d  expires %s\n",
			t.Claims.TokenID, t.Depth(), t.Claims.Subject, t.Claims.Resource, strings.Join(t.Claims.Actions, ","),
			t.Claims.Tier, time.UnixMilli(t.Claims.ExpiresAt).UTC().Format(time.RFC3339))
	})
}

func newIDs() (tokenID, nonce string, err error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", "", err
	}
	return id.String(), uuid.NewString(), nil
}

var issueFlags struct {
	key, subject, resource, constraints, jsonFile string
	actions                                       []string
	tier                                          int
	ttl                                           time.Duration
	nonRevocable                                  bool
}

var tokenIssueCmd = &cobra.Command{
	Use:   "issue --key ROOTKEY --subject HEX --resource P --actions a,b --tier N --ttl 24h",
	Short: "Issue a root capability token, signed locally with a root key",
	Long: `Issue a root (depth 0) capability token signed locally with the key file ROOTKEY.
The gateway accepts it once ROOTKEY's public key is a trusted root (sintctl roots add).

The JWS is printed on stdout (a summary on stderr); with -o json the gateway's
registration shape {"tokenId","token","claims"}; --json FILE also writes that JSON to FILE.
--constraints takes a JSON object of PROTOCOL.md §3 constraints, or @file.

Exit codes: 0 success, 1 invalid input or key file.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		f := issueFlags
		if f.key == "" || f.subject == "" || f.resource == "" || len(f.actions) == 0 {
			return tokLocal("--key, --subject, --resource and --actions are required")
		}
		k, err := keyfile.Load(f.key)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		cm, err := parseConstraints(f.constraints)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		cons, err := decodeConstraints(cm)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		id, nonce, err := newIDs()
		if err != nil {
			return &exitError{exitLocal, err}
		}
		now := tokNow().UnixMilli()
		c := tokens.Claims{
			TokenID: id, Issuer: k.AgentID(), Subject: strings.ToLower(f.subject), Resource: f.resource,
			Actions: f.actions, Constraints: cons, Tier: f.tier, IssuedAt: now, ExpiresAt: now + f.ttl.Milliseconds(),
			DelegationChain: []string{k.AgentID()}, Nonce: nonce, Revocable: !f.nonRevocable,
		}
		t, err := tokens.Sign(k.Private, c)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		return emitToken(cmd, t, f.jsonFile)
	},
}

var delegateFlags struct {
	parent, key, subject, resource, constraints, jsonFile string
	actions                                               []string
	tier                                                  int
	ttl                                                   time.Duration
}

var tokenDelegateCmd = &cobra.Command{
	Use:   "delegate --parent JWS|FILE|@FILE --key DELEGATORKEY --subject HEX",
	Short: "Delegate a narrower child token from a parent token, signed locally",
	Long: `Delegate a child of the parent token, signed with DELEGATORKEY (which must be the
parent's subject). Unset fields inherit the parent's: resource, actions, tier,
constraints (--constraints overrides the named constraints and keeps the others)
and expiry (--ttl sets expiresAt = now + ttl).

A child that would widen the parent is refused with the code the gateway would
give (CONSTRAINT_VIOLATION, INVALID_CHAIN, DELEGATION_DEPTH_EXCEEDED,
TOKEN_EXPIRED, INVALID_SIGNATURE, MALFORMED_TOKEN), never clamped.

Exit codes: 0 success, 3 refused with a gateway code, 1 invalid input or key file.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		f := delegateFlags
		if f.parent == "" || f.key == "" || f.subject == "" {
			return tokLocal("--parent, --key and --subject are required")
		}
		praw, err := readTokenArg(f.parent)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		k, err := keyfile.Load(f.key)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		now := tokNow().UnixMilli()
		parent, err := tokens.Parse(praw)
		if err != nil {
			return tokDeny(cmd, err)
		}
		if err := parent.VerifySignature(); err != nil {
			return tokDeny(cmd, err)
		}
		if parent.Claims.Subject != k.AgentID() {
			return tokDeny(cmd, codes.New(codes.InvalidChain, "the delegator key is not the parent's subject"))
		}
		if parent.Depth()+1 > tokens.MaxDelegationDepth {
			return tokDeny(cmd, codes.New(codes.DelegationDepthExceeded, "delegation depth would exceed 3"))
		}
		if now >= parent.Claims.ExpiresAt {
			return tokDeny(cmd, codes.New(codes.TokenExpired, "parent token expired"))
		}
		pc := parent.Claims
		id, nonce, err := newIDs()
		if err != nil {
			return &exitError{exitLocal, err}
		}
		pid := pc.TokenID
		c := tokens.Claims{
			TokenID: id, Issuer: k.AgentID(), Subject: strings.ToLower(f.subject), Resource: pc.Resource,
			Actions: pc.Actions, Constraints: pc.Constraints, Tier: pc.Tier, IssuedAt: now, ExpiresAt: pc.ExpiresAt,
			DelegationChain: append(append([]string(nil), pc.DelegationChain...), k.AgentID()),
			ParentTokenID:   &pid, Nonce: nonce, Revocable: true,
		}
		if cmd.Flags().Changed("resource") {
			c.Resource = f.resource
		}
		if cmd.Flags().Changed("actions") {
			c.Actions = f.actions
		}
		if cmd.Flags().Changed("tier") {
			c.Tier = f.tier
		}
		if cmd.Flags().Changed("ttl") {
			c.ExpiresAt = now + f.ttl.Milliseconds()
		}
		if f.constraints != "" {
			over, err := parseConstraints(f.constraints)
			if err != nil {
				return &exitError{exitLocal, err}
			}
			base := map[string]json.RawMessage{}
			b, _ := json.Marshal(pc.Constraints)
			_ = json.Unmarshal(b, &base)
			for name, v := range over {
				if string(v) == "null" {
					delete(base, name)
				} else {
					base[name] = v
				}
			}
			if c.Constraints, err = decodeConstraints(base); err != nil {
				return &exitError{exitLocal, err}
			}
		}
		// Attenuation before signing: a widening child is refused whatever else.
		if err := tokens.CheckAttenuation(&pc, &c); err != nil {
			return tokDeny(cmd, err)
		}
		t, err := tokens.Sign(k.Private, c)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		return emitToken(cmd, t, f.jsonFile)
	},
}

var inspectFlags struct {
	roots string
	chain []string
}

type inspectResult struct {
	TokenID        string          `json:"tokenId"`
	SHA256         string          `json:"sha256"`
	Depth          int             `json:"depth"`
	Header         json.RawMessage `json:"header"`
	Claims         tokens.Claims   `json:"claims"`
	SignatureValid bool            `json:"signatureValid"`
	ChainVerified  bool            `json:"chainVerified"`
	Verdict        string          `json:"verdict"` // OK, a §3.1 code, or UNVERIFIED (no --roots)
	Message        string          `json:"message,omitempty"`
}

var tokenInspectCmd = &cobra.Command{
	Use:   "inspect JWS|FILE|@FILE",
	Short: "Decode a token and verify it offline",
	Long: `Decode a capability token and verify it offline.

Without --roots the signature, schema and validity times are checked and the
verdict is UNVERIFIED unless one of those fails. With --roots FILE (a JSON
array of root public keys, of {"publicKey":…} objects, or one key per line) the
full §3.1 chain verification runs at the current time, with the ancestors
given by --chain (JWS or @file, root first, parent last). Revocation cannot be
checked offline.

Exit codes: 0 valid (or UNVERIFIED), 3 denied with a §3.1 code, 1 local error.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		raw, err := readTokenArg(args[0])
		if err != nil {
			return &exitError{exitLocal, err}
		}
		t, err := tokens.Parse(raw)
		if err != nil {
			return tokDeny(cmd, err)
		}
		hb, _ := base64.RawURLEncoding.DecodeString(raw[:strings.IndexByte(raw, '.')])
		h := t.Hash()
		res := inspectResult{TokenID: t.Claims.TokenID, SHA256: hex.EncodeToString(h[:]), Depth: t.Depth(),
			Header: hb, Claims: t.Claims, SignatureValid: t.VerifySignature() == nil}
		now := tokNow().UnixMilli()
		var verr error
		if inspectFlags.roots != "" {
			roots, err := loadRoots(inspectFlags.roots)
			if err != nil {
				return &exitError{exitLocal, err}
			}
			var chain []string
			for _, c := range inspectFlags.chain {
				r, err := readTokenArg(c)
				if err != nil {
					return &exitError{exitLocal, err}
				}
				chain = append(chain, r)
			}
			_, verr = tokens.NewVerifier(0).VerifyChain(now, raw, chain, roots, nil, nil, false)
			res.ChainVerified = verr == nil
		} else {
			switch {
			case !res.SignatureValid:
				verr = t.VerifySignature()
			case now >= t.Claims.ExpiresAt:
				verr = codes.New(codes.TokenExpired, "token expired")
			case now < t.Claims.IssuedAt-tokens.ClockSkewMs || t.Claims.NotBefore != nil && now < *t.Claims.NotBefore:
				verr = codes.New(codes.TokenNotYetValid, "token not yet valid")
			}
		}
		switch {
		case verr != nil:
			res.Verdict = string(codes.Of(verr))
			var ce *codes.Error
			if errors.As(verr, &ce) {
				res.Message = ce.Message
			}
		case res.ChainVerified:
			res.Verdict = "OK"
		default:
			res.Verdict = "UNVERIFIED"
			res.Message = "signature and times valid; chain not verified (no --roots)"
		}
		if err := writeOut(cmd.OutOrStdout(), res, func(w io.Writer) { printInspect(w, res) }); err != nil {
			return err
		}
		if verr != nil {
			return &exitError{exitDeny, verr}
		}
		return nil
	},
}

func printInspect(w io.Writer, r inspectResult) {
	c := r.Claims
	fmt.Fprintf(w, "tokenId     %s\nsha256      %s\nheader      %s\n", r.TokenID, r.SHA256, r.Header)
	fmt.Fprintf(w, "issuer      %s\nsubject     %s\ndepth       %d\n", c.Issuer, c.Subject, r.Depth)
	if c.ParentTokenID != nil {
		fmt.Fprintf(w, "parent      %s\n", *c.ParentTokenID)
	}
	fmt.Fprintf(w, "resource    %s\nactions     %s\ntier        %d\n", c.Resource, strings.Join(c.Actions, ","), c.Tier)
	fmt.Fprintf(w, "issuedAt    %s\nexpiresAt   %s\n", time.UnixMilli(c.IssuedAt).UTC().Format(time.RFC3339Nano),
		time.UnixMilli(c.ExpiresAt).UTC().Format(time.RFC3339Nano))
	if c.NotBefore != nil {
		fmt.Fprintf(w, "notBefore   %s\n", time.UnixMilli(*c.NotBefore).UTC().Format(time.RFC3339Nano))
	}
	cb, _ := json.Marshal(c.Constraints)
	fmt.Fprintf(w, "constraints %s\nrevocable   %v\nsignature   %s\nverdict     %s", cb, c.Revocable,
		map[bool]string{true: "valid", false: "INVALID"}[r.SignatureValid], r.Verdict)
	if r.Message != "" {
		fmt.Fprintf(w, " (%s)", r.Message)
	}
	fmt.Fprintln(w)
}

// loadRoots reads trusted root keys: a JSON array of hex strings or of
// objects with "publicKey" (the GET /v1/roots shape, also wrapped as
// {"roots":[…]}), or one hex key per line ('#' comments allowed).
func loadRoots(path string) (tokens.RootSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set := tokens.RootSet{}
	add := func(k string) error {
		k = strings.ToLower(strings.TrimSpace(k))
		if b, err := hex.DecodeString(k); err != nil || len(b) != ed25519.PublicKeySize {
			return fmt.Errorf("--roots: %q is not a 64-hex public key", k)
		}
		set[k] = true
		return nil
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
		var wrapped struct {
			Roots json.RawMessage `json:"roots"`
		}
		arr := trimmed
		if trimmed[0] == '{' {
			if err := json.Unmarshal(trimmed, &wrapped); err != nil {
				return nil, fmt.Errorf("--roots: %w", err)
			}
			arr = wrapped.Roots
		}
		var items []json.RawMessage
		if err := json.Unmarshal(arr, &items); err != nil {
			return nil, fmt.Errorf("--roots: %w", err)
		}
		for _, it := range items {
			var s string
			if json.Unmarshal(it, &s) != nil {
				var o struct {
					PublicKey string `json:"publicKey"`
				}
				if err := json.Unmarshal(it, &o); err != nil {
					return nil, fmt.Errorf("--roots: %w", err)
				}
				s = o.PublicKey
			}
			if err := add(s); err != nil {
				return nil, err
			}
		}
		return set, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := add(line); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func init() {
	fi := tokenIssueCmd.Flags()
	fi.StringVar(&issueFlags.key, "key", "", "root key file (sintctl keys gen)")
	fi.StringVar(&issueFlags.subject, "subject", "", "agentId (64 hex) the token is for")
	fi.StringVar(&issueFlags.resource, "resource", "", "resource pattern, e.g. ros:///arm/**")
	fi.StringSliceVar(&issueFlags.actions, "actions", nil, "permitted actions, comma separated")
	fi.IntVar(&issueFlags.tier, "tier", 2, "highest approval tier 1..5")
	fi.DurationVar(&issueFlags.ttl, "ttl", 24*time.Hour, "lifetime (≤ 720h)")
	fi.StringVar(&issueFlags.constraints, "constraints", "", "constraints JSON object or @file")
	fi.StringVar(&issueFlags.jsonFile, "json", "", "also write {tokenId,token,claims} JSON to FILE")
	fi.BoolVar(&issueFlags.nonRevocable, "non-revocable", false, "issue a non-revocable root (only if the gateway policy allows it)")

	fd := tokenDelegateCmd.Flags()
	fd.StringVar(&delegateFlags.parent, "parent", "", "parent token: JWS, FILE or @FILE")
	fd.StringVar(&delegateFlags.key, "key", "", "delegator key file (the parent's subject)")
	fd.StringVar(&delegateFlags.subject, "subject", "", "agentId (64 hex) the child is for")
	fd.StringVar(&delegateFlags.resource, "resource", "", "narrower resource pattern (default: the parent's)")
	fd.StringSliceVar(&delegateFlags.actions, "actions", nil, "subset of the parent's actions (default: all)")
	fd.IntVar(&delegateFlags.tier, "tier", 0, "tier ≤ the parent's (default: the parent's)")
	fd.DurationVar(&delegateFlags.ttl, "ttl", 0, "lifetime from now (default: expire with the parent)")
	fd.StringVar(&delegateFlags.constraints, "constraints", "", "constraints to override (JSON object or @file; null removes)")
	fd.StringVar(&delegateFlags.jsonFile, "json", "", "also write {tokenId,token,claims} JSON to FILE")

	fs := tokenInspectCmd.Flags()
	fs.StringVar(&inspectFlags.roots, "roots", "", "trusted root keys file: verify the whole chain")
	fs.StringSliceVar(&inspectFlags.chain, "chain", nil, "ancestors, root first (JWS or @file, comma separated)")

	tokenGroup().AddCommand(tokenIssueCmd, tokenDelegateCmd, tokenInspectCmd)
}

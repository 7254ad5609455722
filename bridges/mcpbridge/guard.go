package mcpbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gowebpki/jcs"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/injection"
)

// CodeToolChanged is the code of a call refused by the bridge because the
// tool's definition changed since it was pinned and no operator has
// approved the new definition yet. It is a bridge refusal code (outcome
// "refused"), never a gateway deny code.
const CodeToolChanged codes.Code = "TOOL_DEFINITION_CHANGED"

// Actions of the intercepts the bridge sends on its own behalf (see
// docs/mcp.md §"Tool poisoning, rug pulls and injected results"). A report
// action records an event in the gateway's ledger (the decision's
// policy.evaluated entry, whose paramsHash binds the report); the bridge
// acts on none of their decisions. ActionRepin asks an operator to approve
// a changed tool definition: only its allow (attestation verified) moves
// the pin.
const (
	ActionToolFlagged   = "mcp.tool.flagged"
	ActionToolPinned    = "mcp.tool.pinned"
	ActionResultFlagged = "mcp.result.flagged"
	ActionRepin         = "mcp.tool.repin"
)

// ResultPolicy says what the bridge does with a tool result in which the
// injection scanner finds an instruction pattern.
type ResultPolicy string

// Result policies.
const (
	// ResultRedact (the default) replaces each flagged string or content
	// item with a redaction notice and passes the rest of the result on.
	ResultRedact ResultPolicy = "redact"
	// ResultRefuse refuses the whole result with GOAL_HIJACK.
	ResultRefuse ResultPolicy = "refuse"
)

// MaxResultScanBytes bounds the JSON size of the structured content and of
// each non-text content item the bridge scans; a larger one is redacted (or
// the result refused) without scanning: what cannot be checked is not
// passed on.
const MaxResultScanBytes = 4 << 20

// Definition returns the canonical form of tool t's definition (RFC 8785
// JSON of the whole tool as listed: name, title, description, schemas,
// annotations, _meta) and its SHA-256 in hex. The pin of a tool is this
// hash.
func Definition(t *mcp.Tool) (canon []byte, sha string, err error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, "", fmt.Errorf("mcpbridge: tool definition: %w", err)
	}
	canon, err = jcs.Transform(raw)
	if err != nil {
		return nil, "", fmt.Errorf("mcpbridge: tool definition: %w", err)
	}
	h := sha256.Sum256(canon)
	return canon, hex.EncodeToString(h[:]), nil
}

// ScanTool scans every string and member name of a tool's canonical
// definition (name, title, description, input and output schema with their
// titles, descriptions, enum values and defaults, annotations) and returns
// the first finding, or nil.
func ScanTool(sc *injection.Scanner, canon []byte) (*injection.Finding, error) {
	return sc.ScanJSON(canon)
}

// redaction is the text that replaces a flagged string of a result. It
// names the finding only by a short reference (the first 4 bytes of the
// SHA-256 of "category/pattern", as logged and reported by the bridge): a
// category or pattern id spelled out ("instruction_override/
// io.ignore-previous…") is itself text the scanner flags, so the notice would
// carry a finding back to the agent.
func redaction(f *injection.Finding) string {
	return "[sintgate: redacted, ref " + RedactionRef(f.Category, f.PatternID) + "]"
}

// RedactionRef is the reference a redaction notice carries for a finding.
func RedactionRef(category, patternID string) string {
	sum := sha256.Sum256([]byte(category + "/" + patternID))
	return hex.EncodeToString(sum[:4])
}

// ResultFinding is one flagged part of a tool result: where (content[i],
// content[i].resource.text, structuredContent.<path>) and the finding.
type ResultFinding struct {
	Where string
	injection.Finding
}

// ScanResult scans the text and structured content of a tool result and
// returns res itself when nothing is flagged, else a copy in which every
// flagged string (a text content, an embedded resource's text, a resource
// link, a string or member name of the structured content) is replaced by a
// redaction notice, with the findings. Image and audio data are not
// scanned; any other content kind is scanned as JSON and replaced whole
// when flagged. res is not modified.
func ScanResult(sc *injection.Scanner, res *mcp.CallToolResult) (*mcp.CallToolResult, []ResultFinding) {
	if res == nil {
		return nil, nil
	}
	var found []ResultFinding
	var content []mcp.Content
	for i, c := range res.Content {
		where := fmt.Sprintf("content[%d]", i)
		var repl mcp.Content
		switch c := c.(type) {
		case *mcp.TextContent:
			if f := sc.ScanString(c.Text); f != nil {
				found = append(found, ResultFinding{where, *f})
				cc := *c
				cc.Text = redaction(f)
				repl = &cc
			}
		case *mcp.EmbeddedResource:
			if c.Resource != nil {
				rc := *c.Resource
				if f := sc.ScanString(rc.Text); f != nil {
					found = append(found, ResultFinding{where + ".resource.text", *f})
					rc.Text = redaction(f)
				}
				if f := scanBlob(sc, rc.Blob); f != nil {
					found = append(found, ResultFinding{where + ".resource.blob", *f})
					rc.Blob, rc.Text = nil, redaction(f)
				}
				if rc.Text != c.Resource.Text || rc.Blob == nil && c.Resource.Blob != nil {
					cc := *c
					cc.Resource = &rc
					repl = &cc
				}
			}
		case *mcp.ImageContent, *mcp.AudioContent:
		default: // resource links and any other kind: scanned whole
			raw, err := json.Marshal(c)
			var f *injection.Finding
			switch {
			case err != nil || len(raw) > MaxResultScanBytes:
				f = &injection.Finding{Category: "unscannable", PatternID: "too-large-or-unencodable", Path: "$"}
			default:
				if f, err = sc.ScanJSON(raw); err != nil {
					f = &injection.Finding{Category: "unscannable", PatternID: "invalid-json", Path: "$"}
				}
			}
			if f != nil {
				found = append(found, ResultFinding{where, *f})
				repl = &mcp.TextContent{Text: redaction(f)}
			}
		}
		if repl != nil {
			if content == nil {
				content = slices.Clone(res.Content)
			}
			content[i] = repl
		}
	}
	var structured any
	structuredChanged := false
	if res.StructuredContent != nil {
		raw, err := json.Marshal(res.StructuredContent)
		if err != nil || len(raw) > MaxResultScanBytes {
			f := injection.Finding{Category: "unscannable", PatternID: "too-large-or-unencodable", Path: "$"}
			found = append(found, ResultFinding{"structuredContent", f})
			structured, structuredChanged = map[string]any{"redacted": redaction(&f)}, true
		} else {
			var v any
			if err := json.Unmarshal(raw, &v); err == nil {
				var n int
				structured, n = redactValue(sc, v, "$", &found)
				structuredChanged = n > 0
			}
		}
	}
	if content == nil && !structuredChanged {
		return res, nil
	}
	out := *res
	if content != nil {
		out.Content = content
	}
	if structuredChanged {
		out.StructuredContent = structured
	}
	return &out, found
}

// redactValue returns v with every flagged string replaced by a redaction
// notice and every member with a flagged name dropped, and how many it
// replaced or dropped.
func redactValue(sc *injection.Scanner, v any, path string, found *[]ResultFinding) (any, int) {
	switch v := v.(type) {
	case string:
		if f := sc.ScanString(v); f != nil {
			f.Path = path
			*found = append(*found, ResultFinding{"structuredContent", *f})
			return redaction(f), 1
		}
		return v, 0
	case []any:
		n := 0
		for i := range v {
			var k int
			v[i], k = redactValue(sc, v[i], fmt.Sprintf("%s[%d]", path, i), found)
			n += k
		}
		return v, n
	case map[string]any:
		n := 0
		for key, val := range v {
			p := path + "." + key
			if f := sc.ScanString(key); f != nil {
				f.Path = p
				*found = append(*found, ResultFinding{"structuredContent", *f})
				delete(v, key)
				n++
				continue
			}
			var k int
			v[key], k = redactValue(sc, val, p, found)
			n += k
		}
		return v, n
	default:
		return v, 0
	}
}

// changedFields lists the top-level members of two canonical tool
// definitions that differ (the diff an operator sees in a repin approval,
// beside both definitions).
func changedFields(oldCanon, newCanon []byte) []string {
	var o, n map[string]json.RawMessage
	_ = json.Unmarshal(oldCanon, &o)
	_ = json.Unmarshal(newCanon, &n)
	var out []string
	for k, v := range n {
		if ov, ok := o[k]; !ok || string(ov) != string(v) {
			out = append(out, k)
		}
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

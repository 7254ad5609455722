package mcpbridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/injection"
	"github.com/sintgate/sintgate/tokens"
)

// CodeNotForwarded is the JSON-RPC error code of a resources/read or
// prompts/get the bridge did not forward (denied by the gateway, refused by
// the bridge) or whose answer it withheld. The error's message is
// "sintgate <outcome> <code>: <reason>" and its data the Outcome
// (OutcomeOfError). A tools/call refusal is a tool result instead.
const CodeNotForwarded = -32090

// mirrored is what the bridge offers of the downstream server's resources,
// resource templates and prompts: agent URI, agent template or downstream
// prompt name → the SHA-256 of the definition offered.
type mirrored struct {
	resources, templates, prompts map[string]string
}

// OutcomeError is the JSON-RPC error carrying o (CodeNotForwarded).
func OutcomeError(o *Outcome) error {
	data, _ := json.Marshal(o)
	return &jsonrpc.Error{Code: CodeNotForwarded, Message: fmt.Sprintf("sintgate %s %s: %s", o.Outcome, o.Code, o.Reason), Data: data}
}

// OutcomeOfError returns the Outcome of an error the bridge returned for a
// resources/read or prompts/get it did not forward, and false for any other
// error (a downstream server's own error among them).
func OutcomeOfError(err error) (Outcome, bool) {
	var e *jsonrpc.Error
	if !errors.As(err, &e) || e.Code != CodeNotForwarded {
		return Outcome{}, false
	}
	var o Outcome
	if json.Unmarshal(e.Data, &o) != nil || o.Code == "" {
		return Outcome{}, false
	}
	return o, true
}

// canonicalDef is the RFC 8785 JSON of a listed definition and its SHA-256.
func canonicalDef(v any) ([]byte, string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(canon)
	return canon, hex.EncodeToString(h[:]), nil
}

// vetOther scans a listed resource, template or prompt definition (every
// string and member name of its canonical JSON); a flagged one is not
// offered (unless Config.AllowFlagged names its gated resource with this
// exact hash), logged, counted and reported with action (the report's
// resource is the gated one). It returns the definition's hash and whether
// to offer it.
func (b *Bridge) vetOther(kind, action, resource, name string, def any) (string, bool) {
	canon, sha, err := canonicalDef(def)
	if err != nil {
		b.cfg.Log.Warn("downstream "+kind+" not offered: definition not encodable", "name", name, "err", err)
		return "", false
	}
	f, err := b.scan.ScanJSON(canon)
	if err != nil {
		b.cfg.Log.Warn("downstream "+kind+" not offered: definition not scannable", "name", name, "err", err)
		return "", false
	}
	if f == nil {
		return sha, true
	}
	if b.cfg.AllowFlagged[resource] == sha {
		b.cfg.Log.Warn("downstream "+kind+" flagged but offered: allowed by the operator", "resource", resource, "sha256", sha,
			"category", f.Category, "patternId", f.PatternID, "path", f.Path, "excerpt", f.Excerpt)
		return sha, true
	}
	if b.flaggedOther[resource] != sha {
		b.toolsFlagged.Add(1)
		b.cfg.Log.Warn("downstream "+kind+" flagged by the injection scanner: not offered", "resource", resource, "sha256", sha,
			"category", f.Category, "patternId", f.PatternID, "path", f.Path, "excerpt", f.Excerpt)
		b.report(action, resource, map[string]any{
			"name": b.inert(name), "sha256": sha, "category": f.Category, "patternId": f.PatternID,
			"path": b.inert(f.Path), "excerptSha256": hashHex(f.Excerpt),
		})
	}
	b.flaggedNow[resource] = sha
	return "", false
}

// refreshOthers lists the downstream resources, resource templates and
// prompts (if the server has those capabilities; within the MaxTools and
// MaxToolPages bounds) and mirrors those that are valid, unflagged and
// within the token's Scope. Caller holds rmu.
func (b *Bridge) refreshOthers(ctx context.Context) error {
	caps := &mcp.ServerCapabilities{}
	if ir := b.down.InitializeResult(); ir != nil && ir.Capabilities != nil {
		caps = ir.Capabilities
	}
	// Everything is listed first: a failing listing changes nothing.
	var (
		rs  []*mcp.Resource
		ts  []*mcp.ResourceTemplate
		ps  []*mcp.Prompt
		err error
	)
	if caps.Resources != nil {
		rs, err = listAll(ctx, "resources", func(cursor string) ([]*mcp.Resource, string, error) {
			r, err := b.down.ListResources(ctx, &mcp.ListResourcesParams{Cursor: cursor})
			if err != nil {
				return nil, "", err
			}
			return r.Resources, r.NextCursor, nil
		})
		if err != nil {
			return err
		}
		ts, err = listAll(ctx, "resource templates", func(cursor string) ([]*mcp.ResourceTemplate, string, error) {
			r, err := b.down.ListResourceTemplates(ctx, &mcp.ListResourceTemplatesParams{Cursor: cursor})
			if err != nil {
				return nil, "", err
			}
			return r.ResourceTemplates, r.NextCursor, nil
		})
		if err != nil {
			return err
		}
	}
	if caps.Prompts != nil {
		ps, err = listAll(ctx, "prompts", func(cursor string) ([]*mcp.Prompt, string, error) {
			r, err := b.down.ListPrompts(ctx, &mcp.ListPromptsParams{Cursor: cursor})
			if err != nil {
				return nil, "", err
			}
			return r.Prompts, r.NextCursor, nil
		})
		if err != nil {
			return err
		}
	}
	b.flaggedNow = map[string]string{}
	next := mirrored{resources: map[string]string{}, templates: map[string]string{}, prompts: map[string]string{}}
	for _, r := range rs {
		b.mirrorResource(r, next.resources)
	}
	for _, t := range ts {
		b.mirrorTemplate(t, next.templates)
	}
	for _, p := range ps {
		b.mirrorPrompt(p, next.prompts)
	}
	var gone []string
	for u := range b.others.resources {
		if _, ok := next.resources[u]; !ok {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 {
		b.server.RemoveResources(gone...)
	}
	gone = gone[:0]
	for u := range b.others.templates {
		if _, ok := next.templates[u]; !ok {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 {
		b.server.RemoveResourceTemplates(gone...)
	}
	gone = gone[:0]
	for n := range b.others.prompts {
		if _, ok := next.prompts[n]; !ok {
			gone = append(gone, b.prefix+n)
		}
	}
	if len(gone) > 0 {
		b.server.RemovePrompts(gone...)
	}
	b.others = next
	b.flaggedOther = b.flaggedNow
	return nil
}

// listAll pages through a downstream listing within the MaxTools and
// MaxToolPages bounds.
func listAll[T any](ctx context.Context, what string, page func(cursor string) ([]T, string, error)) ([]T, error) {
	var out []T
	cursor := ""
	for n := 0; ; n++ {
		if n == MaxToolPages {
			return nil, fmt.Errorf("mcpbridge: list downstream %s: more than %d pages", what, MaxToolPages)
		}
		items, next, err := page(cursor)
		if err != nil {
			return nil, fmt.Errorf("mcpbridge: list downstream %s: %w", what, err)
		}
		out = append(out, items...)
		if len(out) > MaxTools {
			return nil, fmt.Errorf("mcpbridge: list downstream %s: more than %d", what, MaxTools)
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// mirrorResource offers downstream resource r under its gated URI, if it is
// a ValidResourceURI, unflagged and within the Scope (action read).
func (b *Bridge) mirrorResource(r *mcp.Resource, into map[string]string) {
	if r == nil {
		return
	}
	agentURI, err := ResourceURI(b.cfg.ServerName, r.URI)
	if err != nil {
		b.cfg.Log.Warn("downstream resource not offered", "uri", r.URI, "err", err)
		return
	}
	if _, dup := into[agentURI]; dup {
		return
	}
	sha, ok := b.vetOther("resource", ActionResourceFlagged, agentURI, r.URI, r)
	if !ok {
		return
	}
	if !b.scope.covers(agentURI, ActionRead) {
		b.cfg.Log.Debug("downstream resource not offered: outside the token's scope", "uri", r.URI)
		return
	}
	if b.others.resources[agentURI] != sha {
		m := *r
		m.URI = agentURI
		if err := addSafely(func() { b.server.AddResource(&m, b.readHandler) }); err != nil {
			b.cfg.Log.Warn("downstream resource not offered", "uri", r.URI, "err", err)
			return
		}
	}
	into[agentURI] = sha
}

// mirrorTemplate offers downstream resource template t under its agent
// template (TemplatePattern), if unflagged and the Scope could allow
// reading some resource it expands to.
func (b *Bridge) mirrorTemplate(t *mcp.ResourceTemplate, into map[string]string) {
	if t == nil {
		return
	}
	agentTmpl, pattern, err := TemplatePattern(b.cfg.ServerName, t.URITemplate)
	if err != nil {
		b.cfg.Log.Warn("downstream resource template not offered", "uriTemplate", t.URITemplate, "err", err)
		return
	}
	if _, dup := into[agentTmpl]; dup {
		return
	}
	// Reported (and allowed by an operator) under the template string
	// itself encoded as a URI is: a pattern is no resource.
	tres := "mcp://" + b.cfg.ServerName + "/resource/" + encodeURI(t.URITemplate)
	if err := tokens.NormalResource(tres); err != nil {
		b.cfg.Log.Warn("downstream resource template not offered", "uriTemplate", t.URITemplate, "err", err)
		return
	}
	sha, ok := b.vetOther("resource template", ActionResourceFlagged, tres, t.URITemplate, t)
	if !ok {
		return
	}
	if !b.scope.covers(pattern, ActionRead) {
		b.cfg.Log.Debug("downstream resource template not offered: outside the token's scope", "uriTemplate", t.URITemplate)
		return
	}
	if b.others.templates[agentTmpl] != sha {
		m := *t
		m.URITemplate = agentTmpl
		if err := addSafely(func() { b.server.AddResourceTemplate(&m, b.readHandler) }); err != nil {
			b.cfg.Log.Warn("downstream resource template not offered", "uriTemplate", t.URITemplate, "err", err)
			return
		}
	}
	into[agentTmpl] = sha
}

// mirrorPrompt offers downstream prompt p as prefix+name, if its name is
// valid, it is unflagged and the Scope could allow getting it.
func (b *Bridge) mirrorPrompt(p *mcp.Prompt, into map[string]string) {
	if p == nil {
		return
	}
	resource, err := PromptResource(b.cfg.ServerName, p.Name)
	if err != nil {
		b.cfg.Log.Warn("downstream prompt not offered", "prompt", p.Name, "err", err)
		return
	}
	if _, dup := into[p.Name]; dup {
		return
	}
	sha, ok := b.vetOther("prompt", ActionPromptFlagged, resource, p.Name, p)
	if !ok {
		return
	}
	if !b.scope.covers(resource, ActionGet) {
		b.cfg.Log.Debug("downstream prompt not offered: outside the token's scope", "prompt", p.Name)
		return
	}
	if b.others.prompts[p.Name] != sha {
		m := *p
		name := p.Name
		m.Name = b.prefix + name
		if err := addSafely(func() {
			b.server.AddPrompt(&m, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				var args map[string]string
				if req.Params != nil {
					args = req.Params.Arguments
				}
				return b.getPrompt(ctx, name, resource, args)
			})
		}); err != nil {
			b.cfg.Log.Warn("downstream prompt not offered", "prompt", p.Name, "err", err)
			return
		}
	}
	into[p.Name] = sha
}

// addSafely runs an SDK registration that panics on input it cannot
// accept, and returns that as an error.
func addSafely(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// readMiddleware routes every resources/read of a URI under
// mcp://<server>/resource/ to this bridge (b.read), whether or not the URI
// was listed: the gateway decides, and nothing else of the SDK's resource
// matching is involved.
func (b *Bridge) readMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	prefix := "mcp://" + b.cfg.ServerName + "/resource/"
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "resources/read" {
			if r, ok := req.(*mcp.ReadResourceRequest); ok && r.Params != nil && strings.HasPrefix(r.Params.URI, prefix) {
				return b.read(ctx, r.Params.URI)
			}
		}
		return next(ctx, method, req)
	}
}

func (b *Bridge) readHandler(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	return b.read(ctx, req.Params.URI)
}

// read handles one resources/read of agentURI (mcp://<server>/resource/…):
// gated as ActionRead on its one spelling (ParseResourceURI) with params
// {"uri": <downstream URI>}, forwarded only on a verified allow, and its
// contents screened as a tool result's.
func (b *Bridge) read(ctx context.Context, agentURI string) (*mcp.ReadResourceResult, error) {
	p := &pending{tool: agentURI, resource: agentURI, action: ActionRead}
	_, uri, resource, err := ParseResourceURI(agentURI)
	if err != nil {
		b.calls.Add(1)
		return nil, OutcomeError(b.refuse(p, codes.MalformedRequest, err.Error()))
	}
	p.resource = resource
	params, err := canonicalParams(map[string]string{"uri": uri})
	if err != nil {
		b.calls.Add(1)
		return nil, OutcomeError(b.refuse(p, codes.MalformedRequest, err.Error()))
	}
	p.do = func(ctx context.Context) (any, error) {
		return b.down.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	}
	p.screen = func(p *pending, res any) (any, *Outcome) {
		r, _ := res.(*mcp.ReadResourceResult)
		out, found := b.scanContents(r, resource)
		if o := b.flagResult(p, found); o != nil {
			return nil, o
		}
		return out, nil
	}
	res, o, err := b.gate(ctx, p, func(context.Context) ([]byte, *Outcome) { return params, nil })
	switch {
	case o != nil:
		return nil, OutcomeError(o)
	case err != nil:
		return nil, err
	}
	r, _ := res.(*mcp.ReadResourceResult)
	if r == nil {
		r = &mcp.ReadResourceResult{}
	}
	return r, nil
}

// scanContents returns a copy of a resources/read result whose contents'
// URIs are the agent's (ResourceURI; the read's own when a content's URI
// has none) and whose flagged text is redacted: each text, and each blob
// that is UTF-8 text of a MIME type other than image/, audio/ or video/
// (its bytes are text an agent may decode).
func (b *Bridge) scanContents(r *mcp.ReadResourceResult, agentURI string) (*mcp.ReadResourceResult, []ResultFinding) {
	if r == nil {
		return nil, nil
	}
	var found []ResultFinding
	out := *r
	out.Contents = make([]*mcp.ResourceContents, 0, len(r.Contents))
	for i, c := range r.Contents {
		if c == nil {
			continue
		}
		cc := *c
		if u, err := ResourceURI(b.cfg.ServerName, c.URI); err == nil {
			cc.URI = u
		} else {
			cc.URI = agentURI
		}
		where := fmt.Sprintf("contents[%d]", i)
		if f := b.scan.ScanString(cc.Text); f != nil {
			found = append(found, ResultFinding{where + ".text", *f})
			cc.Text = redaction(f)
		}
		if len(cc.Blob) > 0 {
			if f := scanBlob(b.scan, cc.Blob); f != nil {
				found = append(found, ResultFinding{where + ".blob", *f})
				cc.Blob, cc.Text = nil, redaction(f)
			}
		}
		out.Contents = append(out.Contents, &cc)
	}
	return &out, found
}

// scanBlob scans a blob as text when it is UTF-8, whatever MIME type the
// downstream server labels it with: the label is the server's word, and a
// text blob called image/png reaches an agent as readable text all the
// same. Binary media is not valid UTF-8 and is left alone.
func scanBlob(sc *injection.Scanner, blob []byte) *injection.Finding {
	if !utf8.Valid(blob) {
		return nil
	}
	return sc.ScanString(string(blob))
}

// getPrompt handles one prompts/get of downstream prompt name: gated as
// ActionGet on mcp://<server>/prompt/<name> with params = the canonical
// arguments object (every value a string), forwarded with those same
// arguments only on a verified allow, and its description and messages
// screened as a tool result's.
func (b *Bridge) getPrompt(ctx context.Context, name, resource string, args map[string]string) (*mcp.GetPromptResult, error) {
	p := &pending{tool: name, resource: resource, action: ActionGet}
	if args == nil {
		args = map[string]string{}
	}
	p.do = func(ctx context.Context) (any, error) {
		return b.down.GetPrompt(ctx, &mcp.GetPromptParams{Name: name, Arguments: maps.Clone(args)})
	}
	p.screen = func(p *pending, res any) (any, *Outcome) {
		r, _ := res.(*mcp.GetPromptResult)
		out, found := b.scanPrompt(r)
		if o := b.flagResult(p, found); o != nil {
			return nil, o
		}
		return out, nil
	}
	res, o, err := b.gate(ctx, p, func(context.Context) ([]byte, *Outcome) {
		params, err := canonicalParams(args)
		if err != nil {
			return nil, b.refuse(p, codes.MalformedRequest, err.Error())
		}
		return params, nil
	})
	switch {
	case o != nil:
		return nil, OutcomeError(o)
	case err != nil:
		return nil, err
	}
	r, _ := res.(*mcp.GetPromptResult)
	if r == nil {
		r = &mcp.GetPromptResult{}
	}
	return r, nil
}

// scanPrompt returns a copy of a prompts/get result with its description
// and each message's content screened as ScanResult screens a tool
// result's content.
func (b *Bridge) scanPrompt(r *mcp.GetPromptResult) (*mcp.GetPromptResult, []ResultFinding) {
	if r == nil {
		return nil, nil
	}
	out := *r
	var found []ResultFinding
	if f := b.scan.ScanString(out.Description); f != nil {
		found = append(found, ResultFinding{"description", *f})
		out.Description = redaction(f)
	}
	msgs := make([]*mcp.PromptMessage, 0, len(r.Messages))
	content := make([]mcp.Content, 0, len(r.Messages))
	for _, m := range r.Messages {
		if m != nil {
			msgs = append(msgs, m)
			content = append(content, m.Content)
		}
	}
	scanned, fs := ScanResult(b.scan, &mcp.CallToolResult{Content: content})
	for _, f := range fs {
		f.Where = "messages" + strings.TrimPrefix(f.Where, "content")
		found = append(found, f)
	}
	out.Messages = make([]*mcp.PromptMessage, 0, len(msgs))
	for i, m := range msgs {
		mm := *m
		mm.Content = scanned.Content[i]
		out.Messages = append(out.Messages, &mm)
	}
	return &out, found
}

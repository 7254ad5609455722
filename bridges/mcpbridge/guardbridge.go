package mcpbridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/injection"
)

// maxReportedFindings bounds the findings one mcp.result.flagged report
// lists (the count is always reported).
const maxReportedFindings = 32

// Flagged returns the downstream tools not offered because the injection
// scanner flagged their definitions (as of the last listing).
func (b *Bridge) Flagged() []FlaggedTool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	out := make([]FlaggedTool, 0, len(b.flagged))
	for _, f := range b.flagged {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b FlaggedTool) int {
		if a.Tool < b.Tool {
			return -1
		}
		if a.Tool > b.Tool {
			return 1
		}
		return 0
	})
	return out
}

// Changed returns the names of the tools whose definitions changed since
// they were pinned and are not approved yet (their calls are refused).
func (b *Bridge) Changed() []string {
	b.gmu.Lock()
	defer b.gmu.Unlock()
	out := make([]string, 0, len(b.changed))
	for n := range b.changed {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// vet decides what of downstream tool t is offered: t itself (unflagged
// and matching its pin, or pinned now), a placeholder whose calls are
// refused (a changed definition), or nothing (nil: flagged, or no pin in a
// locked pin file). Caller holds rmu; flagged collects this listing's
// flagged tools.
func (b *Bridge) vet(ctx context.Context, t *mcp.Tool, resource string, flagged map[string]FlaggedTool) (*mcp.Tool, error) {
	canon, sha, err := Definition(t)
	if err != nil {
		return nil, err
	}
	// A definition scanned clean before is not scanned again (the listing
	// before each call would otherwise scan every tool every time).
	var f *injection.Finding
	if b.clean[t.Name] != sha {
		if f, err = ScanTool(b.scan, canon); err != nil {
			return nil, err
		}
		if f == nil {
			if b.clean == nil {
				b.clean = map[string]string{}
			}
			b.clean[t.Name] = sha
		}
	}
	if f != nil {
		if b.cfg.AllowFlagged[t.Name] == sha {
			b.cfg.Log.Warn("downstream tool flagged but offered: allowed by the operator", "tool", t.Name, "sha256", sha,
				"category", f.Category, "patternId", f.PatternID, "path", f.Path, "excerpt", f.Excerpt)
		} else {
			ft := FlaggedTool{Tool: t.Name, SHA256: sha, Finding: *f}
			flagged[t.Name] = ft
			if prev, ok := b.flagged[t.Name]; !ok || prev.SHA256 != sha {
				b.toolsFlagged.Add(1)
				b.cfg.Log.Warn("downstream tool flagged by the injection scanner: not offered", "tool", t.Name, "sha256", sha,
					"category", f.Category, "patternId", f.PatternID, "path", f.Path, "excerpt", f.Excerpt)
				b.report(ActionToolFlagged, resource, map[string]any{
					"tool": t.Name, "sha256": sha, "category": f.Category, "patternId": f.PatternID,
					"path": b.inert(f.Path), "excerptSha256": hashHex(f.Excerpt),
				})
			}
			b.dropChange(t.Name)
			return nil, nil
		}
	}
	pin, ok := b.pins.Get(resource)
	switch {
	case !ok && b.pins.Locked():
		return nil, errors.New("no pin for this tool in the locked pin file")
	case !ok:
		if err := b.pins.Set(resource, Pin{SHA256: sha, Definition: canon}); err != nil {
			return nil, fmt.Errorf("pin: %w", err)
		}
		b.cfg.Log.Info("downstream tool pinned", "tool", t.Name, "sha256", sha)
		b.report(ActionToolPinned, resource, map[string]any{"tool": t.Name, "sha256": sha})
		b.dropChange(t.Name)
		return t, nil
	case pin.SHA256 == sha:
		b.dropChange(t.Name)
		return t, nil
	}
	// A rug pull: the pinned definition changed.
	b.gmu.Lock()
	ch := b.changed[t.Name]
	if ch == nil || ch.newSHA != sha {
		ch = &change{resource: resource, tool: t, oldCanon: pin.Definition, newCanon: canon, oldSHA: pin.SHA256, newSHA: sha}
		b.changed[t.Name] = ch
		b.cfg.Log.Warn("downstream tool definition changed since it was pinned: calls refused until an operator approves it",
			"tool", t.Name, "pinnedSha256", pin.SHA256, "sha256", sha, "changed", changedFields(pin.Definition, canon))
	}
	start := b.startRepinLocked(ch)
	b.gmu.Unlock()
	if start {
		go b.requestRepin(ch)
	}
	return placeholder(t.Name), nil
}

// placeholder is what the agent is offered in place of a changed tool: its
// name, a description that says why its calls are refused, no downstream
// text (the unapproved definition never reaches the agent).
func placeholder(name string) *mcp.Tool {
	return &mcp.Tool{
		Name: name,
		Description: "[sintgate] The definition of this tool changed since it was pinned; calls are refused (" +
			string(CodeToolChanged) + ") until an operator approves the new definition.",
		InputSchema: json.RawMessage(`{"type":"object"}`),
	}
}

func (b *Bridge) dropChange(name string) {
	b.gmu.Lock()
	delete(b.changed, name)
	b.gmu.Unlock()
}

// startRepinLocked marks ch as having a repin request in flight and
// registers it with the workers, unless one is already in flight, the pins
// are locked or the bridge is closing. Caller holds gmu.
func (b *Bridge) startRepinLocked(ch *change) bool {
	if ch.requesting || b.pins.Locked() || b.closing {
		return false
	}
	ch.requesting = true
	b.workers.Add(1)
	return true
}

// refuseChanged refuses a call to a changed tool (and asks for an
// approval again if the last request ended without one), or returns nil.
func (b *Bridge) refuseChanged(p *pending) *Outcome {
	b.gmu.Lock()
	ch := b.changed[p.tool]
	if ch == nil {
		b.gmu.Unlock()
		return nil
	}
	reason := fmt.Sprintf("the definition of tool %s changed since it was pinned (pinned sha256 %s, listed now %s); calls are refused until an operator approves the new definition",
		p.tool, ch.oldSHA, ch.newSHA)
	switch {
	case b.pins.Locked():
		reason += "; the pins are locked: update the pin file"
	case ch.approvalID != "":
		reason += "; approval " + ch.approvalID + " is pending"
	case ch.last != "":
		reason += "; the last request for approval ended: " + ch.last + "; a new one was sent"
	}
	p.approval = ch.approvalID
	start := b.startRepinLocked(ch)
	b.gmu.Unlock()
	if start {
		go b.requestRepin(ch)
	}
	return b.refuse(p, CodeToolChanged, reason)
}

// requestRepin asks the gateway to approve ch's new definition: an
// intercept on the tool's resource with action ActionRepin whose params
// carry both definitions, their hashes and the changed members (the
// operator's diff). Only an allow whose attestation verifies moves the pin.
func (b *Bridge) requestRepin(ch *change) {
	defer b.workers.Done()
	ctx := b.wctx
	end := func(last string) {
		b.gmu.Lock()
		ch.requesting, ch.approvalID, ch.last = false, "", last
		b.gmu.Unlock()
		b.cfg.Log.Warn("tool definition not approved", "tool", ch.tool.Name, "sha256", ch.newSHA, "outcome", last)
	}
	params := map[string]any{
		"tool": ch.tool.Name, "pinnedSha256": ch.oldSHA, "sha256": ch.newSHA,
		"changed": changedFields(ch.oldCanon, ch.newCanon), "definition": json.RawMessage(ch.newCanon),
	}
	if len(ch.oldCanon) > 0 {
		params["pinnedDefinition"] = json.RawMessage(ch.oldCanon)
	}
	args, err := canonicalParams(params)
	if err != nil { // too large or deep: the hashes and the changed members only
		delete(params, "definition")
		delete(params, "pinnedDefinition")
		if args, err = canonicalParams(params); err != nil {
			end("params: " + err.Error())
			return
		}
	}
	rid, err := uuid.NewV7()
	if err != nil {
		end("request id: " + err.Error())
		return
	}
	req := b.ownRequest(rid.String(), ch.resource, ActionRepin, args)
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	d, _, err := b.cfg.Gateway.Intercept(cctx, req)
	cancel()
	if err != nil {
		end("gateway: " + err.Error())
		return
	}
	if d != nil && d.Decision == "escalate" && d.ApprovalID != nil {
		b.gmu.Lock()
		ch.approvalID = *d.ApprovalID
		b.gmu.Unlock()
		b.cfg.Log.Warn("tool definition changed: operator approval requested", "tool", ch.tool.Name, "approvalId", *d.ApprovalID, "sha256", ch.newSHA)
		wctx, cancel := context.WithTimeout(ctx, b.cfg.MaxWait)
		d, _, err = b.cfg.Gateway.AwaitApproval(wctx, *d.ApprovalID)
		cancel()
		if err != nil {
			end("approval wait: " + err.Error())
			return
		}
	}
	if d == nil || d.Decision != "allow" {
		if d == nil {
			end("no decision")
		} else {
			end(fmt.Sprintf("%s %s: %s", d.Decision, deref(d.Code), deref(d.Reason)))
		}
		return
	}
	if err := b.verifyOwn(ctx, req, d); err != nil {
		end("attestation: " + err.Error())
		return
	}
	b.applyRepin(ch, end)
}

// applyRepin moves the pin to ch's approved definition and offers the tool,
// unless the definition changed again meanwhile.
func (b *Bridge) applyRepin(ch *change, end func(string)) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	b.gmu.Lock()
	cur := b.changed[ch.tool.Name]
	b.gmu.Unlock()
	if cur != ch {
		end("approved, but the definition changed again (or the tool is gone) meanwhile")
		return
	}
	if err := b.pins.Set(ch.resource, Pin{SHA256: ch.newSHA, Definition: ch.newCanon}); err != nil {
		end("pin: " + err.Error())
		return
	}
	// Offered before the change is dropped: once Changed() no longer names
	// the tool, the agent's list has its approved definition.
	if err := b.addTool(ch.tool, ch.resource); err != nil {
		b.dropChange(ch.tool.Name)
		b.cfg.Log.Warn("approved tool not exposed", "tool", ch.tool.Name, "err", err)
		b.server.RemoveTools(b.prefix + ch.tool.Name)
		delete(b.tools, ch.tool.Name)
		delete(b.offered, ch.tool.Name)
		return
	}
	b.dropChange(ch.tool.Name)
	if _, sha, err := Definition(ch.tool); err == nil && b.offered != nil {
		b.offered[ch.tool.Name] = sha
	}
	b.cfg.Log.Info("tool definition approved: pin moved", "tool", ch.tool.Name, "sha256", ch.newSHA)
}

// ownRequest is an intercept the bridge sends on its own behalf.
func (b *Bridge) ownRequest(rid, resource, action string, args []byte) api.InterceptRequest {
	return api.InterceptRequest{
		RequestID: rid, TokenID: b.cfg.TokenID, Token: b.cfg.Token, Chain: b.cfg.Chain,
		Resource: resource, Action: action, Params: args,
	}
}

// verifyOwn verifies the attestation of an allow of req.
func (b *Bridge) verifyOwn(ctx context.Context, req api.InterceptRequest, d *api.Decision) error {
	if d.Attestation == nil {
		return errors.New("allow without attestation")
	}
	ph, err := attest.ParamsHash(req.Params)
	if err != nil {
		return err
	}
	want := attest.Expect{Issuer: b.cfg.Issuer, AgentID: b.cfg.Gateway.AgentID(), Resource: req.Resource, Action: req.Action, ParamsHash: ph}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	claims, err := b.cfg.Verifier.Verify(cctx, *d.Attestation, b.cfg.Now(), want)
	cancel()
	if err != nil {
		return err
	}
	if claims.JTI != req.RequestID {
		return fmt.Errorf("attestation is for request %s", claims.JTI)
	}
	return nil
}

// MaxQueuedReports bounds the reports waiting to be sent; one more is
// dropped (and logged with its fields).
const MaxQueuedReports = 1024

// reportReq is one queued report.
type reportReq struct {
	action, resource string
	params           map[string]any
}

// report queues an event for the gateway's ledger (see send). It never
// blocks: a report the gateway cannot take must not hold up a tool listing
// or a result, and what the bridge offers or refuses never depends on it.
func (b *Bridge) report(action, resource string, params map[string]any) {
	select {
	case b.reports <- reportReq{action, resource, params}:
	default:
		b.cfg.Log.Error("report queue full: report dropped", "action", action, "resource", resource, "params", params)
	}
}

// reportLoop sends the queued reports in order until Close; reports still
// queued then are logged, not sent.
func (b *Bridge) reportLoop() {
	defer b.workers.Done()
	for {
		select {
		case <-b.wctx.Done():
			for {
				select {
				case r := <-b.reports:
					b.cfg.Log.Error("bridge closing: report not sent", "action", r.action, "resource", r.resource, "params", r.params)
				default:
					return
				}
			}
		case r := <-b.reports:
			b.send(r)
		}
	}
}

// send records one event in the gateway's ledger: an intercept on the
// resource with the report action and params; the gateway's
// policy.evaluated entry records resource, action and the params' hash.
// Its decision is only logged. The params never carry a flagged text
// itself (only its SHA-256): the gateway would scan it again.
func (b *Bridge) send(r reportReq) {
	args, err := canonicalParams(r.params)
	if err == nil {
		var rid uuid.UUID
		if rid, err = uuid.NewV7(); err == nil {
			ctx, cancel := context.WithTimeout(b.wctx, b.cfg.CallTimeout)
			var d *api.Decision
			d, _, err = b.cfg.Gateway.Intercept(ctx, b.ownRequest(rid.String(), r.resource, r.action, args))
			cancel()
			if err == nil && d != nil {
				b.cfg.Log.Info("reported to the gateway", "action", r.action, "resource", r.resource, "requestId", rid.String(),
					"decision", d.Decision, "code", deref(d.Code), "params", string(args))
				return
			}
		}
	}
	b.cfg.Log.Error("report to the gateway failed", "action", r.action, "resource", r.resource, "params", r.params, "err", err)
}

// screenResult scans a forwarded call's result; a flagged one is reported
// and redacted or refused (Config.ResultPolicy).
func (b *Bridge) screenResult(p *pending, res *mcp.CallToolResult) (*mcp.CallToolResult, *Outcome) {
	out, found := ScanResult(b.scan, res)
	if o := b.flagResult(p, found); o != nil {
		return nil, o
	}
	return out, nil
}

// flagResult logs and reports the findings of a forwarded request's answer
// (mcp.result.flagged) and, under ResultRefuse, returns the refusal that
// withholds it; nil when nothing was found or the answer is redacted.
func (b *Bridge) flagResult(p *pending, found []ResultFinding) *Outcome {
	if len(found) == 0 {
		return nil
	}
	b.resultsFlagged.Add(1)
	list := make([]map[string]any, 0, min(len(found), maxReportedFindings))
	for i, f := range found {
		b.cfg.Log.Warn("result flagged by the injection scanner", "tool", p.tool, "action", p.action, "requestId", p.req.RequestID, "policy", b.cfg.ResultPolicy,
			"where", f.Where, "category", f.Category, "patternId", f.PatternID, "ref", RedactionRef(f.Category, f.PatternID),
			"path", f.Path, "excerpt", f.Excerpt)
		if i < maxReportedFindings {
			list = append(list, map[string]any{"where": f.Where, "category": f.Category, "patternId": f.PatternID,
				"path": b.inert(f.Path), "excerptSha256": hashHex(f.Excerpt)})
		}
	}
	b.report(ActionResultFlagged, p.resource, map[string]any{
		"tool": b.inert(p.tool), "requestId": p.req.RequestID, "policy": string(b.cfg.ResultPolicy), "count": len(found), "findings": list,
	})
	if b.cfg.ResultPolicy == ResultRefuse {
		f := found[0]
		return b.refuse(p, codes.GoalHijack, fmt.Sprintf("the result carries an instruction pattern (%s/%s at %s); the result was withheld", f.Category, f.PatternID, f.Where))
	}
	return nil
}

// inert returns s, or a placeholder if s itself is flagged (a JSON path
// through a flagged member name): a report must not carry flagged text.
func (b *Bridge) inert(s string) string {
	if b.scan.ScanString(s) != nil {
		return "(path withheld: it contains the flagged text)"
	}
	return s
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func canonicalParams(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return CanonicalArgs(raw)
}

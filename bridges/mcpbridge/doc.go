// Package mcpbridge is sintgate's MCP bridge: an MCP server (for the agent)
// in front of one downstream MCP server (the tools that act on the robot
// host). It lists the downstream tools under the same names, descriptions
// and schemas (and the resources and prompts, see below), and forwards a
// tools/call only after the gateway allowed an
// intercept with resource mcp://<server>/<tool>, action call and params =
// the call's arguments, and the decision's attestation verified offline
// against the gateway's JWKS (audience = resource, action, agent, unexpired,
// paramsHash = sha256 of the canonical arguments that are forwarded).
//
// Concepts:
//
//   - Canonical arguments: the call's arguments are parsed once, strictly
//     (a JSON object, no duplicate members, bounded size and depth), and
//     re-encoded as RFC 8785 JSON (CanonicalArgs). Those exact bytes are
//     what the gateway judges and what the downstream tool receives, so the
//     two can never read different arguments.
//   - Refusal: a call that is not forwarded returns an MCP tool error
//     (isError) whose text and _meta["sintgate/decision"] carry the deny
//     code and reason (OutcomeOf reads it back). The downstream tool is not
//     called.
//   - Latch: the bridge's stop state, as in rosbridge. It is set by a deny
//     with ESTOP_ENGAGED, by the e-stop poll reporting tripped, and by the
//     gateway being unreachable; setting it refuses every call whose
//     intercept was sent before (held escalations included; the check is
//     repeated under the latch mutex as the downstream request is written)
//     and cancels the downstream calls in flight. It clears when the poll reports the breaker
//     armed, or when an intercept sent after the latch is allowed (the
//     gateway releases no allow while tripped).
//   - Held escalation: an escalated call waits on the agent wait endpoint
//     until approved (then it is forwarded, once), denied, expired, the
//     caller gives up, the bridge latches, or Config.MaxWait passes.
//   - Guard: every listed tool definition is scanned with the gateway's
//     injection scanner (a flagged one is not offered unless
//     Config.AllowFlagged names its exact hash) and pinned by the SHA-256 of
//     its canonical form (Definition, Pins); a pinned tool whose definition
//     changed is offered as a placeholder whose calls are refused
//     (CodeToolChanged) until an operator approves an ActionRepin intercept.
//     Every forwarded result is scanned and redacted or refused
//     (ScanResult, Config.ResultPolicy). Each event is reported to the
//     gateway's ledger as an intercept whose action is the event name.
//   - Listing before each call: a tools/call lists the downstream tools
//     again first (Config.RelistAge; by default before every call), so a
//     definition changed without tools/list_changed is refused before the
//     call is sent.
//   - Resources and prompts: the downstream resources, resource templates
//     and prompts are mirrored (those the token's Scope could allow,
//     unflagged) and every resources/read (action read on ResourceURI:
//     mcp://<server>/resource/<percent-encoded URI>, the URI in the one
//     spelling ValidResourceURI accepts) and prompts/get (action get on
//     PromptResource) goes through the same gate as a tools/call; their
//     answers are screened as tool results are, and a refusal is a
//     JSON-RPC error with code CodeNotForwarded (OutcomeOfError).
//   - Transports: the agent side is any MCP transport (Run: stdio in the
//     binary) or streamable HTTP behind a bearer token (ServeHTTP,
//     HTTPOptions); the downstream side a command or streamable HTTP
//     (DownstreamHTTP).
//   - Group: several downstream servers behind one MCP server, one Bridge
//     each, their tools offered as <server>__<tool> (GroupSeparator) and
//     gated as mcp://<server>/<tool>.
//
// The pure parts (CanonicalArgs, ValidServerName, ValidToolName,
// ToolResource, ValidResourceURI, ResourceURI, ParseResourceURI,
// PromptResource, TemplatePattern, PatternsIntersect, Definition, ScanTool,
// ScanResult) do no I/O; the Bridge
// does MCP and HTTP I/O through the small interfaces Decider, AttestationVerifier and EstopReader (the same
// shapes as rosbridge's, so *client.Agent and *attest.JWKSCache plug in).
package mcpbridge

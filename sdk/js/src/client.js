// The agent's connection to a gateway: signed calls (docs/protocol.md
// §4.1), intercept with retries (§5), approval waits (§8), e-stop trips
// (§9) and delegation registration (§3).
//
// Every signed call is a fresh body {agentId, requestId (new UUIDv7),
// timestamp, …} sent with X-Agent-Id, X-Agent-Timestamp and X-Agent-Sig =
// base64url(Ed25519 over the exact body bytes). A retry is a new request:
// it gets a new requestId and timestamp and is signed again, so it can never
// be refused as a replay, and the ledger records every attempt.

import { b64url, utf8, uuidv7 } from "./encoding.js";
import { canonicalize } from "./jcs.js";
import { paramsHash } from "./params.js";
import { resourceError, validAction } from "./pattern.js";
import { JwksCache } from "./attest.js";
import { SintError, DeniedError, ApiError } from "./errors.js";

/** The longest a single approval wait call is held open by the gateway, plus margin. */
const WAIT_CALL_TIMEOUT_MS = 40_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Parses a response body as JSON, or null. */
async function readJSON(res) {
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return null; }
}

/** The typed error for a non-success answer that is not handled as a decision. */
function answerError(status, body) {
  if (body && typeof body === "object") {
    if (body.error && typeof body.error === "object") return new ApiError(status, body.error.code ?? "", body.error.message ?? "", body.error.requestId ?? null);
    if (body.decision === "deny") return new DeniedError(body, status);
  }
  return new ApiError(status, "", "no error body");
}

const isDecision = (b) => b !== null && typeof b === "object" && typeof b.decision === "string";

/** Deep-freezes a parsed JSON value. */
function freeze(v) {
  if (v && typeof v === "object") { Object.values(v).forEach(freeze); Object.freeze(v); }
  return v;
}

/**
 * @typedef {{tokenId?: string, token?: string, chain?: string[], resource: string, action: string,
 *   params?: Record<string, unknown>|null, physicalContext?: Record<string, unknown>, recentActions?: string[]}} InterceptRequest
 * @typedef {{retries?: number, timeoutMs?: number}} CallOptions
 */

/** An agent: its key and the gateway it talks to. */
export class Agent {
  /**
   * @param {{baseUrl: string, key: import("./keys.js").Key, jwks?: JwksCache | {keys: any[]},
   *   gatewayId?: string, fetch?: typeof fetch, retries?: number, retryDelayMs?: number, timeoutMs?: number,
   *   onAttempt?: (a: {path: string, requestId: string, attempt: number}) => void}} opts
   */
  constructor(opts) {
    if (!opts || !opts.baseUrl || !opts.key) throw new TypeError("Agent needs baseUrl and key");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.key = opts.key;
    this._fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    /** Attestations are verified against this (fetched once from the gateway unless you pass a cached JWKS). */
    this.jwks = opts.jwks instanceof JwksCache ? opts.jwks : new JwksCache({ baseUrl: this.baseUrl, jwks: opts.jwks, fetch: this._fetch });
    /** The gateway id attestations must name as iss (optional; checked when set). */
    this.gatewayId = opts.gatewayId;
    this.retries = opts.retries ?? 2;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.onAttempt = opts.onAttempt;
  }

  /** The agent's id: its public key in hex. */
  get agentId() { return this.key.agentId; }

  /**
   * signedPost sends one agent-signed POST: a fresh requestId and timestamp,
   * then `fields` (a JSON string member "params" is spliced in verbatim when
   * paramsJSON is given). It returns the status, the parsed body and the
   * requestId. Transport failures throw SintError TRANSPORT.
   * @param {string} path @param {Record<string, unknown>} fields
   * @param {{timeoutMs?: number, paramsJSON?: string, attempt?: number}} [o]
   */
  async signedPost(path, fields, o = {}) {
    const requestId = uuidv7();
    const timestamp = Date.now();
    let body = JSON.stringify({ requestId, agentId: this.agentId, timestamp, ...fields });
    if (o.paramsJSON !== undefined) body = body.slice(0, -1) + ',"params":' + o.paramsJSON + "}";
    const bytes = utf8(body);
    const sig = await this.key.sign(bytes);
    this.onAttempt?.({ path, requestId, attempt: o.attempt ?? 0 });
    let res;
    try {
      res = await this._fetch(this.baseUrl + path, {
        method: "POST",
        body: bytes,
        headers: { "Content-Type": "application/json", "X-Agent-Id": this.agentId, "X-Agent-Timestamp": String(timestamp), "X-Agent-Sig": b64url(sig) },
        signal: AbortSignal.timeout(o.timeoutMs ?? this.timeoutMs),
      });
    } catch (e) {
      throw new SintError("TRANSPORT", `POST ${path}: ${e.message}`, { requestId, cause: e });
    }
    let json;
    try { json = await readJSON(res); } catch (e) {
      throw new SintError("TRANSPORT", `POST ${path}: reading the answer: ${e.message}`, { requestId, status: res.status, cause: e });
    }
    return { status: res.status, body: json, requestId };
  }

  /**
   * withRetries runs a signed call until it gets an answer worth keeping:
   * transport failures, 5xx answers that are not decisions, and
   * LEDGER_UNAVAILABLE denies (nothing was decided) are retried as NEW
   * requests (new requestId), up to `retries` times with backoff.
   * @param {string} path @param {Record<string, unknown>} fields
   * @param {CallOptions & {paramsJSON?: string}} o
   */
  async withRetries(path, fields, o = {}) {
    const retries = o.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      let r, err;
      try {
        r = await this.signedPost(path, fields, { ...o, attempt });
      } catch (e) {
        if (!(e instanceof SintError) || e.code !== "TRANSPORT") throw e;
        err = e;
      }
      const retryable = err !== undefined ||
        (r.status >= 500 && !isDecision(r.body)) ||
        (isDecision(r.body) && r.body.decision === "deny" && r.body.code === "LEDGER_UNAVAILABLE");
      if (!retryable || attempt >= retries) {
        if (err) throw err;
        return r;
      }
      await sleep(this.retryDelayMs * 2 ** attempt * (0.5 + Math.random()));
    }
  }

  /**
   * intercept asks the gateway for a decision on one command (POST
   * /v1/intercept). params are sent as their canonical (JCS) bytes.
   *
   * - allow: returns the decision with `claims`, the attestation's claims,
   *   verified offline against the JWKS for exactly this agent, resource,
   *   action, params and requestId (an attestation that does not verify
   *   throws AttestationError: never act on it);
   * - escalate: returns the decision (decision.approvalId); pass it to
   *   waitForApproval;
   * - deny: throws DeniedError with the deny code.
   *
   * Every result carries `request` (what was asked, params frozen as sent).
   * @param {InterceptRequest} req @param {CallOptions} [o]
   */
  async intercept(req, o = {}) {
    const re = resourceError(req.resource);
    if (re) throw new SintError("MALFORMED_REQUEST", `resource ${JSON.stringify(req.resource)}: ${re}`);
    if (!validAction(req.action)) throw new SintError("MALFORMED_REQUEST", `action ${JSON.stringify(req.action)} is not [a-z0-9._-]{1,64}`);
    if (!req.tokenId === !req.token) throw new SintError("MALFORMED_REQUEST", "give exactly one of tokenId and token");
    if (req.params != null && (typeof req.params !== "object" || Array.isArray(req.params))) throw new SintError("MALFORMED_REQUEST", "params must be a JSON object");
    const paramsJSON = req.params == null ? undefined : canonicalize(req.params);
    const fields = {};
    if (req.tokenId) fields.tokenId = req.tokenId;
    if (req.token) { fields.token = req.token; if (req.chain?.length) fields.chain = req.chain; }
    fields.resource = req.resource;
    fields.action = req.action;
    // Validated like params (JSON.stringify would turn NaN into null).
    if (req.physicalContext) { canonicalize(req.physicalContext); fields.physicalContext = req.physicalContext; }
    if (req.recentActions) { canonicalize(req.recentActions); fields.recentActions = req.recentActions; }
    const r = await this.withRetries("/v1/intercept", fields, { ...o, paramsJSON });
    const request = freeze({
      requestId: r.requestId, resource: req.resource, action: req.action,
      params: paramsJSON === undefined ? null : JSON.parse(paramsJSON), paramsHash: await paramsHash(paramsJSON === undefined ? null : JSON.parse(paramsJSON)),
    });
    return this._decision(r.status, r.body, request);
  }

  /** Turns an answer into a verified decision, a DeniedError, or an ApiError. */
  async _decision(status, body, request) {
    if (!isDecision(body)) throw answerError(status, body);
    if (body.requestId != null && body.requestId !== request.requestId) {
      throw new SintError("PROTOCOL_VIOLATION", `decision for requestId ${body.requestId}, asked ${request.requestId}`, { status });
    }
    const d = { ...body, status, request };
    switch (body.decision) {
      case "allow":
        d.claims = await this.verify(body.attestation, request);
        return d;
      case "escalate":
        if (typeof body.approvalId !== "string") throw new SintError("PROTOCOL_VIOLATION", "escalate without approvalId", { status });
        return d;
      case "deny":
        throw new DeniedError(body, status);
      default:
        // An unknown decision is a deny (fail closed).
        throw new DeniedError({ ...body, code: body.code ?? "INTERNAL_ERROR" }, status);
    }
  }

  /**
   * verify checks an attestation for a request this agent made (offline,
   * against the cached JWKS) and returns its claims.
   * @param {string} attestation
   * @param {{requestId: string, resource: string, action: string, paramsHash: string}} request
   */
  verify(attestation, request) {
    return this.jwks.verify(attestation, {
      agentId: this.agentId, resource: request.resource, action: request.action,
      paramsHash: request.paramsHash, requestId: request.requestId, issuer: this.gatewayId,
    });
  }

  /**
   * waitForApproval waits for an escalated request's approval (POST
   * /v1/approvals/{id}/wait, long-polled; each call a fresh signed request)
   * and returns the allow decision with its verified attestation for the
   * original request. A denied, expired or cancelled approval throws
   * DeniedError (APPROVAL_DENIED, APPROVAL_TIMEOUT, APPROVAL_CANCELLED, or
   * the re-check's code); running out of timeoutMs throws
   * APPROVAL_WAIT_TIMEOUT (the approval itself may still be granted later).
   * Transport failures and 5xx answers while waiting are retried, each time
   * as a new signed request, until the deadline.
   * @param {{approvalId: string, request: {requestId: string, resource: string, action: string, paramsHash: string}}} escalation
   *   the escalate decision intercept returned
   * @param {{timeoutMs?: number}} [o]
   */
  async waitForApproval(escalation, o = {}) {
    const { approvalId, request } = escalation ?? {};
    if (typeof approvalId !== "string" || !request) throw new TypeError("waitForApproval needs the escalate decision returned by intercept");
    const deadline = Date.now() + (o.timeoutMs ?? 10 * 60_000);
    const path = "/v1/approvals/" + encodeURIComponent(approvalId) + "/wait";
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new SintError("APPROVAL_WAIT_TIMEOUT", `approval ${approvalId} still pending`, { requestId: request.requestId });
      const start = Date.now();
      let r;
      try {
        r = await this.signedPost(path, {}, { timeoutMs: Math.min(WAIT_CALL_TIMEOUT_MS, Math.max(left, 1000)) });
      } catch (e) {
        // Waiting for a human outlives a network blip: try again (a new
        // signed request) until the deadline.
        if (!(e instanceof SintError) || e.code !== "TRANSPORT") throw e;
        if (Date.now() >= deadline) throw new SintError("APPROVAL_WAIT_TIMEOUT", `approval ${approvalId}: ${e.message}`, { requestId: request.requestId, cause: e });
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
        continue;
      }
      if (r.status >= 500 && !isDecision(r.body)) {
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
        continue;
      }
      if (!(isDecision(r.body) && r.body.decision === "escalate" && r.status === 202)) {
        if (r.status === 202) throw new SintError("PROTOCOL_VIOLATION", "202 without a pending decision", { status: 202 });
        return this._decision(r.status, r.body, request);
      }
      const pause = 1000 - (Date.now() - start);
      if (pause > 0) await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
    }
  }

  /**
   * decide is intercept, then (on escalate, unless wait is false) waitForApproval:
   * it returns an allow with a verified attestation or throws.
   * @param {InterceptRequest} req @param {CallOptions & {wait?: boolean, approvalTimeoutMs?: number}} [o]
   */
  async decide(req, o = {}) {
    const d = await this.intercept(req, o);
    if (d.decision === "escalate" && o.wait !== false) return this.waitForApproval(d, { timeoutMs: o.approvalTimeoutMs });
    return d;
  }

  /**
   * tripEstop trips the e-stop as this agent (agent-signed POST
   * /v1/estop/trip; any agent holding a registered, unrevoked token may).
   * It is idempotent and retried like intercept. Returns the e-stop state.
   * @param {string} reason @param {CallOptions} [o]
   */
  async tripEstop(reason, o = {}) {
    const r = await this.withRetries("/v1/estop/trip", { reason: String(reason ?? "") }, o);
    if (r.status < 200 || r.status >= 300) throw answerError(r.status, r.body);
    return r.body;
  }

  /**
   * registerDelegation registers a token this agent delegated (agent-signed
   * POST /v1/tokens/delegate). The gateway re-checks everything; a refusal
   * throws ApiError with the §3.1 code (HTTP 422).
   * @param {string|{raw: string}} token
   * @param {CallOptions} [o]
   * @returns {Promise<{tokenId: string, token: string, claims: Record<string, any>}>}
   */
  async registerDelegation(token, o = {}) {
    const raw = typeof token === "string" ? token : token.raw;
    const r = await this.withRetries("/v1/tokens/delegate", { token: raw }, o);
    if (r.status !== 201) throw answerError(r.status, r.body);
    if (r.body?.token !== raw) throw new SintError("PROTOCOL_VIOLATION", "the gateway registered other bytes than were sent", { status: r.status });
    return r.body;
  }
}

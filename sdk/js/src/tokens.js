// Capability tokens (docs/protocol.md §3): compact JWS, header exactly
// {"alg":"EdDSA","typ":"sint-cap+jwt"}, Ed25519 over the first two parts.
// issueToken mints a root token; delegateToken mints a child and checks
// attenuation (§3.2) locally before anything is sent, with the gateway's
// own rules, so a widening delegation fails here with the field it widens.
// A token is kept as its exact bytes and never re-serialised.

import { b64url, unb64url, utf8, fromUtf8, unhex, uuidv7, uuidv4 } from "./encoding.js";
import { verifyEd25519 } from "./keys.js";
import { patternError, contains, validAction } from "./pattern.js";
import { polygonError, polygonContains } from "./geofence.js";
import { SintError, AttenuationError } from "./errors.js";
import { strictParse } from "./strictjson.js";

export const TOKEN_HEADER = '{"alg":"EdDSA","typ":"sint-cap+jwt"}';
export const MAX_TOKEN_BYTES = 8 << 10;
export const MAX_LIFETIME_MS = 30 * 24 * 3600 * 1000;
export const MAX_DELEGATION_DEPTH = 3;

const NUMERIC_LIMITS = ["maxVelocityMps", "maxAngularVelocityRps", "maxAccelerationMps2", "maxJerkMps3", "maxForceNewtons", "maxTorqueNm"];
const CONSTRAINT_ORDER = [...NUMERIC_LIMITS, "geofence", "timeWindow", "maxRepetitions", "rateLimit", "requiresHumanPresence", "quorum"];
const CLAIM_ORDER = ["tokenId", "issuer", "subject", "resource", "actions", "constraints", "tier", "issuedAt", "expiresAt", "notBefore", "delegationChain", "parentTokenId", "nonce", "revocable"];

const bad = (msg) => new SintError("MALFORMED_TOKEN", msg);
const isHexKey = (s) => typeof s === "string" && /^[0-9a-f]{64}$/.test(s);
const isUUID = (s, v) => typeof s === "string" && new RegExp(`^[0-9a-f]{8}-[0-9a-f]{4}-${v}[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).test(s);
const isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);
const plain = (o) => o !== null && typeof o === "object" && !Array.isArray(o);

function only(obj, allowed, where) {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw bad(`${where} has unknown member ${JSON.stringify(k)}`);
}

/**
 * normalizeConstraints validates a constraints object with the gateway's
 * schema rules and returns it with members in the gateway's order.
 * @param {Record<string, any>} c
 */
export function normalizeConstraints(c = {}) {
  if (!plain(c)) throw bad("constraints must be an object");
  only(c, CONSTRAINT_ORDER, "constraints");
  const out = {};
  for (const k of CONSTRAINT_ORDER) {
    const v = c[k];
    if (v === undefined) continue;
    if (v === null) throw bad(`constraints.${k} must not be null`);
    if (NUMERIC_LIMITS.includes(k)) {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw bad(`constraints.${k} must be a finite number ≥ 0`);
      out[k] = v;
    } else if (k === "geofence") {
      if (!plain(v)) throw bad("constraints.geofence must be an object");
      only(v, ["frame", "polygon"], "constraints.geofence");
      if (typeof v.frame !== "string" || !/^[\x21-\x7e]{1,64}$/.test(v.frame)) throw bad("constraints.geofence.frame must be 1..64 printable ASCII");
      const pe = polygonError(v.polygon);
      if (pe) throw bad(`constraints.geofence.polygon: ${pe}`);
      out[k] = { frame: v.frame, polygon: v.polygon.map((p) => [p[0], p[1]]) };
    } else if (k === "timeWindow") {
      if (!plain(v)) throw bad("constraints.timeWindow must be an object");
      only(v, ["start", "end"], "constraints.timeWindow");
      if (!isInt(v.start) || !isInt(v.end) || v.start < 0 || v.end <= v.start) throw bad("constraints.timeWindow must have integer 0 ≤ start < end");
      out[k] = { start: v.start, end: v.end };
    } else if (k === "maxRepetitions") {
      if (!isInt(v) || v < 0) throw bad("constraints.maxRepetitions must be an integer ≥ 0");
      out[k] = v;
    } else if (k === "rateLimit") {
      if (!plain(v)) throw bad("constraints.rateLimit must be an object");
      only(v, ["maxCalls", "windowMs"], "constraints.rateLimit");
      if (!isInt(v.maxCalls) || !isInt(v.windowMs) || v.maxCalls < 0 || v.windowMs < 1) throw bad("constraints.rateLimit must have integer maxCalls ≥ 0 and windowMs ≥ 1");
      out[k] = { maxCalls: v.maxCalls, windowMs: v.windowMs };
    } else if (k === "requiresHumanPresence") {
      if (typeof v !== "boolean") throw bad("constraints.requiresHumanPresence must be a boolean");
      out[k] = v;
    } else if (k === "quorum") {
      if (!plain(v)) throw bad("constraints.quorum must be an object");
      only(v, ["required", "authorized"], "constraints.quorum");
      const a = v.authorized;
      if (!Array.isArray(a) || a.length < 1 || a.length > 64) throw bad("constraints.quorum.authorized must have 1..64 operator ids");
      a.forEach((op, i) => {
        if (typeof op !== "string" || op === "" || utf8(op).length > 128) throw bad(`constraints.quorum.authorized[${i}] must be 1..128 bytes`);
        if (a.indexOf(op) !== i) throw bad(`constraints.quorum.authorized[${i}] is a duplicate`);
      });
      if (!isInt(v.required) || v.required < 1 || v.required > a.length) throw bad("constraints.quorum.required must be 1..len(authorized)");
      out[k] = { required: v.required, authorized: [...a] };
    }
  }
  return out;
}

/**
 * validateClaims applies the gateway's single-token schema rules
 * (MALFORMED_TOKEN) and returns the claims in the gateway's member order.
 * @param {Record<string, any>} c
 */
export function validateClaims(c) {
  if (!plain(c)) throw bad("claims must be an object");
  only(c, CLAIM_ORDER, "payload");
  if (!isUUID(c.tokenId, 7)) throw bad("tokenId must be a lowercase UUIDv7");
  if (!isHexKey(c.issuer)) throw bad("issuer must be 64 lowercase hex");
  if (!isHexKey(c.subject)) throw bad("subject must be 64 lowercase hex");
  const pe = patternError(c.resource);
  if (pe) throw bad(`resource: ${pe}`);
  if (!Array.isArray(c.actions) || c.actions.length < 1 || c.actions.length > 64) throw bad("actions must have 1..64 entries");
  c.actions.forEach((a, i) => {
    if (!validAction(a)) throw bad(`actions[${i}] is not [a-z0-9._-]{1,64}`);
    if (c.actions.indexOf(a) !== i) throw bad(`actions[${i}] is a duplicate`);
  });
  if (!isInt(c.tier) || c.tier < 1 || c.tier > 5) throw bad("tier must be an integer 1..5");
  if (!isInt(c.issuedAt) || c.issuedAt < 0) throw bad("issuedAt must be an integer ≥ 0 (unix ms)");
  if (!isInt(c.expiresAt) || c.expiresAt <= c.issuedAt) throw bad("expiresAt must be an integer after issuedAt");
  if (c.expiresAt - c.issuedAt > MAX_LIFETIME_MS) throw bad("expiresAt - issuedAt exceeds 30 days");
  if (c.notBefore != null && (!isInt(c.notBefore) || c.notBefore < 0)) throw bad("notBefore must be an integer ≥ 0 or null");
  if (c.constraints === null || (c.constraints !== undefined && !plain(c.constraints))) throw bad("constraints must be an object");
  if (!Array.isArray(c.delegationChain) || c.delegationChain.length === 0) throw bad("delegationChain must not be empty");
  c.delegationChain.forEach((k, i) => { if (!isHexKey(k)) throw bad(`delegationChain[${i}] must be 64 lowercase hex`); });
  if (c.parentTokenId !== null && !isUUID(c.parentTokenId, 7)) throw bad("parentTokenId must be a lowercase UUIDv7 or null");
  if (!isUUID(c.nonce, 4)) throw bad("nonce must be a lowercase UUIDv4");
  if (typeof c.revocable !== "boolean") throw bad("revocable must be a boolean");
  const out = {};
  for (const k of CLAIM_ORDER) {
    if (k === "notBefore" && c.notBefore == null) continue;
    out[k] = k === "constraints" ? normalizeConstraints(c.constraints ?? {}) : c[k];
  }
  return out;
}

/**
 * A parsed token: `raw` is its exact compact JWS, `claims` its payload.
 * @typedef {{raw: string, claims: Record<string, any>, depth: number}} Token
 */

/**
 * parseToken decodes a compact JWS capability token and checks its header
 * and payload schema. It does not check the signature (verifyTokenSignature).
 * @param {string} raw
 * @returns {Token}
 */
export function parseToken(raw) {
  if (typeof raw !== "string" || raw.length > MAX_TOKEN_BYTES) throw bad("token is not a string of at most 8 KiB");
  const parts = raw.split(".");
  if (parts.length !== 3) throw bad("not a compact JWS");
  let header, claims;
  try {
    header = strictParse(fromUtf8(unb64url(parts[0])));
    claims = strictParse(fromUtf8(unb64url(parts[1])));
    if (unb64url(parts[2]).length !== 64) throw new Error("signature is not 64 bytes");
  } catch (e) {
    throw bad(`not a compact JWS: ${e.message}`);
  }
  if (!plain(header) || header.alg !== "EdDSA" || header.typ !== "sint-cap+jwt") throw bad("header must be {alg: EdDSA, typ: sint-cap+jwt}");
  only(header, ["alg", "typ", "kid"], "header");
  if (header.kid !== undefined && header.kid !== claims?.issuer) throw bad("header kid must equal the issuer");
  validateClaims(claims);
  return { raw, claims, depth: claims.delegationChain.length - 1 };
}

/**
 * verifyTokenSignature checks a token's Ed25519 signature by its issuer.
 * @param {string|Token} token
 * @returns {Promise<boolean>}
 */
export async function verifyTokenSignature(token) {
  const t = typeof token === "string" ? parseToken(token) : token;
  const dot = t.raw.lastIndexOf(".");
  return verifyEd25519(unhex(t.claims.issuer), unb64url(t.raw.slice(dot + 1)), utf8(t.raw.slice(0, dot)));
}

/**
 * signToken signs validated claims as a compact JWS with the issuer's key.
 * @param {import("./keys.js").Key} key must be the claims' issuer
 * @param {Record<string, any>} claims
 * @returns {Promise<Token>}
 */
export async function signToken(key, claims) {
  const c = validateClaims(claims);
  if (c.issuer !== key.agentId) throw bad("the signing key is not the token's issuer");
  const input = b64url(utf8(TOKEN_HEADER)) + "." + b64url(utf8(JSON.stringify(c)));
  const raw = input + "." + b64url(await key.sign(utf8(input)));
  if (raw.length > MAX_TOKEN_BYTES) throw bad("token larger than 8 KiB");
  return { raw, claims: c, depth: c.delegationChain.length - 1 };
}

function lifetime(opts) {
  const now = opts.now ?? Date.now();
  const issuedAt = opts.issuedAt ?? now;
  const expiresAt = opts.expiresAt ?? issuedAt + (opts.ttlMs ?? 3600_000);
  return { issuedAt, expiresAt };
}

/**
 * issueToken mints a root (depth 0) capability token signed by a root key
 * the gateway trusts.
 * @param {import("./keys.js").Key} rootKey
 * @param {{subject: string, resource: string, actions: string[], tier: number, constraints?: object,
 *   ttlMs?: number, issuedAt?: number, expiresAt?: number, notBefore?: number, revocable?: boolean, now?: number}} opts
 * @returns {Promise<Token>}
 */
export async function issueToken(rootKey, opts) {
  return signToken(rootKey, {
    tokenId: uuidv7(), issuer: rootKey.agentId, subject: opts.subject, resource: opts.resource, actions: opts.actions,
    constraints: opts.constraints ?? {}, tier: opts.tier, ...lifetime(opts),
    ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
    delegationChain: [rootKey.agentId], parentTokenId: null, nonce: uuidv4(), revocable: opts.revocable ?? true,
  });
}

/**
 * delegateToken mints a child of parent, signed by parent's subject, and
 * checks locally that it only narrows the parent (throws AttenuationError,
 * code CONSTRAINT_VIOLATION, naming the field) and that the chain stays
 * within depth 3 (DELEGATION_DEPTH_EXCEEDED). Omitted fields inherit the
 * parent's, and so does every constraint the child does not set (given
 * constraints are merged over the parent's); expiresAt is the parent's when
 * neither expiresAt nor ttlMs is given (a given one that exceeds it is
 * refused, never clamped).
 * @param {import("./keys.js").Key} key the parent's subject
 * @param {string|Token} parent
 * @param {{subject: string, resource?: string, actions?: string[], tier?: number, constraints?: object,
 *   ttlMs?: number, issuedAt?: number, expiresAt?: number, notBefore?: number, now?: number}} opts
 * @returns {Promise<Token>}
 */
export async function delegateToken(key, parent, opts) {
  const p = typeof parent === "string" ? parseToken(parent) : parent;
  const pc = p.claims;
  if (pc.subject !== key.agentId) throw new SintError("INVALID_CHAIN", "only the parent token's subject can delegate it");
  if (p.depth + 1 > MAX_DELEGATION_DEPTH) throw new SintError("DELEGATION_DEPTH_EXCEEDED", `a child of a depth-${p.depth} token exceeds depth ${MAX_DELEGATION_DEPTH}`);
  const lt = lifetime(opts);
  if (opts.expiresAt === undefined && opts.ttlMs === undefined) lt.expiresAt = pc.expiresAt;
  const child = await signToken(key, {
    tokenId: uuidv7(), issuer: key.agentId, subject: opts.subject, resource: opts.resource ?? pc.resource,
    actions: opts.actions ?? pc.actions, constraints: { ...pc.constraints, ...opts.constraints }, tier: opts.tier ?? pc.tier,
    ...lt, ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
    delegationChain: [...pc.delegationChain, key.agentId], parentTokenId: pc.tokenId, nonce: uuidv4(), revocable: true,
  });
  checkAttenuation(pc, child.claims);
  return child;
}

/**
 * checkAttenuation throws an AttenuationError unless child only narrows
 * parent (docs/protocol.md §3.2), with the gateway's rules and field names.
 * @param {Record<string, any>} parent @param {Record<string, any>} child
 */
export function checkAttenuation(parent, child) {
  const w = (f, d) => { throw new AttenuationError(f, d); };
  if (!contains(parent.resource, child.resource)) w("resource", `${JSON.stringify(child.resource)} is not contained in ${JSON.stringify(parent.resource)}`);
  for (const a of child.actions) if (!parent.actions.includes(a)) w("actions", `${JSON.stringify(a)} is not among the parent's actions`);
  if (child.tier > parent.tier) w("tier", `${child.tier} > ${parent.tier}`);
  if (child.expiresAt > parent.expiresAt) w("expiresAt", `${child.expiresAt} > ${parent.expiresAt}`);
  if (!child.revocable) w("revocable", "a delegated token must be revocable");
  const pc = parent.constraints ?? {}, cc = child.constraints ?? {};
  for (const f of NUMERIC_LIMITS) {
    if (pc[f] === undefined) continue;
    if (cc[f] === undefined) w(`constraints.${f}`, `absent in the child but ${pc[f]} in the parent`);
    if (cc[f] > pc[f]) w(`constraints.${f}`, `${cc[f]} > ${pc[f]}`);
  }
  if (pc.timeWindow) {
    const cw = cc.timeWindow, pw = pc.timeWindow;
    if (!cw) w("constraints.timeWindow", "absent in the child");
    if (cw.start < pw.start || cw.end > pw.end) w("constraints.timeWindow", `[${cw.start},${cw.end}) is not within [${pw.start},${pw.end})`);
  }
  if (pc.maxRepetitions !== undefined) {
    if (cc.maxRepetitions === undefined) w("constraints.maxRepetitions", "absent in the child");
    if (cc.maxRepetitions > pc.maxRepetitions) w("constraints.maxRepetitions", `${cc.maxRepetitions} > ${pc.maxRepetitions}`);
  }
  if (pc.rateLimit) {
    const cr = cc.rateLimit, pr = pc.rateLimit;
    if (!cr) w("constraints.rateLimit", "absent in the child");
    if (cr.maxCalls > pr.maxCalls || cr.windowMs < pr.windowMs) w("constraints.rateLimit", `${cr.maxCalls} per ${cr.windowMs} ms is looser than ${pr.maxCalls} per ${pr.windowMs} ms`);
  }
  if (pc.requiresHumanPresence === true && cc.requiresHumanPresence !== true) w("constraints.requiresHumanPresence", "must stay true");
  if (pc.quorum) {
    const cq = cc.quorum, pq = pc.quorum;
    if (!cq) w("constraints.quorum", "absent in the child");
    if (cq.required < pq.required) w("constraints.quorum.required", `${cq.required} < ${pq.required}`);
    for (const op of cq.authorized) if (!pq.authorized.includes(op)) w("constraints.quorum.authorized", `${JSON.stringify(op)} is not authorised by the parent`);
  }
  if (pc.geofence) {
    const cg = cc.geofence, pg = pc.geofence;
    if (!cg) w("constraints.geofence", "absent in the child");
    if (cg.frame !== pg.frame) w("constraints.geofence.frame", `${JSON.stringify(cg.frame)} is not the parent's frame ${JSON.stringify(pg.frame)}`);
    if (!polygonContains(pg.polygon, cg.polygon)) w("constraints.geofence.polygon", "not contained in the parent's polygon");
  }
}

// Decision attestations (docs/protocol.md §7): a compact JWS with header
// {"alg":"EdDSA","typ":"sint-attest+jwt","kid"} signed by a gateway key of
// its JWKS. verifyAttestation checks one offline, in the gateway verifier's
// order (gateway/attest.Verify), and fails closed: the caller must say what
// it is about to do (agentId, resource, action, and params or paramsHash),
// and the attestation must say exactly that.

import { unb64url, utf8, fromUtf8, hex } from "./encoding.js";
import { verifyEd25519 } from "./keys.js";
import { paramsHash as hashParams } from "./params.js";
import { AttestationError, SintError } from "./errors.js";
import { strictParse } from "./strictjson.js";

export const ATTESTATION_TYPE = "sint-attest+jwt";
export const MAX_ATTESTATION_LEN = 32 << 10;
/** Verifiers accept lifetimes of at most 60 s. */
export const MAX_LIFETIME_S = 60;
/** Default clock skew allowed on iat and exp, in seconds. */
export const DEFAULT_SKEW_S = 5;

const CLAIMS = ["iss", "sub", "aud", "act", "jti", "iat", "exp", "tokenId", "tier", "paramsHash", "envelope", "policyHash", "ledgerSeq"];
const STRING_CLAIMS = ["iss", "sub", "aud", "act", "jti", "tokenId", "paramsHash", "policyHash"];

// Small-order Ed25519 points (and non-canonical encodings of them): the
// gateway's signature rule rejects these as keys; so does the SDK.
const SMALL_ORDER = new Set([
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]);

/**
 * jwksKeys reads a JWKS ({"keys":[…]}) into a map kid → raw Ed25519 public
 * key, keeping only OKP/Ed25519 keys with a kid (and use "sig" if set).
 * @param {{keys: Array<Record<string, any>>}} jwks
 * @returns {Map<string, Uint8Array>}
 */
export function jwksKeys(jwks) {
  const out = new Map();
  if (!jwks || !Array.isArray(jwks.keys)) throw new SintError("JWKS_UNAVAILABLE", "not a JWKS: no keys array");
  for (const k of jwks.keys) {
    if (!k || k.kty !== "OKP" || k.crv !== "Ed25519" || typeof k.kid !== "string" || !k.kid || typeof k.x !== "string") continue;
    if (k.use !== undefined && k.use !== "sig") continue;
    let x;
    try { x = unb64url(k.x); } catch { continue; }
    if (x.length !== 32 || SMALL_ORDER.has(hex(x))) continue;
    out.set(k.kid, x);
  }
  return out;
}

/**
 * What the verifier is about to do. agentId, resource, action and one of
 * params / paramsHash are required (params null: a command without params, hashed as {}); issuer (the gateway id) is recommended;
 * requestId, when given, must equal the attestation's jti.
 * @typedef {{agentId: string, resource: string, action: string, params?: Record<string, unknown>|null,
 *   paramsHash?: string, issuer?: string, requestId?: string, now?: number, skewSeconds?: number}} Expect
 */

/**
 * verifyAttestation checks an attestation against a JWKS (object, or a
 * Map from jwksKeys) and returns its claims, or throws AttestationError.
 * @param {string} jws
 * @param {{keys: any[]} | Map<string, Uint8Array>} jwks
 * @param {Expect} want
 * @returns {Promise<Record<string, any>>}
 */
export async function verifyAttestation(jws, jwks, want) {
  const fail = (r, claim, detail) => { throw new AttestationError(r, claim, detail); };
  if (!want || !want.agentId || !want.resource || !want.action || (want.paramsHash === undefined && want.params === undefined)) {
    fail("ATTESTATION_NO_EXPECTATION", "", "agentId, resource, action and params (or paramsHash) must all be given");
  }
  const wantHash = want.paramsHash ?? (await hashParams(want.params));
  if (typeof jws !== "string" || jws.length > MAX_ATTESTATION_LEN) fail("ATTESTATION_MALFORMED", "", "attestation missing or too long");
  const parts = jws.split(".");
  if (parts.length !== 3) fail("ATTESTATION_MALFORMED", "", "not a compact JWS");
  let header;
  try { header = strictParse(fromUtf8(unb64url(parts[0]))); } catch { fail("ATTESTATION_MALFORMED", "header", "bad base64url or JSON"); }
  if (header === null || typeof header !== "object" || Array.isArray(header)) fail("ATTESTATION_BAD_HEADER", "header", "not an object");
  for (const k of Object.keys(header)) if (!["alg", "typ", "kid"].includes(k)) fail("ATTESTATION_BAD_HEADER", "header", `unknown member ${k}`);
  if (header.alg !== "EdDSA") fail("ATTESTATION_BAD_HEADER", "alg", "want EdDSA");
  if (header.typ !== ATTESTATION_TYPE) fail("ATTESTATION_BAD_HEADER", "typ", "want " + ATTESTATION_TYPE);
  const keys = jwks instanceof Map ? jwks : jwksKeys(jwks);
  const pub = typeof header.kid === "string" && header.kid ? keys.get(header.kid) : undefined;
  if (!pub) fail("ATTESTATION_UNKNOWN_KID", "kid");
  let sig;
  try { sig = unb64url(parts[2]); } catch { fail("ATTESTATION_MALFORMED", "signature", "bad base64url"); }
  if (sig.length !== 64) fail("ATTESTATION_MALFORMED", "signature", "bad length");
  if (!(await verifyEd25519(pub, sig, utf8(parts[0] + "." + parts[1])))) fail("ATTESTATION_BAD_SIGNATURE");
  let c;
  try { c = strictParse(fromUtf8(unb64url(parts[1]))); } catch { fail("ATTESTATION_MALFORMED", "payload", "bad base64url or JSON"); }
  if (c === null || typeof c !== "object" || Array.isArray(c)) fail("ATTESTATION_MALFORMED", "payload", "not an object");
  for (const k of Object.keys(c)) if (!CLAIMS.includes(k)) fail("ATTESTATION_MALFORMED", k, "unknown claim");
  for (const k of CLAIMS) if (!(k in c)) fail("ATTESTATION_MALFORMED", k, "missing");
  for (const k of STRING_CLAIMS) if (typeof c[k] !== "string") fail("ATTESTATION_MALFORMED", k, "not a string");
  for (const k of ["iat", "exp", "tier", "ledgerSeq"]) if (!Number.isSafeInteger(c[k])) fail("ATTESTATION_MALFORMED", k, "not an integer");
  if (c.ledgerSeq < 0) fail("ATTESTATION_MALFORMED", "ledgerSeq", "negative");
  if (c.envelope === null || typeof c.envelope !== "object" || Array.isArray(c.envelope)) fail("ATTESTATION_MALFORMED", "envelope", "not an object");
  if (want.issuer && c.iss !== want.issuer) fail("ATTESTATION_WRONG_ISSUER", "iss");
  if (c.exp <= c.iat || c.exp - c.iat > MAX_LIFETIME_S) fail("ATTESTATION_BAD_LIFETIME", "exp");
  const nowS = Math.floor((want.now ?? Date.now()) / 1000);
  const skew = Math.max(0, want.skewSeconds ?? DEFAULT_SKEW_S);
  if (c.iat > nowS + skew) fail("ATTESTATION_NOT_YET_VALID", "iat");
  if (nowS >= c.exp + skew) fail("ATTESTATION_EXPIRED", "exp");
  if (c.sub !== want.agentId) fail("ATTESTATION_MISMATCH", "sub");
  if (c.aud !== want.resource) fail("ATTESTATION_MISMATCH", "aud");
  if (c.act !== want.action) fail("ATTESTATION_MISMATCH", "act");
  if (c.paramsHash !== wantHash) fail("ATTESTATION_MISMATCH", "paramsHash");
  if (want.requestId !== undefined && c.jti !== want.requestId) fail("ATTESTATION_MISMATCH", "jti");
  return c;
}

/**
 * JwksCache holds a gateway's JWKS for offline verification. It fetches
 * GET /.well-known/jwks.json once (or takes a JWKS you cached yourself) and
 * refreshes only when an attestation names a kid it does not know (a key
 * rotation), at most once per minRefreshMs. Without network it keeps
 * verifying with what it has; a kid it cannot find fails closed.
 */
export class JwksCache {
  /**
   * @param {{baseUrl?: string, jwks?: {keys: any[]}, fetch?: typeof fetch, minRefreshMs?: number}} opts
   */
  constructor(opts = {}) {
    this.baseUrl = opts.baseUrl ? opts.baseUrl.replace(/\/+$/, "") : "";
    this._fetch = opts.fetch ?? globalThis.fetch;
    this.minRefreshMs = opts.minRefreshMs ?? 10_000;
    /** @type {Map<string, Uint8Array>} */
    this.keys = opts.jwks ? jwksKeys(opts.jwks) : new Map();
    /** The JWKS last loaded, as received (cache it to verify offline later). */
    this.jwks = opts.jwks ?? null;
    this._last = 0;
  }

  /** Fetch the JWKS now. */
  async refresh() {
    if (!this.baseUrl) throw new SintError("JWKS_UNAVAILABLE", "no JWKS and no baseUrl to fetch one from");
    this._last = Date.now();
    let res;
    try {
      res = await this._fetch(this.baseUrl + "/.well-known/jwks.json", { headers: { Accept: "application/json" } });
    } catch (e) {
      throw new SintError("JWKS_UNAVAILABLE", `fetching the JWKS: ${e.message}`, { cause: e });
    }
    if (!res.ok) throw new SintError("JWKS_UNAVAILABLE", `fetching the JWKS: HTTP ${res.status}`, { status: res.status });
    const j = await res.json();
    this.keys = jwksKeys(j);
    this.jwks = j;
  }

  /**
   * verify is verifyAttestation against the cached keys, refreshing once
   * on an unknown kid.
   * @param {string} jws @param {Expect} want
   */
  async verify(jws, want) {
    if (this.keys.size === 0 && this.baseUrl) await this.refresh();
    try {
      return await verifyAttestation(jws, this.keys, want);
    } catch (e) {
      if (e instanceof AttestationError && e.code === "ATTESTATION_UNKNOWN_KID" && this.baseUrl && Date.now() - this._last >= this.minRefreshMs) {
        await this.refresh();
        return verifyAttestation(jws, this.keys, want);
      }
      throw e;
    }
  }
}

// Randomised checks of the parsers and verifiers (seeded, bounded: a few
// thousand cases, well under a second each): JCS against a reference,
// pattern containment against brute force, and mutated tokens and
// attestations that must fail with a typed error and never verify.

import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalize, contains, match, parseToken, verifyTokenSignature, verifyAttestation, Key, issueToken, SintError } from "../src/index.js";
import { protocolExamples } from "./helpers.mjs";

// mulberry32: a small seeded PRNG, so a failure reproduces.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(process.env.SINT_FUZZ_SEED ?? 19);

function randomValue(r, depth = 0) {
  const k = Math.floor(r() * (depth > 3 ? 4 : 6));
  const chars = ["a", "b", "é", "€", "\u0000", "\n", "\"", "\\", "\ud83d\ude00", "\ufb33", "1", "\u007f", "\u2028"];
  const str = () => Array.from({ length: Math.floor(r() * 5) }, () => chars[Math.floor(r() * chars.length)]).join("");
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: {
      const dv = new DataView(new ArrayBuffer(8));
      for (let i = 0; i < 8; i++) dv.setUint8(i, Math.floor(r() * 256));
      const v = dv.getFloat64(0);
      return Number.isFinite(v) ? v : r() * 1e6;
    }
    case 3: return str();
    case 4: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: { const o = {}; for (let i = Math.floor(r() * 4); i > 0; i--) o[str()] = randomValue(r, depth + 1); return o; }
  }
}

// A reference JCS written differently: JSON.stringify with a replacer that
// rebuilds every object with sorted keys (ES serialisation does the rest).
function referenceJCS(v) {
  return JSON.stringify(v, (_, x) => (x && typeof x === "object" && !Array.isArray(x)
    ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}

test("fuzz: canonicalize agrees with a reference and is idempotent", () => {
  const r = rng(SEED);
  for (let i = 0; i < 3000; i++) {
    const v = randomValue(r);
    const c = canonicalize(v);
    // The reference cannot order integer-like keys (JS objects list them first): compare parsed, then idempotence.
    assert.deepEqual(JSON.parse(c), JSON.parse(referenceJCS(v)));
    assert.equal(canonicalize(JSON.parse(c)), c);
  }
});

test("fuzz: pattern containment agrees with brute force over short resources", () => {
  const r = rng(SEED + 1);
  const alphabet = ["a", "b", "/"];
  const strings = [""];
  for (let len = 1, layer = [""]; len <= 5; len++) {
    layer = layer.flatMap((s) => alphabet.map((c) => s + c));
    strings.push(...layer);
  }
  const randomPattern = () => {
    let p = "";
    for (let n = 1 + Math.floor(r() * 4); n > 0; n--) p += ["a", "b", "/", "*", "**"][Math.floor(r() * 5)];
    return p.replace(/\*{3,}/g, "**");
  };
  let checked = 0;
  for (let i = 0; i < 1500; i++) {
    const p = randomPattern(), c = randomPattern();
    const got = contains(p, c);
    const counter = strings.find((s) => match(c, s) && !match(p, s));
    if (got) assert.equal(counter, undefined, `contains(${p}, ${c}) but ${JSON.stringify(counter)} is matched by the child only`);
    else if (counter !== undefined) checked++;
  }
  assert.ok(checked > 100, "the brute force found counterexamples for many refusals");
});

test("fuzz: mutated tokens and attestations never verify and fail with typed errors", async () => {
  const r = rng(SEED + 2);
  const ex = protocolExamples();
  const token = ex["capability-token"];
  const att = ex.attestation;
  const jwks = JSON.parse(ex.jwks);
  const body = JSON.parse(ex["signed-request"].split("\n\n")[1]);
  const want = { agentId: body.agentId, resource: body.resource, action: body.action, params: body.params, now: 1763928001000 };
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  const mutate = (s) => {
    const a = s.split("");
    for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
      const i = Math.floor(r() * a.length);
      const op = r();
      if (op < 0.6) a[i] = B64[Math.floor(r() * B64.length)];
      else if (op < 0.8) a.splice(i, 1);
      else a.splice(i, 0, B64[Math.floor(r() * B64.length)]);
    }
    return a.join("");
  };
  for (let i = 0; i < 300; i++) {
    const t = mutate(token);
    if (t === token) continue;
    let ok = false;
    try { ok = await verifyTokenSignature(parseToken(t)); } catch (e) { assert.ok(e instanceof SintError, String(e)); }
    assert.equal(ok, false, `mutated token verified: ${t}`);
    const a = mutate(att);
    if (a === att) continue;
    await assert.rejects(verifyAttestation(a, jwks, want), (e) => e instanceof SintError && e.code.startsWith("ATTESTATION_"), a);
  }
  // Sanity: the originals verify.
  assert.ok(await verifyTokenSignature(parseToken(token)));
  await verifyAttestation(att, jwks, want);
  // A fresh token re-signed with a random key never verifies as the original issuer's.
  const k = await Key.generate();
  const other = await issueToken(k, { subject: body.agentId, resource: "ros:///**", actions: ["publish"], tier: 1 });
  const forged = token.split(".").slice(0, 2).join(".") + "." + other.raw.split(".")[2];
  assert.equal(await verifyTokenSignature(forged), false);
});

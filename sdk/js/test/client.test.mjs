// The agent client against a scripted gateway (a fetch stub): what it
// retries and what it never does, and that guarded never acts on an
// attestation that does not verify for exactly the attested params.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent, Key, guarded, paramsHash, DeniedError, AttestationError, SintError, b64url } from "../src/index.js";
import { utf8, sha256hex, unb64url, fromUtf8 } from "../src/encoding.js";

const gwKey = await Key.fromSeed("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
const kid = (await sha256hex(gwKey.publicKey)).slice(0, 16);
const jwks = { keys: [{ kty: "OKP", crv: "Ed25519", x: b64url(gwKey.publicKey), kid, use: "sig", alg: "EdDSA" }] };
const alice = await Key.generate();

async function attest(signer, claims) {
  const input = b64url(utf8(JSON.stringify({ alg: "EdDSA", typ: "sint-attest+jwt", kid }))) + "." + b64url(utf8(JSON.stringify(claims)));
  return input + "." + b64url(await signer.sign(utf8(input)));
}

/** A scripted gateway: each call to /v1/intercept is answered by the next script step. */
function stub(steps) {
  const calls = [];
  const fetch = async (url, init) => {
    const body = JSON.parse(fromUtf8(init.body));
    calls.push({ url, body, headers: init.headers });
    const step = steps[Math.min(calls.length - 1, steps.length - 1)];
    return step(body, calls.length);
  };
  return { fetch, calls };
}

const json = (status, b) => new Response(JSON.stringify(b), { status, headers: { "Content-Type": "application/json" } });
const base = { tier: 1, code: null, reason: null, approvalId: null, attestation: null, envelope: null, ledger: null, policyHash: "p" };

async function allow(body, signer = gwKey, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const att = await attest(signer, { iss: "gw", sub: body.agentId, aud: body.resource, act: body.action, jti: body.requestId, iat: now, exp: now + 30,
    tokenId: body.tokenId, tier: 1, paramsHash: await paramsHash(body.params), envelope: {}, policyHash: "p", ledgerSeq: 7, ...over });
  return json(200, { ...base, requestId: body.requestId, decision: "allow", attestation: att, envelope: {}, ledger: { eventId: "e", sequence: 7, hash: "h" } });
}
const deny = (code, status = 403) => (body) => json(status, { ...base, requestId: body.requestId, decision: "deny", code, reason: code.toLowerCase() });
const req = { tokenId: "01900000-0000-7000-8000-000000000001", resource: "ros:///scan", action: "subscribe", params: { b: 1, a: [2] } };
const mk = (s, o = {}) => new Agent({ baseUrl: "http://gw", key: alice, jwks, fetch: s.fetch, retryDelayMs: 1, ...o });

test("signed requests: headers match the body, the body carries the canonical params", async () => {
  const s = stub([(b) => allow(b)]);
  await mk(s).intercept(req);
  const c = s.calls[0];
  assert.equal(c.headers["X-Agent-Id"], alice.agentId);
  assert.equal(c.headers["X-Agent-Timestamp"], String(c.body.timestamp));
  assert.match(c.body.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(Object.keys(c.body.params), ["a", "b"], "params sent in JCS order");
});

test("retries: transport failures, 5xx and LEDGER_UNAVAILABLE are retried with a new requestId each time", async () => {
  const s = stub([
    () => { throw new TypeError("fetch failed"); },
    () => new Response("bad gateway", { status: 502 }),
    deny("LEDGER_UNAVAILABLE", 503),
    (b) => allow(b),
  ]);
  const seen = [];
  const d = await mk(s, { retries: 3, onAttempt: (a) => seen.push(a) }).intercept(req);
  assert.equal(d.decision, "allow");
  const ids = s.calls.map((c) => c.body.requestId);
  assert.equal(new Set(ids).size, 4, "four attempts, four requestIds");
  assert.equal(new Set(s.calls.map((c) => c.headers["X-Agent-Sig"])).size, 4, "each attempt signed afresh");
  assert.deepEqual(seen.map((a) => a.attempt), [0, 1, 2, 3]);
  assert.equal(d.claims.jti, ids[3]);
});

test("retries: a deny is an answer, never retried", async () => {
  for (const code of ["PHYSICS_CONSTRAINT", "REPLAY_DETECTED", "ESTOP_ENGAGED"]) {
    const s = stub([deny(code, code === "REPLAY_DETECTED" ? 401 : 403), (b) => allow(b)]);
    const e = await mk(s, { retries: 3 }).intercept(req).catch((x) => x);
    assert.ok(e instanceof DeniedError);
    assert.equal(e.code, code);
    assert.equal(s.calls.length, 1, code);
  }
});

test("fail closed: a decision for another request, an unknown decision, a bad attestation", async (t) => {
  const other = await Key.generate();
  const cases = {
    "decision for another requestId": [async (b) => allow({ ...b, requestId: "01900000-0000-7000-8000-00000000dead" }), "PROTOCOL_VIOLATION"],
    "unknown decision": [(b) => json(200, { ...base, requestId: b.requestId, decision: "maybe" }), "INTERNAL_ERROR"],
    "signed by a key outside the JWKS": [(b) => allow(b, other), "ATTESTATION_BAD_SIGNATURE"],
    "attests other params": [(b) => allow({ ...b, params: { b: 2 } }), "ATTESTATION_MISMATCH"],
    "attests another resource": [(b) => allow({ ...b, resource: "ros:///cmd_vel" }), "ATTESTATION_MISMATCH"],
    "attests another request": [(b) => allow(b, gwKey, { jti: "01900000-0000-7000-8000-00000000beef" }), "ATTESTATION_MISMATCH"],
    "expired": [(b) => allow(b, gwKey, { iat: 1000, exp: 1030 }), "ATTESTATION_EXPIRED"],
    "lifetime over 60 s": [(b) => allow(b, gwKey, { exp: Math.floor(Date.now() / 1000) + 120 }), "ATTESTATION_BAD_LIFETIME"],
    "allow without attestation": [(b) => json(200, { ...base, requestId: b.requestId, decision: "allow" }), "ATTESTATION_MALFORMED"],
  };
  for (const [name, [step, code]] of Object.entries(cases)) {
    await t.test(name, async () => {
      let acted = false;
      const tool = guarded(mk(stub([step])), { tokenId: req.tokenId, resource: req.resource, action: req.action }, () => { acted = true; });
      const e = await tool(req.params).catch((x) => x);
      assert.ok(e instanceof SintError, String(e));
      assert.equal(e.code, code);
      assert.equal(acted, false, "the action never runs");
    });
  }
});

test("guarded: the action gets the attested params, frozen, and its result", async () => {
  const params = { speed: 0.2, list: [1, { x: 2 }] };
  const tool = guarded(mk(stub([(b) => allow(b)])), { tokenId: req.tokenId, resource: req.resource, action: req.action }, (p, ctx) => {
    assert.deepEqual(p, params);
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.list[1]));
    assert.throws(() => { p.speed = 9; }, TypeError);
    return ctx.claims.ledgerSeq;
  });
  params.later = "mutation after the call is not seen";
  const r = tool({ speed: 0.2, list: [1, { x: 2 }] });
  delete params.later;
  assert.equal(await r, 7);
});

test("waitForApproval: polls with fresh requestIds until resolved, verifies against the original request", async () => {
  let n = 0;
  const original = { requestId: "01900000-0000-7000-8000-0000000000aa", resource: "ros:///cmd_vel", action: "publish", params: { x: 1 } };
  const fetch = async (url, init) => {
    const body = JSON.parse(fromUtf8(init.body));
    n++;
    if (n === 1) return json(202, { ...base, requestId: original.requestId, decision: "escalate", approvalId: "ap1", requiredApprovals: 1, expiresAt: 0 });
    assert.match(url, /\/v1\/approvals\/ap1\/wait$/);
    return allow({ ...original, agentId: body.agentId, tokenId: "t" });
  };
  const agent = new Agent({ baseUrl: "http://gw", key: alice, jwks, fetch });
  const esc = { approvalId: "ap1", request: { ...original, paramsHash: await paramsHash(original.params) } };
  const t0 = Date.now();
  const d = await agent.waitForApproval(esc, { timeoutMs: 10_000 });
  assert.equal(d.claims.jti, original.requestId);
  assert.equal(n, 2);
  assert.ok(Date.now() - t0 >= 900, "a pending answer that came back at once is not hammered");
  const denied = async () => json(403, { ...base, requestId: original.requestId, decision: "deny", code: "APPROVAL_TIMEOUT" });
  const e = await new Agent({ baseUrl: "http://gw", key: alice, jwks, fetch: denied }).waitForApproval(esc).catch((x) => x);
  assert.equal(e.code, "APPROVAL_TIMEOUT");
  const pending = async () => json(202, { ...base, requestId: original.requestId, decision: "escalate", approvalId: "ap1" });
  const e2 = await new Agent({ baseUrl: "http://gw", key: alice, jwks, fetch: pending }).waitForApproval(esc, { timeoutMs: 1500 }).catch((x) => x);
  assert.equal(e2.code, "APPROVAL_WAIT_TIMEOUT");
  // A network blip while waiting is not the end of the wait: it is retried as a new request.
  let m = 0;
  const ids = [];
  const flaky = async (url, init) => {
    ids.push(JSON.parse(fromUtf8(init.body)).requestId);
    if (++m === 1) throw new TypeError("fetch failed");
    if (m === 2) return new Response("upstream down", { status: 503 });
    return allow({ ...original, agentId: alice.agentId, tokenId: "t" });
  };
  const d3 = await new Agent({ baseUrl: "http://gw", key: alice, jwks, fetch: flaky }).waitForApproval(esc, { timeoutMs: 10_000 });
  assert.equal(d3.decision, "allow");
  assert.equal(new Set(ids).size, 3);
});

test("local checks before sending: resource normal form, action, token choice", async () => {
  const s = stub([(b) => allow(b)]);
  const a = mk(s);
  for (const r of [{ ...req, resource: "ros:///a/../b" }, { ...req, resource: "ROS:///x" }, { ...req, action: "Publish" }, { ...req, token: "x.y.z" }, { ...req, params: [1] }]) {
    await assert.rejects(a.intercept(r), (e) => e.code === "MALFORMED_REQUEST");
  }
  assert.equal(s.calls.length, 0);
});

test("key files: the format of sintctl keys gen, checked on load", async () => {
  const k = await Key.fromSeed("d483c42b1d7cb5f2878b17cc8a5638f5388c374639078025a22e59f3856fbd5e");
  const text = k.toKeyFileJSON();
  assert.equal(text, `{"publicKey":"${k.agentId}","privateKey":"d483c42b1d7cb5f2878b17cc8a5638f5388c374639078025a22e59f3856fbd5e${k.agentId}"}\n`);
  assert.equal((await Key.fromKeyFileJSON(text)).agentId, k.agentId);
  const other = (await Key.generate()).agentId;
  for (const bad of [text.replace(`"publicKey":"${k.agentId}"`, `"publicKey":"${other}"`), text.replace("}", ',"x":1}'), "{}", "[]", "nope"]) {
    await assert.rejects(Key.fromKeyFileJSON(bad), (e) => e.code === "KEY_INVALID", bad);
  }
  assert.ok(!JSON.stringify(k).includes("d483c42b"), "the seed is not serialised");
  const shown = (await import("node:util")).inspect(k);
  assert.ok(!shown.includes("_seed") && !shown.includes("_priv"), "nor shown by console.log");
  const sig = await k.sign(utf8("m"));
  assert.equal(sig.length, 64);
  assert.equal(unb64url(b64url(sig)).length, 64);
});

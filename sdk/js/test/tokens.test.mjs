import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  Key, parseToken, verifyTokenSignature, issueToken, delegateToken, checkAttenuation, match, contains, resourceError,
  polygonContains, polygonError, AttenuationError,
} from "../src/index.js";
import { repoRoot } from "./helpers.mjs";

// The gateway's own token vectors (tokens/testdata/vectors.json).
const V = JSON.parse(fs.readFileSync(path.join(repoRoot, "tokens/testdata/vectors.json"), "utf8"));

test("vectors: match, contains and normal resources agree with the gateway", async (t) => {
  for (const c of V.match) assert.equal(match(c.pattern, c.resource), c.expect, `match(${c.pattern}, ${c.resource})`);
  for (const c of V.contains) assert.equal(contains(c.parent, c.child), c.expect, `contains(${c.parent}, ${c.child})`);
  for (const c of V.normalResource) assert.equal(resourceError(c.resource) === null, c.valid, `normal(${c.resource})`);
  // The cases of tokens/pattern_test.go that the token-alignment DP gets wrong.
  for (const [p, ch, want] of [["**/*", "/**", true], ["**/**", "/**", true], ["*a*", "a*", true], ["*a*", "*", false],
    ["ros:///arm/*", "ros:///arm/**", false], ["ros:///**", "ros:///***", false], ["mqtt://**/valve7", "mqtt://factory/*/valve7", true],
    ["mqtt://**/valve7", "mqtt://factory/**", false], ["ros:///arm/*", "ros:///arm/j*", true], ["ros:///**", "**", false]]) {
    assert.equal(contains(p, ch), want, `contains(${p}, ${ch})`);
  }
});

test("vectors: parse accepts and refuses exactly what the gateway's parser does", async (t) => {
  for (const c of V.chains.filter((c) => c.name.startsWith("parse/"))) {
    await t.test(c.name, () => {
      if (c.expect === "OK") parseToken(c.token);
      else assert.throws(() => parseToken(c.token), (e) => e.code === "MALFORMED_TOKEN");
    });
  }
});

test("vectors: signatures and attenuation of the gateway's chains", async (t) => {
  const byId = new Map(V.registered.map((r) => { const p = parseToken(r); return [p.claims.tokenId, p]; }));
  for (const c of V.chains.filter((c) => !c.name.startsWith("parse/") && (c.expect === "OK" || c.expect === "INVALID_SIGNATURE" || c.expect === "CONSTRAINT_VIOLATION"))) {
    await t.test(c.name, async () => {
      const leaf = parseToken(c.token);
      const links = [leaf];
      const inline = (c.chain ?? []).map(parseToken);
      for (let cur = leaf; cur.claims.parentTokenId;) {
        const parent = inline.length ? inline.pop() : byId.get(cur.claims.parentTokenId);
        links.unshift(parent);
        cur = parent;
      }
      const sigs = await Promise.all(links.map(verifyTokenSignature));
      let err = null;
      try { for (let i = 1; i < links.length; i++) checkAttenuation(links[i - 1].claims, links[i].claims); } catch (e) { err = e; }
      if (c.expect === "OK") { assert.ok(sigs.every(Boolean)); assert.equal(err, null); }
      if (c.expect === "INVALID_SIGNATURE") assert.ok(!sigs.every(Boolean));
      if (c.expect === "CONSTRAINT_VIOLATION" && c.name !== "deny/non-revocable-root") assert.ok(err instanceof AttenuationError);
    });
  }
});

test("issue and delegate: attenuation is checked before anything is signed for the gateway", async (t) => {
  const root = await Key.generate(), a = await Key.generate(), b = await Key.generate();
  const now = Date.now();
  const parent = await issueToken(root, {
    subject: a.agentId, resource: "ros:///arm/**", actions: ["publish", "read"], tier: 3, ttlMs: 3600e3, now,
    constraints: { maxVelocityMps: 0.5, rateLimit: { maxCalls: 10, windowMs: 1000 }, requiresHumanPresence: true,
      quorum: { required: 1, authorized: ["alice", "bob"] }, geofence: { frame: "map", polygon: [[0, 0], [10, 0], [10, 10], [5, 5], [0, 10]] } },
  });
  assert.ok(await verifyTokenSignature(parent));
  assert.equal(parent.depth, 0);
  const ok = await delegateToken(a, parent, { subject: b.agentId, resource: "ros:///arm/joint_*", actions: ["read"], tier: 2, ttlMs: 60e3, now,
    constraints: { ...parent.claims.constraints, maxVelocityMps: 0.25, geofence: { frame: "map", polygon: [[0, 0], [10, 0], [5, 5]] } } });
  assert.deepEqual(ok.claims.delegationChain, [root.agentId, a.agentId]);
  assert.equal(ok.claims.parentTokenId, parent.claims.tokenId);
  assert.ok(await verifyTokenSignature(ok));
  // Omitted fields inherit, and the child never outlives the parent.
  const inherit = await delegateToken(a, parent, { subject: b.agentId });
  assert.equal(inherit.claims.expiresAt, parent.claims.expiresAt);
  // Constraints the child does not set are the parent's.
  const narrower = await delegateToken(a, parent, { subject: b.agentId, constraints: { maxVelocityMps: 0.1 } });
  assert.deepEqual(narrower.claims.constraints, { ...parent.claims.constraints, maxVelocityMps: 0.1 });

  const widen = {
    resource: [{ resource: "ros:///**" }, "resource"],
    actions: [{ actions: ["publish", "move"] }, "actions"],
    tier: [{ tier: 4 }, "tier"],
    expiresAt: [{ expiresAt: parent.claims.expiresAt + 1 }, "expiresAt"],
    velocity: [{ constraints: { ...parent.claims.constraints, maxVelocityMps: 0.6 } }, "constraints.maxVelocityMps"],
    "velocity dropped": [{ constraints: { ...parent.claims.constraints, maxVelocityMps: undefined } }, "constraints.maxVelocityMps"],
    rate: [{ constraints: { ...parent.claims.constraints, rateLimit: { maxCalls: 10, windowMs: 999 } } }, "constraints.rateLimit"],
    presence: [{ constraints: { ...parent.claims.constraints, requiresHumanPresence: false } }, "constraints.requiresHumanPresence"],
    quorum: [{ constraints: { ...parent.claims.constraints, quorum: { required: 1, authorized: ["alice", "carol"] } } }, "constraints.quorum.authorized"],
    // The concave notch: every vertex is inside the parent, the edge is not.
    "geofence across the notch": [{ constraints: { ...parent.claims.constraints, geofence: { frame: "map", polygon: [[1, 8], [9, 8], [5, 1]] } } }, "constraints.geofence.polygon"],
    "geofence frame": [{ constraints: { ...parent.claims.constraints, geofence: { frame: "odom", polygon: [[0, 0], [10, 0], [5, 5]] } } }, "constraints.geofence.frame"],
  };
  for (const [name, [opts, field]] of Object.entries(widen)) {
    await t.test(name, () => assert.rejects(delegateToken(a, parent, { subject: b.agentId, ...opts }), (e) => e instanceof AttenuationError && e.code === "CONSTRAINT_VIOLATION" && e.field === field));
  }
  await assert.rejects(delegateToken(b, parent, { subject: b.agentId }), (e) => e.code === "INVALID_CHAIN");
  let t3 = ok;
  const c = await Key.generate(), d = await Key.generate();
  const t2 = await delegateToken(b, t3, { subject: c.agentId });
  t3 = await delegateToken(c, t2, { subject: d.agentId });
  assert.equal(t3.depth, 3);
  await assert.rejects(delegateToken(d, t3, { subject: a.agentId }), (e) => e.code === "DELEGATION_DEPTH_EXCEEDED");
  await assert.rejects(issueToken(root, { subject: a.agentId, resource: "ros:///**", actions: ["publish"], tier: 2.5 }), (e) => e.code === "MALFORMED_TOKEN");
  await assert.rejects(issueToken(root, { subject: a.agentId, resource: "ros:///**", actions: ["publish"], tier: 2, ttlMs: 31 * 86400e3 }), (e) => e.code === "MALFORMED_TOKEN");
});

test("geofence: exact boundary decisions", () => {
  const sq = [[0, 0], [1, 0], [1, 1], [0, 1]];
  assert.ok(polygonContains(sq, sq), "identical polygon");
  assert.ok(polygonContains(sq, [[0, 0], [1, 0], [0.5, 0.5]]), "shared edge");
  assert.ok(!polygonContains(sq, [[0, 0], [1.0000000000000002, 0], [0.5, 0.5]]), "one ulp outside");
  assert.ok(polygonContains([[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]], [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2]]), "0.1+0.2 style coordinates, on the edge");
  assert.equal(polygonError([[0, 0], [1, 1], [1, 0], [0, 1]]), "edges intersect (not a simple polygon)");
  assert.equal(polygonError([[0, 0], [1, 1], [2, 2]]), "adjacent edges overlap");
  assert.equal(polygonError([[0, 0], [1, 0]]), "polygon must have 3..256 vertices");
});

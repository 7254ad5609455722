// The shared byte examples of docs/protocol.md §13, checked by the JS SDK
// (and, independently, with npm jose where it applies). The Go side checks
// the same blocks in docs/protocoltest.

import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import * as jose from "jose";
import {
  Key, verifyEd25519, parseToken, verifyTokenSignature, signToken, verifyAttestation, paramsHash,
  entryHash, entryHashInput, verifyEntries, verifyInclusion, verifyCheckpoint, verifierKey, unb64url, hex, unhex,
} from "../src/index.js";
import { utf8, sha256hex, unb64std } from "../src/encoding.js";
import { protocolExamples } from "./helpers.mjs";

const ex = protocolExamples();
const need = (n) => { assert.ok(n in ex, `docs/protocol.md has no example ${n}`); return ex[n]; };
const keys = JSON.parse(need("keys"));
const requestTimeMs = 1763928000000;

function splitRequest() {
  const block = need("signed-request");
  const sep = block.indexOf("\n\n");
  assert.ok(sep > 0, "no blank line between headers and body");
  const h = {};
  for (const l of block.slice(0, sep).split("\n").slice(1)) { const i = l.indexOf(": "); h[l.slice(0, i)] = l.slice(i + 2); }
  return { h, body: block.slice(sep + 2) };
}

test("examples: every block the SDK checks is present", () => {
  for (const n of ["keys", "signed-request", "capability-token", "capability-token-claims", "attestation", "jwks", "ledger-entries", "ledger-hash-input", "checkpoint", "checkpoint-note", "inclusion-proof"]) need(n);
});

test("examples: keys derive from their seeds", async () => {
  assert.equal((await Key.fromSeed(keys.rootSeed)).agentId, keys.rootPublicKey);
  assert.equal((await Key.fromSeed(keys.agentSeed)).agentId, keys.agentId);
  const gw = await Key.fromSeed(keys.gatewaySeed);
  assert.equal(gw.agentId, keys.gatewayPublicKey);
  assert.equal((await sha256hex(gw.publicKey)).slice(0, 16), keys.gatewayKid, "kid = first 16 hex of sha256(public key)");
});

test("examples: the signed request verifies, and the SDK's signer reproduces its signature", async () => {
  const { h, body } = splitRequest();
  assert.equal(utf8(body).length, 325);
  const b = JSON.parse(body);
  assert.equal(h["X-Agent-Id"], b.agentId);
  assert.equal(h["X-Agent-Timestamp"], String(b.timestamp));
  assert.equal(b.timestamp, requestTimeMs);
  assert.ok(await verifyEd25519(unhex(h["X-Agent-Id"]), unb64url(h["X-Agent-Sig"]), utf8(body)));
  const alice = await Key.fromSeed(keys.agentSeed);
  const { b64url } = await import("../src/encoding.js");
  assert.equal(b64url(await alice.sign(utf8(body))), h["X-Agent-Sig"], "Ed25519 is deterministic: same key, same bytes, same signature");
  // One changed byte no longer verifies.
  assert.equal(await verifyEd25519(unhex(h["X-Agent-Id"]), unb64url(h["X-Agent-Sig"]), utf8(body.replace("0.4", "0.5"))), false);
});

test("examples: the capability token parses, verifies, and the SDK mints the same bytes", async () => {
  const raw = need("capability-token");
  const t = parseToken(raw);
  assert.deepEqual(t.claims, JSON.parse(need("capability-token-claims")));
  assert.equal(t.claims.issuer, keys.rootPublicKey);
  assert.equal(t.claims.subject, keys.agentId);
  assert.ok(await verifyTokenSignature(t));
  const again = await signToken(await Key.fromSeed(keys.rootSeed), JSON.parse(need("capability-token-claims")));
  assert.equal(again.raw, raw, "claims serialised in the gateway's member order, header exact");
  // Independent check with jose.
  const pub = await jose.importJWK({ kty: "OKP", crv: "Ed25519", x: Buffer.from(keys.rootPublicKey, "hex").toString("base64url") }, "EdDSA");
  const { payload, protectedHeader } = await jose.compactVerify(raw, pub);
  assert.deepEqual(protectedHeader, { alg: "EdDSA", typ: "sint-cap+jwt" });
  assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), t.claims);
  // A forged signature does not verify.
  const forged = raw.slice(0, -2) + (raw.endsWith("AA") ? "AQ" : "AA");
  assert.equal(await verifyTokenSignature(forged).catch(() => false), false);
});

test("examples: the attestation verifies against the JWKS for exactly the request's params", async () => {
  const { body } = splitRequest();
  const req = JSON.parse(body);
  const jwks = JSON.parse(need("jwks"));
  const att = need("attestation");
  const want = { agentId: keys.agentId, resource: req.resource, action: req.action, params: req.params, issuer: keys.gatewayId, requestId: req.requestId, now: requestTimeMs + 1000 };
  const c = await verifyAttestation(att, jwks, want);
  assert.equal(c.paramsHash, await paramsHash(req.params), "the SDK's JCS hash equals the gateway's");
  assert.equal(c.ledgerSeq, 1);
  assert.equal(c.tier, 2);
  // Fail closed on every mismatch.
  const bad = async (w, code) => assert.rejects(verifyAttestation(att, jwks, { ...want, ...w }), (e) => e.code === code, code);
  await bad({ params: { ...req.params, linear: { x: 0.41, y: 0, z: 0 } } }, "ATTESTATION_MISMATCH");
  await bad({ resource: "ros:///cmd_vel2" }, "ATTESTATION_MISMATCH");
  await bad({ action: "subscribe" }, "ATTESTATION_MISMATCH");
  await bad({ agentId: keys.rootPublicKey }, "ATTESTATION_MISMATCH");
  await bad({ requestId: "019aaf00-0000-7000-8000-000000000002" }, "ATTESTATION_MISMATCH");
  await bad({ issuer: "gw-other" }, "ATTESTATION_WRONG_ISSUER");
  await bad({ now: requestTimeMs + 60_000 }, "ATTESTATION_EXPIRED");
  await bad({ now: requestTimeMs - 60_000 }, "ATTESTATION_NOT_YET_VALID");
  await bad({ params: undefined, paramsHash: undefined }, "ATTESTATION_NO_EXPECTATION");
  await assert.rejects(verifyAttestation(att, { keys: [] }, want), (e) => e.code === "ATTESTATION_UNKNOWN_KID");
  const [h, p, s] = att.split(".");
  await assert.rejects(verifyAttestation(`${h}.${p}.${s.slice(0, -2)}AA`, jwks, want), (e) => e.code === "ATTESTATION_BAD_SIGNATURE");
  // Independent check with jose: signature, typ, and the same claims.
  const key = await jose.importJWK(jwks.keys[0], "EdDSA");
  const { payload, protectedHeader } = await jose.jwtVerify(att, key, { typ: "sint-attest+jwt", issuer: keys.gatewayId, currentDate: new Date(requestTimeMs + 1000) });
  assert.equal(protectedHeader.kid, keys.gatewayKid);
  assert.deepEqual(payload, c);
});

test("examples: ledger entries hash to their hash over exactly the shown bytes, and chain", async () => {
  const entries = need("ledger-entries").split("\n").map((l) => JSON.parse(l));
  assert.equal(entryHashInput(entries[0]), need("ledger-hash-input"));
  for (const e of entries) assert.equal(await entryHash(e), e.hash);
  assert.ok(await verifyEntries(entries));
  const tampered = structuredClone(entries);
  tampered[0].payload.speed = 1.51;
  await assert.rejects(verifyEntries(tampered), (e) => e.code === "LEDGER_PROOF_INVALID");
  assert.equal("tokenId" in entries[1], false);
});

test("examples: the checkpoint note is signed by the JWKS key, and the proof leads to its root", async () => {
  const cp = JSON.parse(need("checkpoint"));
  const jwks = JSON.parse(need("jwks"));
  assert.equal(cp.note, need("checkpoint-note") + "\n");
  assert.deepEqual(await verifyCheckpoint(cp, jwks, { gatewayId: keys.gatewayId }), { origin: "sintgate/" + keys.gatewayId, treeSize: 2, rootHash: cp.rootHash });
  await assert.rejects(verifyCheckpoint({ ...cp, treeSize: 3 }, jwks), (e) => e.code === "LEDGER_PROOF_INVALID");
  await assert.rejects(verifyCheckpoint(cp, jwks, { gatewayId: "gw-other" }), (e) => e.code === "LEDGER_PROOF_INVALID");
  await assert.rejects(verifyCheckpoint({ ...cp, note: cp.note.replace("\n2\n", "\n3\n") }, jwks), (e) => e.code === "LEDGER_PROOF_INVALID");

  // Independent check of the note signature: key from the JWKS through jose,
  // Ed25519 through node:crypto (OpenSSL), key hash computed here.
  const jwk = jwks.keys.find((k) => k.kid === cp.kid);
  const body = cp.note.slice(0, cp.note.indexOf("\n\n") + 1);
  const sigLine = cp.note.slice(cp.note.indexOf("\n\n") + 2).trimEnd();
  const [dash, name, b64] = sigLine.split(" ");
  assert.equal(dash, "\u2014");
  const raw = Buffer.from(b64, "base64");
  const pub = Buffer.from(jwk.x, "base64url");
  const keyHash = crypto.createHash("sha256").update(Buffer.concat([Buffer.from(name + "\n"), Buffer.from([1]), pub])).digest().subarray(0, 4);
  assert.deepEqual(raw.subarray(0, 4), keyHash);
  const ko = await jose.importJWK(jwk, "EdDSA");
  const nodeKey = ko instanceof crypto.KeyObject ? ko : crypto.KeyObject.from(ko);
  assert.ok(crypto.verify(null, Buffer.from(body), nodeKey, raw.subarray(4)));
  assert.equal(body.split("\n")[2], Buffer.from(cp.rootHash, "hex").toString("base64"));
  assert.match(await verifierKey(name, pub), new RegExp(`^sintgate/${keys.gatewayId}\\+${keyHash.toString("hex")}\\+`));

  const entries = need("ledger-entries").split("\n").map((l) => JSON.parse(l));
  const proof = JSON.parse(need("inclusion-proof"));
  assert.ok(await verifyInclusion(entries[0].hash, proof.leafIndex, proof.treeSize, proof.inclusionProof, cp.rootHash));
  await assert.rejects(verifyInclusion(entries[1].hash, 0, 2, proof.inclusionProof, cp.rootHash), (e) => e.code === "LEDGER_PROOF_INVALID");
  // Leaf 1's proof is leaf 0's leaf hash.
  const { leafHash } = await import("../src/ledger.js");
  assert.ok(await verifyInclusion(entries[1].hash, 1, 2, [hex(await leafHash(entries[0].hash))], cp.rootHash));
  assert.equal(unb64std("AA==").length, 1);
});

// Evidence ledger checks (docs/protocol.md §10): entry hashes, RFC 6962
// inclusion proofs, and checkpoints signed as C2SP signed notes by a key of
// the gateway's JWKS. All offline.

import { canonicalize } from "./jcs.js";
import { sha256, sha256hex, hex, unhex, utf8, unb64std, b64std, concat, bytesEqual } from "./encoding.js";
import { verifyEd25519 } from "./keys.js";
import { jwksKeys } from "./attest.js";
import { SintError } from "./errors.js";

const fail = (msg) => { throw new SintError("LEDGER_PROOF_INVALID", msg); };

/**
 * entryHashInput is the exact string an entry's hash covers: JCS of the
 * entry without `hash`, with sequenceNumber as a decimal string and
 * tokenId only when present.
 * @param {Record<string, any>} e
 */
export function entryHashInput(e) {
  const o = {
    eventId: e.eventId, sequenceNumber: String(e.sequenceNumber), timestamp: e.timestamp, eventType: e.eventType,
    agentId: e.agentId, payload: e.payload, previousHash: e.previousHash,
  };
  if (e.tokenId !== undefined && e.tokenId !== null) o.tokenId = e.tokenId;
  return canonicalize(o);
}

/** @param {Record<string, any>} e @returns {Promise<string>} the entry's hash (hex) */
export const entryHash = (e) => sha256hex(entryHashInput(e));

/**
 * verifyEntries checks consecutive entries: each hash, and each
 * previousHash against the entry before (or 64 zeros for sequence 1).
 * @param {Array<Record<string, any>>} entries
 */
export async function verifyEntries(entries) {
  let prev = null;
  for (const e of entries) {
    if ((await entryHash(e)) !== e.hash) fail(`entry ${e.sequenceNumber}: hash does not match its content`);
    if (prev) {
      if (e.previousHash !== prev.hash || e.sequenceNumber !== prev.sequenceNumber + 1) fail(`entry ${e.sequenceNumber}: does not chain to ${prev.sequenceNumber}`);
    } else if (e.sequenceNumber === 1 && e.previousHash !== "0".repeat(64)) fail("entry 1: previousHash is not 64 zeros");
    prev = e;
  }
  return true;
}

/** RFC 6962 leaf hash of an entry hash (hex): sha256(0x00 ‖ raw). */
export async function leafHash(entryHashHex) {
  return sha256(concat(new Uint8Array([0]), unhex(entryHashHex)));
}

const node = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

/**
 * verifyInclusion checks an RFC 6962 inclusion proof of the entry with hash
 * entryHashHex at leafIndex in a tree of treeSize with root rootHashHex.
 * @param {string} entryHashHex @param {number} leafIndex @param {number} treeSize
 * @param {string[]} proof hex @param {string} rootHashHex
 */
export async function verifyInclusion(entryHashHex, leafIndex, treeSize, proof, rootHashHex) {
  if (!(leafIndex >= 0 && leafIndex < treeSize)) fail("leaf index outside the tree");
  let fn = BigInt(leafIndex), sn = BigInt(treeSize - 1);
  let r = await leafHash(entryHashHex);
  for (const p of proof) {
    const ph = unhex(p);
    if (sn === 0n) fail("inclusion proof too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await node(ph, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await node(r, ph);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail("inclusion proof too short");
  if (hex(r) !== rootHashHex) fail("inclusion proof does not lead to the root hash");
  return true;
}

/**
 * noteKeyHash is the 4-byte C2SP signed-note key hash of an Ed25519 key:
 * sha256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4].
 * @param {string} name @param {Uint8Array} pub
 */
export async function noteKeyHash(name, pub) {
  return (await sha256(concat(utf8(name + "\n"), new Uint8Array([1]), pub))).subarray(0, 4);
}

/**
 * verifierKey is the C2SP verifier key string of an Ed25519 key, as
 * /.well-known/sint.json publishes it: name+hex(keyhash)+base64(0x01 ‖ key).
 */
export async function verifierKey(name, pub) {
  return `${name}+${hex(await noteKeyHash(name, pub))}+${b64std(concat(new Uint8Array([1]), pub))}`;
}

/**
 * verifyCheckpoint checks a checkpoint {treeSize, rootHash, timestamp, kid,
 * note}: the note's signature line by the JWKS key `kid` under the key name
 * "sintgate/<gatewayId>", and that the note's body says origin, treeSize and
 * rootHash. With gatewayId given, the origin must be that gateway's.
 * @param {{treeSize: number, rootHash: string, kid: string, note: string}} cp
 * @param {{keys: any[]} | Map<string, Uint8Array>} jwks
 * @param {{gatewayId?: string}} [opts]
 */
export async function verifyCheckpoint(cp, jwks, opts = {}) {
  const keys = jwks instanceof Map ? jwks : jwksKeys(jwks);
  const pub = keys.get(cp.kid);
  if (!pub) fail(`checkpoint kid ${cp.kid} is not in the JWKS`);
  const sep = cp.note.indexOf("\n\n");
  if (sep < 0) fail("note has no signature block");
  const body = cp.note.slice(0, sep + 1);
  const lines = body.split("\n");
  if (lines.length !== 4 || lines[3] !== "") fail("note body is not three lines");
  const [origin, size, root] = lines;
  if (!origin.startsWith("sintgate/")) fail("note origin is not sintgate/<gatewayId>");
  if (opts.gatewayId !== undefined && origin !== "sintgate/" + opts.gatewayId) fail("note origin is another gateway's");
  if (size !== String(cp.treeSize)) fail("note tree size differs from the checkpoint's");
  if (hex(unb64std(root)) !== cp.rootHash) fail("note root hash differs from the checkpoint's");
  const want = await noteKeyHash(origin, pub);
  for (const line of cp.note.slice(sep + 2).split("\n")) {
    if (line === "") continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== origin) continue;
    const raw = unb64std(m[2]);
    if (raw.length !== 68 || !bytesEqual(raw.subarray(0, 4), want)) continue;
    if (await verifyEd25519(pub, raw.subarray(4), utf8(body))) return { origin, treeSize: cp.treeSize, rootHash: cp.rootHash };
  }
  fail("no valid signature by the checkpoint key on the note");
}

// verify.js: ledger evidence checked in the browser, with WebCrypto only.
//
//   entryHash(entry)            sha256(JCS({eventId, sequenceNumber as string, …}))  (PROTOCOL.md §9)
//   verifyInclusion(...)        RFC 6962 / RFC 9162 §2.1.3.2 inclusion path check
//   verifyNote(note, name, pub) C2SP signed note, Ed25519 (golang.org/x/mod/sumdb/note)
//   verifyProof(proof, jwks)    all of the above for a GET /v1/ledger/proof answer
//
// Pure functions over Uint8Array/strings; they run unchanged in Node (the e2e
// package tests them against a real gateway's proofs without a browser).

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-f]/.test(hex)) {
    throw new Error("not lowercase hex");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function b64ToBytes(s, url = false) {
  let t = s;
  if (url) t = t.replace(/-/g, "+").replace(/_/g, "/");
  while (t.length % 4) t += "=";
  const bin = atob(t);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

// jcs renders v as RFC 8785 canonical JSON. ECMAScript number formatting IS
// the JCS number format, and JS string order is UTF-16 code-unit order as
// JCS requires.
export function jcs(v) {
  if (v === null || typeof v === "boolean") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error("JCS: non-finite number");
    return JSON.stringify(v);
  }
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  if (typeof v === "object") {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
  }
  throw new Error("JCS: unsupported value");
}

// entryHash recomputes a ledger entry's hash (hex).
export async function entryHash(e) {
  const o = {
    eventId: e.eventId, sequenceNumber: String(e.sequenceNumber), timestamp: e.timestamp,
    eventType: e.eventType, agentId: e.agentId, payload: e.payload, previousHash: e.previousHash,
  };
  if (e.tokenId !== undefined && e.tokenId !== null && e.tokenId !== "") o.tokenId = e.tokenId;
  return bytesToHex(await sha256(enc.encode(jcs(o))));
}

export async function leafHash(data) {
  return sha256(concat(new Uint8Array([0]), data));
}

async function nodeHash(l, r) {
  return sha256(concat(new Uint8Array([1]), l, r));
}

// rootFromInclusion runs RFC 9162 §2.1.3.2 and returns the computed root,
// or throws when the path has the wrong shape for (index, size).
export async function rootFromInclusion(index, size, leaf, path) {
  if (!(index < size)) throw new Error("leaf index beyond tree size");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error("inclusion path too long");
    if ((fn & 1) === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("inclusion path too short");
  return r;
}

export async function verifyInclusion(index, size, leaf, path, root) {
  try {
    return equal(await rootFromInclusion(index, size, leaf, path), root);
  } catch {
    return false;
  }
}

// ed25519Supported reports whether this WebCrypto implements Ed25519.
export async function ed25519Supported() {
  try {
    await subtle.importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"]);
    return true;
  } catch {
    return false;
  }
}

// parseNote splits a C2SP signed note into its text and signature lines.
export function parseNote(note) {
  const i = note.lastIndexOf("\n\n");
  if (i < 0) throw new Error("note has no signature block");
  const text = note.slice(0, i + 1);
  const sigs = note.slice(i + 2).split("\n").filter((l) => l !== "").map((l) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(l);
    if (!m) throw new Error("malformed signature line");
    return { name: m[1], sig: b64ToBytes(m[2]) };
  });
  return { text, sigs };
}

// noteKeyHash is the 4-byte key hash of an Ed25519 note verifier key.
export async function noteKeyHash(name, pub) {
  const h = await sha256(concat(enc.encode(name + "\n"), new Uint8Array([1]), pub));
  return h.slice(0, 4);
}

// verifyNote checks that note carries a valid Ed25519 signature by key name
// with public key pub. Returns {ok, text, reason}.
export async function verifyNote(note, name, pub) {
  const { text, sigs } = parseNote(note);
  const kh = await noteKeyHash(name, pub);
  const s = sigs.find((x) => x.name === name && x.sig.length === 68 && equal(x.sig.slice(0, 4), kh));
  if (!s) return { ok: false, text, reason: "no signature by " + name + " with the JWKS key" };
  const key = await subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
  const ok = await subtle.verify({ name: "Ed25519" }, key, s.sig.slice(4), enc.encode(text));
  return { ok, text, reason: ok ? "" : "bad Ed25519 signature" };
}

// verifyProof checks a GET /v1/ledger/proof answer end to end against the
// gateway's JWKS. Each step reports {name, ok, detail}; ok overall only if
// every step passed. The Ed25519 step is "unsupported" (not ok, not failed)
// when the browser lacks WebCrypto Ed25519.
export async function verifyProof(p, jwks) {
  const steps = [];
  const step = (name, ok, detail = "") => steps.push({ name, ok, detail });
  const e = p.entry;
  const h = await entryHash(e);
  step("entry hash = sha256(JCS(entry))", h === e.hash, h);
  const leaf = await leafHash(hexToBytes(e.hash));
  step("leaf index = sequence − 1", p.leafIndex === e.sequenceNumber - 1, String(p.leafIndex));
  const cp = p.checkpoint;
  step("proof tree size = checkpoint tree size", p.treeSize === cp.treeSize, String(cp.treeSize));
  const path = p.inclusionProof.map(hexToBytes);
  let root = "";
  try { root = bytesToHex(await rootFromInclusion(p.leafIndex, p.treeSize, leaf, path)); } catch (err) { root = String(err.message); }
  step("RFC 6962 inclusion path → checkpoint root", root === cp.rootHash, root);
  // The note body must state the same tree.
  const lines = cp.note.split("\n");
  const origin = lines[0];
  const bodyOK = lines[1] === String(cp.treeSize) && lines[2] === btoa(String.fromCharCode(...hexToBytes(cp.rootHash)));
  step("note body = origin, tree size, root", bodyOK && origin.startsWith("sintgate/"), origin);
  const jwk = (jwks.keys || []).find((k) => k.kid === cp.kid);
  if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519") {
    step("checkpoint key in JWKS", false, "kid " + cp.kid + " not found");
    return { ok: false, steps, ed25519: false };
  }
  step("checkpoint key in JWKS", true, cp.kid);
  if (!(await ed25519Supported())) {
    steps.push({ name: "Ed25519 note signature", ok: null, detail: "this browser's WebCrypto has no Ed25519: signature NOT checked" });
    return { ok: false, steps, ed25519: false };
  }
  const r = await verifyNote(cp.note, origin, b64ToBytes(jwk.x, true));
  step("Ed25519 note signature (WebCrypto)", r.ok, r.reason || origin);
  return { ok: steps.every((s) => s.ok === true), steps, ed25519: true };
}

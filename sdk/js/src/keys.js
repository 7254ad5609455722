// Ed25519 keys through WebCrypto (globalThis.crypto.subtle), in the key-file
// format of `sintctl keys gen` (internal/keyfile):
//
//   {"publicKey":"<64 hex>","privateKey":"<128 hex: 32-byte seed ‖ 32-byte public key>"}\n
//
// An agent's id is its public key in lowercase hex (docs/protocol.md §1).

import { b64url, unb64url, hex, unhex, bytesEqual } from "./encoding.js";
import { SintError } from "./errors.js";

const ALG = { name: "Ed25519" };
const subtle = () => globalThis.crypto.subtle;

/** An Ed25519 key pair: signs agent requests, tokens, e-stop trips. */
export class Key {
  /** @param {CryptoKey} privateKey @param {Uint8Array} seed @param {Uint8Array} publicKey */
  constructor(privateKey, seed, publicKey) {
    // The private halves are not enumerable: console.log(key) and
    // JSON.stringify(key) never show them.
    Object.defineProperty(this, "_priv", { value: privateKey });
    Object.defineProperty(this, "_seed", { value: seed });
    /** The raw 32-byte public key. */
    this.publicKey = publicKey;
    /** The public key as 64 lowercase hex characters: the agentId. */
    this.agentId = hex(publicKey);
    Object.freeze(this);
  }

  /** A fresh random key pair. @returns {Promise<Key>} */
  static async generate() {
    const kp = await subtle().generateKey(ALG, true, ["sign", "verify"]);
    const jwk = await subtle().exportKey("jwk", kp.privateKey);
    return Key.fromSeed(unb64url(jwk.d));
  }

  /**
   * The key pair of a 32-byte Ed25519 seed (RFC 8032 private key).
   * @param {Uint8Array|string} seed bytes or 64 hex characters
   * @returns {Promise<Key>}
   */
  static async fromSeed(seed) {
    const s = typeof seed === "string" ? unhex(seed) : seed;
    if (s.length !== 32) throw new SintError("KEY_INVALID", "an Ed25519 seed is 32 bytes");
    // WebCrypto imports an Ed25519 private key only as PKCS#8 or JWK, and a
    // JWK needs x; derive it by importing the PKCS#8 form and exporting JWK.
    const pkcs8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...s]);
    const tmp = await subtle().importKey("pkcs8", pkcs8, ALG, true, ["sign"]);
    const jwk = await subtle().exportKey("jwk", tmp);
    const pub = unb64url(jwk.x);
    const priv = await subtle().importKey("jwk", { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x }, ALG, false, ["sign"]);
    return new Key(priv, Uint8Array.from(s), pub);
  }

  /**
   * Parses key-file JSON (exactly the members publicKey and privateKey) and
   * checks that the public key is the one the seed derives.
   * @param {string} text
   * @returns {Promise<Key>}
   */
  static async fromKeyFileJSON(text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch (e) {
      throw new SintError("KEY_INVALID", `key file is not JSON: ${e.message}`);
    }
    if (f === null || typeof f !== "object" || Array.isArray(f)) throw new SintError("KEY_INVALID", "key file is not a JSON object");
    const extra = Object.keys(f).filter((k) => k !== "publicKey" && k !== "privateKey");
    if (extra.length) throw new SintError("KEY_INVALID", `key file has unknown member ${JSON.stringify(extra[0])}`);
    if (typeof f.privateKey !== "string" || !/^[0-9a-fA-F]{128}$/.test(f.privateKey)) {
      throw new SintError("KEY_INVALID", "privateKey must be 128 hex characters (64-byte Ed25519 private key)");
    }
    if (typeof f.publicKey !== "string" || !/^[0-9a-fA-F]{64}$/.test(f.publicKey)) {
      throw new SintError("KEY_INVALID", "publicKey must be 64 hex characters");
    }
    const priv = unhex(f.privateKey);
    const k = await Key.fromSeed(priv.subarray(0, 32));
    if (!bytesEqual(k.publicKey, priv.subarray(32)) || !bytesEqual(k.publicKey, unhex(f.publicKey))) {
      throw new SintError("KEY_INVALID", "publicKey does not match privateKey");
    }
    return k;
  }

  /** The key-file JSON, byte for byte what `sintctl keys gen` writes. */
  toKeyFileJSON() {
    return JSON.stringify({ publicKey: this.agentId, privateKey: hex(this._seed) + this.agentId }) + "\n";
  }

  /** The public key as a JWK (for tools that want one). */
  publicJwk() {
    return { kty: "OKP", crv: "Ed25519", x: b64url(this.publicKey) };
  }

  /**
   * Ed25519 signature (64 bytes) of data.
   * @param {Uint8Array} data
   * @returns {Promise<Uint8Array>}
   */
  async sign(data) {
    return new Uint8Array(await subtle().sign(ALG, this._priv, data));
  }
}

/**
 * verifyEd25519 checks an Ed25519 signature with a raw 32-byte public key.
 * @param {Uint8Array} publicKey @param {Uint8Array} sig @param {Uint8Array} data
 * @returns {Promise<boolean>}
 */
export async function verifyEd25519(publicKey, sig, data) {
  if (publicKey.length !== 32 || sig.length !== 64) return false;
  try {
    const k = await subtle().importKey("raw", publicKey, ALG, false, ["verify"]);
    return await subtle().verify(ALG, k, sig, data);
  } catch {
    return false;
  }
}

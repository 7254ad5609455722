// Byte encodings of the wire protocol (docs/protocol.md §1): base64url
// without padding (strict: no padding, no stray bits), lowercase hex, UTF-8.

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function encode64(bytes, alphabet, pad) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + (pad ? "=" : "");
  }
  return out;
}

function decode64(s, alphabet) {
  if (s.length % 4 === 1) throw new TypeError("base64: bad length");
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0, acc = 0, o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = alphabet.indexOf(s[i]);
    if (v < 0) throw new TypeError("base64: bad character");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Strict: the unused low bits of the last character must be zero, so that
  // one byte string has exactly one encoding.
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new TypeError("base64: non-zero trailing bits");
  return out.subarray(0, o);
}

/** @param {Uint8Array} bytes @returns {string} base64url without padding */
export const b64url = (bytes) => encode64(bytes, B64URL, false);
/** @param {string} s strict base64url without padding @returns {Uint8Array} */
export const unb64url = (s) => decode64(s, B64URL);
/** @param {Uint8Array} bytes @returns {string} standard base64 with padding */
export const b64std = (bytes) => encode64(bytes, B64, true);
/** @param {string} s standard base64 with padding @returns {Uint8Array} */
export function unb64std(s) {
  if (s.length % 4 !== 0) throw new TypeError("base64: bad length");
  const body = s.replace(/={1,2}$/, "");
  return decode64(body, B64);
}

/** @param {Uint8Array} bytes @returns {string} lowercase hex */
export function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** @param {string} s hex (either case) @returns {Uint8Array} */
export function unhex(s) {
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new TypeError("hex: not an even-length hex string");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
/** @param {string} s @returns {Uint8Array} */
export const utf8 = (s) => enc.encode(s);
/** @param {Uint8Array} b @returns {string} (throws on invalid UTF-8) */
export const fromUtf8 = (b) => dec.decode(b);

/** @param {Uint8Array|string} data @returns {Promise<Uint8Array>} */
export async function sha256(data) {
  const b = typeof data === "string" ? utf8(data) : data;
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", b));
}

/** @param {Uint8Array|string} data @returns {Promise<string>} lowercase hex SHA-256 */
export async function sha256hex(data) {
  return hex(await sha256(data));
}

/** @param {Uint8Array} a @param {Uint8Array} b */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** @param {...Uint8Array} parts */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** A UUIDv7 (RFC 9562), lowercase and hyphenated. */
export function uuidv7() {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A UUIDv4, lowercase and hyphenated. */
export const uuidv4 = () => globalThis.crypto.randomUUID();

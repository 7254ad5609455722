// RFC 8785 JSON Canonicalization Scheme (JCS), as the gateway computes
// paramsHash = sha256(JCS(params)) (docs/protocol.md §7) and ledger hashes
// (§10.1).
//
// JCS is defined in terms of ECMAScript's own JSON serialisation, so in
// JavaScript it is exact by construction: numbers use Number.prototype
// toString (shortest round-trip form, exponent from 1e21 and below 1e-6,
// -0 as 0), strings use JSON.stringify's escaping (\b \t \n \f \r \" \\
// and \u00xx for other controls, lowercase hex, everything else literal),
// and object members are sorted by their UTF-16 code units, which is what
// Array.prototype.sort does with no comparator.
//
// Unlike JSON.stringify, canonicalize refuses what it cannot represent
// faithfully instead of silently changing it: non-finite numbers, undefined,
// functions, symbols, bigints, lone UTF-16 surrogates, cycles, nesting
// deeper than 32 (the gateway's limit) and objects that are not plain
// objects or arrays (a Date, a Map: their JSON form would not be what the
// caller holds). The SDK sends exactly these canonical bytes as params, so
// what the gateway hashes is what the caller hashed.

/** Maximum nesting the gateway accepts in a body (docs/protocol.md §1). */
export const MAX_DEPTH = 32;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * canonicalize returns the RFC 8785 form of a JSON value.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalize(value) {
  const parts = [];
  write(value, parts, 0, new Set(), "$");
  return parts.join("");
}

function write(v, out, depth, seen, path) {
  switch (typeof v) {
    case "boolean":
      out.push(v ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`jcs: ${path} is not a finite number`);
      out.push(JSON.stringify(v)); // ES Number::toString; -0 becomes 0
      return;
    case "string":
      if (LONE_SURROGATE.test(v)) throw new TypeError(`jcs: ${path} has a lone UTF-16 surrogate`);
      out.push(JSON.stringify(v));
      return;
    case "object":
      break;
    default:
      throw new TypeError(`jcs: ${path} is a ${typeof v}, not a JSON value`);
  }
  if (v === null) {
    out.push("null");
    return;
  }
  if (depth >= MAX_DEPTH) throw new TypeError(`jcs: ${path} nests deeper than ${MAX_DEPTH}`);
  if (seen.has(v)) throw new TypeError(`jcs: ${path} is a cycle`);
  seen.add(v);
  if (Array.isArray(v)) {
    out.push("[");
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(",");
      write(v[i], out, depth + 1, seen, `${path}[${i}]`);
    }
    out.push("]");
  } else {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`jcs: ${path} is not a plain object (${proto?.constructor?.name ?? "unknown"})`);
    }
    const keys = Object.keys(v).sort(); // UTF-16 code-unit order
    out.push("{");
    keys.forEach((k, i) => {
      if (LONE_SURROGATE.test(k)) throw new TypeError(`jcs: a key of ${path} has a lone UTF-16 surrogate`);
      if (i > 0) out.push(",");
      out.push(JSON.stringify(k), ":");
      write(v[k], out, depth + 1, seen, `${path}.${k}`);
    });
    out.push("}");
  }
  seen.delete(v);
}

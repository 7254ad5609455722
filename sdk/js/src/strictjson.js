// A strict JSON reader for signed material (tokens, attestations): what
// JSON.parse accepts, minus duplicate member names (also when spelled with
// escapes) and nesting deeper than 32 — the gateway refuses both, so the SDK
// must not read such a token differently from the gateway.

import { MAX_DEPTH } from "./jcs.js";

/**
 * strictParse parses JSON text, throwing SyntaxError on a duplicate member
 * name at any level or nesting deeper than maxDepth.
 * @param {string} text @param {number} [maxDepth]
 */
export function strictParse(text, maxDepth = MAX_DEPTH) {
  const v = JSON.parse(text); // syntax, trailing data, escapes
  let i = 0;
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const str = () => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (depth) => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= maxDepth) throw new SyntaxError(`JSON nests deeper than ${maxDepth}`);
      i++;
      ws();
      const close = c === "{" ? "}" : "]";
      const names = new Set();
      if (text[i] === close) { i++; return; }
      for (;;) {
        if (c === "{") {
          ws();
          const k = str();
          if (names.has(k)) throw new SyntaxError(`duplicate member ${JSON.stringify(k)}`);
          names.add(k);
          ws();
          i++; // ':'
        }
        value(depth + 1);
        ws();
        if (text[i++] === close) return;
      }
    } else if (c === '"') str();
    else while (i < text.length && !",]} \t\n\r".includes(text[i])) i++;
  };
  value(0);
  return v;
}

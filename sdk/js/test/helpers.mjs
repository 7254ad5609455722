// Shared test helpers: the byte examples of docs/protocol.md, read the way
// docs/protocoltest reads them (the fenced block after `<!-- example: NAME -->`).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const sdkRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = path.resolve(sdkRoot, "../..");

/** @returns {Record<string, string>} every example block of docs/protocol.md by name */
export function protocolExamples() {
  const doc = fs.readFileSync(path.join(repoRoot, "docs/protocol.md"), "utf8");
  const out = {};
  let name = null, inBlock = false, buf = [];
  for (const line of doc.split("\n")) {
    if (inBlock) {
      if (line === "```") {
        if (name in out) throw new Error(`example ${name} appears twice`);
        out[name] = buf.join("\n");
        inBlock = false; name = null; buf = [];
      } else buf.push(line);
      continue;
    }
    const m = /^<!-- example: ([a-z0-9-]+) -->$/.exec(line);
    if (m) { name = m[1]; continue; }
    if (name && line.startsWith("```")) { inBlock = true; continue; }
  }
  if (inBlock) throw new Error(`example ${name} has no closing fence`);
  return out;
}

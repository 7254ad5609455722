// The TypeScript declarations (src/index.d.ts) compile and describe the API:
// tsc --noEmit on a TypeScript consumer (test/types/consumer.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { sdkRoot } from "./helpers.mjs";

test("types: a TypeScript agent compiles against index.d.ts", () => {
  const tsc = path.join(sdkRoot, "node_modules/typescript/bin/tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(sdkRoot, "test/types/tsconfig.json")], { encoding: "utf8" });
  } catch (e) {
    assert.fail("tsc: " + e.stdout + e.stderr);
  }
});

// Lints gateway/server/openapi.json with Redocly's CLI (redocly.yaml and
// .redocly.lint-ignore.yaml here) and fails on any error or warning:
// `redocly lint` alone exits 0 when there are only warnings.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const doc = process.argv[2] ?? join(here, "..", "..", "gateway", "server", "openapi.json");
const redocly = join(here, "node_modules", ".bin", "redocly");
const run = (format) =>
  spawnSync(redocly, ["lint", "--config", join(here, "redocly.yaml"), `--format=${format}`, doc], {
    cwd: here,
    encoding: "utf8",
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
  });

const res = run("json");
let totals;
try {
  totals = JSON.parse(res.stdout).totals;
} catch {
  process.stderr.write(res.stdout + res.stderr);
  console.error(`openapi lint: redocly did not answer JSON (exit ${res.status})`);
  process.exit(2);
}
if (totals.errors + totals.warnings > 0) {
  const human = run("stylish");
  process.stderr.write(human.stdout + human.stderr);
  console.error(`openapi lint: ${totals.errors} errors, ${totals.warnings} warnings (must be 0 and 0)`);
  process.exit(1);
}
console.log(`openapi lint: ${doc}: 0 errors, 0 warnings, ${totals.ignored} ignored with a reason in .redocly.lint-ignore.yaml`);

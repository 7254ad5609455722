// A real gateway for the integration tests: sint-gateway built from this
// checkout with the race detector (or SINT_GATEWAY_BIN / SINTCTL_BIN when the
// Makefile built them), initialised in a temp data dir (embedded store) and
// served on a free loopback port. sintctl is the real CLI binary. stop()
// fails when the gateway did not drain cleanly or reported a data race.

import { spawn, execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./helpers.mjs";

const run = promisify(execFile);

// The gateway reads SINT_STORE, SINT_REDIS, SINT_POLICY, … from the
// environment: the test gateway gets none of the caller's, so it is always
// the embedded store with the default policy.
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SINT_")));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export class Gateway {
  static async start() {
    const g = new Gateway();
    g.dir = fs.mkdtempSync(path.join(os.tmpdir(), "sint-sdk-js-"));
    g.bin = process.env.SINT_GATEWAY_BIN || path.join(g.dir, "sint-gateway");
    g.sintctlBin = process.env.SINTCTL_BIN || path.join(g.dir, "sintctl");
    if (!process.env.SINT_GATEWAY_BIN) execFileSync("go", ["build", "-race", "-o", g.bin, "./cmd/sint-gateway"], { cwd: repoRoot, stdio: "inherit" });
    if (!process.env.SINTCTL_BIN) execFileSync("go", ["build", "-race", "-o", g.sintctlBin, "./cmd/sintctl"], { cwd: repoRoot, stdio: "inherit" });
    const data = path.join(g.dir, "data");
    const init = JSON.parse(execFileSync(g.bin, ["init", "--data-dir", data, "--json"], { env: cleanEnv() }).toString());
    g.adminKey = init.adminApiKey;
    const port = await freePort();
    g.url = `http://127.0.0.1:${port}`;
    g.logPath = path.join(g.dir, "gateway.log");
    g.log = fs.openSync(g.logPath, "a");
    g.proc = spawn(g.bin, ["serve", "--data-dir", data, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], { stdio: ["ignore", g.log, g.log], env: cleanEnv() });
    g.exited = new Promise((r) => g.proc.on("exit", r));
    for (let i = 0; i < 400; i++) {
      try { if ((await fetch(g.url + "/health/ready")).ok) break; } catch { /* not yet */ }
      if (g.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const meta = await fetch(g.url + "/.well-known/sint.json").then((r) => r.json()).catch(() => null);
    if (!meta) throw new Error("gateway did not start; log:\n" + fs.readFileSync(g.logPath, "utf8"));
    g.gatewayId = meta.gatewayId;
    return g;
  }

  /**
   * stop sends SIGTERM, waits for the drain and removes the data dir. It
   * throws when the gateway did not exit 0 within 10 s or its log holds a
   * race report (the detector keeps running after one; the exit is then 66).
   */
  async stop() {
    let problem = "";
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      const done = await Promise.race([this.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10000))]);
      if (!done) { this.proc.kill("SIGKILL"); problem = "the gateway did not exit within 10 s of SIGTERM"; }
    }
    if (!problem && this.proc.exitCode !== 0) problem = `gateway exit status ${this.proc.exitCode} (signal ${this.proc.signalCode})`;
    fs.closeSync(this.log);
    const log = fs.readFileSync(this.logPath, "utf8");
    if (log.includes("WARNING: DATA RACE")) problem = (problem ? problem + "; " : "") + "the race detector reported a race";
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (problem) throw new Error(problem + "; gateway log:\n" + log);
  }

  /** op calls an operator endpoint with the admin key. */
  async op(method, p, body) {
    const res = await fetch(this.url + p, {
      method, headers: { Authorization: "Bearer " + this.adminKey, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** sintctl runs the real CLI against this gateway with the admin key. */
  async sintctl(...args) {
    const { stdout } = await run(this.sintctlBin, args, { env: { ...cleanEnv(), SINT_URL: this.url, SINT_API_KEY: this.adminKey }, cwd: this.dir });
    return stdout;
  }
}

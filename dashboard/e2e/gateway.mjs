// gateway.mjs: starts a real sint-gateway for the browser tests and plays
// the agent side (Ed25519 keys, capability tokens, signed intercepts) with
// node:crypto only.

import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../..");

const b64url = (b) => Buffer.from(b).toString("base64url");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// uuidv7 returns a UUIDv7 string.
export function uuidv7() {
  const b = crypto.randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Key is an Ed25519 key pair; hex is the 64-char public key (= agent id).
export class Key {
  constructor() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
    this.priv = privateKey;
    this.hex = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url").toString("hex");
  }
  sign(bytes) { return crypto.sign(null, Buffer.from(bytes), this.priv); }
}

// signToken builds a compact JWS capability token (PROTOCOL.md §3).
export function signToken(issuer, claims) {
  const header = b64url(JSON.stringify({ alg: "EdDSA", typ: "sint-cap+jwt" }));
  const payload = b64url(JSON.stringify(claims));
  const input = `${header}.${payload}`;
  return `${input}.${b64url(issuer.sign(input))}`;
}

// raceBuild reports whether the Go binary at bin was built with -race.
export function raceBuild(bin) {
  const info = execFileSync("go", ["version", "-m", bin]).toString();
  return /^\s*build\s+-race=true\s*$/m.test(info);
}

export class Gateway {
  // start builds cmd/sint-gateway with the race detector, initialises a
  // temp data dir and serves it on a free loopback port. stop() fails when
  // the detector reported a race or the gateway did not exit cleanly, so
  // the browser tests hold the gateway to what `go test -race` does.
  static async start() {
    const g = new Gateway();
    g.dir = fs.mkdtempSync(path.join(os.tmpdir(), "sint-dash-e2e-"));
    // SINT_GATEWAY_BIN: a prebuilt binary (else built from this checkout);
    // either way it must have been built with -race (raceBuild).
    let bin = process.env.SINT_GATEWAY_BIN || "";
    if (!bin) {
      bin = path.join(g.dir, "sint-gateway");
      execFileSync("go", ["build", "-race", "-o", bin, "./cmd/sint-gateway"], { cwd: repoRoot, stdio: "inherit" });
    }
    g.bin = bin;
    if (!raceBuild(bin)) {
      fs.rmSync(g.dir, { recursive: true, force: true });
      throw new Error(`${bin} was not built with -race (go version -m shows no -race=true)`);
    }
    const init = JSON.parse(execFileSync(bin, ["init", "--data-dir", path.join(g.dir, "data"), "--json"]).toString());
    g.adminKey = init.adminApiKey;
    const port = await freePort();
    g.url = `http://127.0.0.1:${port}`;
    g.log = fs.openSync(path.join(g.dir, "gateway.log"), "a");
    g.proc = spawn(bin, ["serve", "--data-dir", path.join(g.dir, "data"), "--listen", `127.0.0.1:${port}`, "--log-level", "warn"],
      { stdio: ["ignore", g.log, g.log] });
    g.exited = new Promise((r) => g.proc.on("exit", r));
    for (let i = 0; i < 200; i++) {
      try { if ((await fetch(g.url + "/health")).ok) return g; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("gateway did not start; log: " + fs.readFileSync(path.join(g.dir, "gateway.log"), "utf8"));
  }

  // stop sends SIGTERM and waits for the drain. It throws (after cleaning
  // up) when the gateway did not exit 0 within 10 s or its log holds a race
  // report: the race detector keeps running after a report and makes the
  // exit status 66.
  async stop() {
    let problem = "";
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 10000))]);
    }
    if (this.proc && this.proc.exitCode !== 0) {
      problem = `gateway exit status ${this.proc.exitCode} (signal ${this.proc.signalCode})`;
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    }
    fs.closeSync(this.log);
    const log = fs.readFileSync(path.join(this.dir, "gateway.log"), "utf8");
    if (log.includes("WARNING: DATA RACE")) problem = (problem ? problem + "; " : "") + "the race detector reported a race";
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (problem) throw new Error(problem + "; gateway log:\n" + log);
  }

  // op calls an operator endpoint with the admin key.
  async op(method, p, body) {
    const res = await fetch(this.url + p, {
      method, headers: { Authorization: "Bearer " + this.adminKey, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  // agent sends an agent-signed call (PROTOCOL.md §4).
  async agent(key, p, fields) {
    const ts = Date.now();
    const body = JSON.stringify({ agentId: key.hex, requestId: uuidv7(), timestamp: ts, ...fields });
    const res = await fetch(this.url + p, {
      method: "POST", body,
      headers: { "Content-Type": "application/json", "X-Agent-Id": key.hex, "X-Agent-Timestamp": String(ts), "X-Agent-Sig": b64url(key.sign(body)) },
    });
    return { status: res.status, body: await res.json() };
  }

  intercept(key, tokenId, resource, action, params = {}) {
    return this.agent(key, "/v1/intercept", { tokenId, resource, action, params });
  }

  // setupAgent trusts a root, issues a root token to an agent and a
  // delegated child token to a second agent.
  async setupAgents() {
    const root = new Key(), agent = new Key(), helper = new Key();
    let r = await this.op("POST", "/v1/roots", { publicKey: root.hex, name: "e2e-root" });
    if (r.status >= 300) throw new Error("add root: " + JSON.stringify(r));
    const now = Date.now();
    const base = { constraints: { maxVelocityMps: 1.0 }, issuedAt: now, expiresAt: now + 3600e3, revocable: true };
    const rootTok = { tokenId: uuidv7(), issuer: root.hex, subject: agent.hex, resource: "ros:///**", actions: ["publish", "read", "subscribe", "estop"],
      tier: 5, delegationChain: [root.hex], parentTokenId: null, nonce: crypto.randomUUID(), ...base };
    r = await this.op("POST", "/v1/tokens", { token: signToken(root, rootTok) });
    if (r.status !== 201) throw new Error("register root token: " + JSON.stringify(r));
    const childTok = { tokenId: uuidv7(), issuer: agent.hex, subject: helper.hex, resource: "ros:///sensors/**", actions: ["read"],
      tier: 2, delegationChain: [root.hex, agent.hex], parentTokenId: rootTok.tokenId, nonce: crypto.randomUUID(), ...base, expiresAt: now + 1800e3 };
    r = await this.op("POST", "/v1/tokens", { token: signToken(agent, childTok) });
    if (r.status !== 201) throw new Error("register child token: " + JSON.stringify(r));
    return { root, agent, helper, tokenId: rootTok.tokenId, childTokenId: childTok.tokenId };
  }
}

#!/usr/bin/env node
// A runnable example agent for a gateway started with `make run`.
//
//   SINT_URL        gateway URL              (default http://127.0.0.1:8080)
//   SINT_AGENT_KEY  the agent's key file     (default agent.key, from `sintctl keys gen`)
//   SINT_TOKEN      the agent's token file   (default agent.jws, from `sintctl token issue`)
//
// It wraps three robot actions with `guarded`: each runs only after the
// gateway allowed it and the allow's attestation verified offline for
// exactly the params the action receives.
//   1. read the laser scan            → allow (tier 1)
//   2. drive at 0.9 m/s               → deny PHYSICS_CONSTRAINT (the token allows 0.5 m/s)
//   3. drive at 0.3 m/s               → escalate (tier 3): approve it with sintctl, then it runs

import fs from "node:fs";
import { Agent, loadKey, guarded, DeniedError } from "@sintgate/sdk";

const url = process.env.SINT_URL ?? "http://127.0.0.1:8080";
const key = await loadKey(process.env.SINT_AGENT_KEY ?? "agent.key");
const token = fs.readFileSync(process.env.SINT_TOKEN ?? "agent.jws", "utf8").trim();
const agent = new Agent({ baseUrl: url, key });
console.log(`agent ${agent.agentId} → ${url}`);

// The robot side (here: prints). They receive the attested, frozen params.
const readScan = guarded(agent, { token, resource: "ros:///scan", action: "subscribe" },
  async (params, { claims }) => `scan read (tier ${claims.tier}, ledger #${claims.ledgerSeq})`);
/** @typedef {{linear: {x: number, y: number, z: number}, angular: {x: number, y: number, z: number}}} Twist */
const drive = guarded(agent, { token, resource: "ros:///cmd_vel", action: "publish", approvalTimeoutMs: 120_000 },
  /** @param {Twist} params */
  async (params, { claims, envelope }) => `driving at ${params.linear.x} m/s (tier ${claims.tier}, envelope ${JSON.stringify(envelope)})`);

console.log("1.", await readScan({}));

try {
  await drive({ linear: { x: 0.9, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } });
  console.log("2. unexpected: too fast was allowed");
  process.exitCode = 1;
} catch (e) {
  if (!(e instanceof DeniedError)) throw e;
  console.log(`2. denied ${e.code}: ${e.reason}`);
}

// An escalation: the agent waits; an operator approves in another terminal.
let shown = false;
agent.onAttempt = ({ path }) => {
  const m = /^\/v1\/approvals\/([^/]+)\/wait$/.exec(path);
  if (m && !shown) {
    shown = true;
    console.log(`   waiting for approval ${m[1]}: run  bin/sintctl approvals approve ${m[1]} --reason ok`);
  }
};
console.log("3.", await drive({ linear: { x: 0.3, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } }));

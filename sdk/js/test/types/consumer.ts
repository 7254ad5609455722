// Compiled with tsc --noEmit by types.test.mjs: the declarations describe
// what an agent written in TypeScript uses, and reject misuse.
import { Agent, Key, guarded, issueToken, delegateToken, verifyAttestation, DeniedError, type AllowResult, type EscalateResult } from "@sintgate/sdk";

async function main(): Promise<void> {
  const root = await Key.generate();
  const key = await Key.fromKeyFileJSON("{}");
  const tok = await issueToken(root, { subject: key.agentId, resource: "ros:///**", actions: ["publish"], tier: 3, constraints: { maxVelocityMps: 0.5 } });
  const child = await delegateToken(key, tok, { subject: root.agentId, tier: 2 });
  const agent = new Agent({ baseUrl: "http://127.0.0.1:8080", key, gatewayId: "gw" });
  const d: AllowResult | EscalateResult = await agent.intercept({ token: child.raw, resource: "ros:///cmd_vel", action: "publish", params: { linear: { x: 0.1 } } });
  if (d.decision === "escalate") {
    const ok = await agent.waitForApproval(d);
    const n: number = ok.claims.ledgerSeq;
    void n;
  } else {
    const att: string = d.attestation;
    void att;
  }
  const drive = guarded(agent, { tokenId: tok.claims.tokenId, resource: "ros:///cmd_vel", action: "publish" },
    async (p: { linear: { x: number } }, ctx) => `${p.linear.x} ${ctx.claims.tier}`);
  const s: string = await drive({ linear: { x: 0.2 } });
  void s;
  try { await agent.tripEstop("stop"); } catch (e) { if (e instanceof DeniedError) { const c: string = e.code; void c; } }
  await verifyAttestation("a.b.c", { keys: [] }, { agentId: key.agentId, resource: "r", action: "a", params: null });
  // @ts-expect-error tier must be a number
  await issueToken(root, { subject: key.agentId, resource: "ros:///**", actions: ["publish"], tier: "3" });
  // @ts-expect-error an expectation needs agentId, resource and action
  await verifyAttestation("a.b.c", { keys: [] }, { params: {} });
}
void main;

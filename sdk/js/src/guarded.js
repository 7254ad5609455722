// guarded: wrap any action so that it runs only after the gateway allowed
// it and the allow's attestation verified for exactly these params.

import { EscalationPendingError } from "./errors.js";

/**
 * guarded returns an async function (params) => result that an LLM agent
 * framework can register as a tool. Each call:
 *
 * 1. intercepts {resource, action, params} with the agent's token;
 * 2. on escalate, waits for the human approval (unless wait is false: then
 *    it throws EscalationPendingError carrying the approvalId);
 * 3. on deny, throws DeniedError (err.code is the deny code) — the action
 *    does not run;
 * 4. on allow, the attestation has already been verified offline for this
 *    agent, resource, action, requestId and params hash; only then does it
 *    call act(params, ctx), where params is the deep-frozen copy that was
 *    sent and attested (so the action cannot run on anything else), and
 *    ctx = {decision, claims, attestation, envelope}. Any failure to verify
 *    throws before act runs.
 *
 * resource and action may be functions of params (e.g. a topic chosen by
 * the model).
 *
 * @template R
 * @param {import("./client.js").Agent} agent
 * @param {{tokenId?: string, token?: string, chain?: string[],
 *   resource: string | ((p: any) => string), action: string | ((p: any) => string),
 *   wait?: boolean, approvalTimeoutMs?: number, retries?: number}} spec
 * @param {(params: any, ctx: {decision: any, claims: any, attestation: string, envelope: any}) => R | Promise<R>} act
 * @returns {(params?: Record<string, unknown>) => Promise<R>}
 */
export function guarded(agent, spec, act) {
  if (typeof act !== "function") throw new TypeError("guarded needs the action to run");
  return async function guardedAction(params = {}) {
    const resource = typeof spec.resource === "function" ? spec.resource(params) : spec.resource;
    const action = typeof spec.action === "function" ? spec.action(params) : spec.action;
    let d = await agent.intercept({ tokenId: spec.tokenId, token: spec.token, chain: spec.chain, resource, action, params }, { retries: spec.retries });
    if (d.decision === "escalate") {
      if (spec.wait === false) throw new EscalationPendingError(d);
      d = await agent.waitForApproval(d, { timeoutMs: spec.approvalTimeoutMs });
    }
    // intercept and waitForApproval return only verified allows; check anyway.
    if (d.decision !== "allow" || !d.claims || d.claims.paramsHash !== d.request.paramsHash) {
      throw new Error("sintgate: guarded: no verified allow (refusing to act)");
    }
    return act(d.request.params ?? Object.freeze({}), { decision: d, claims: d.claims, attestation: d.attestation, envelope: d.envelope });
  };
}

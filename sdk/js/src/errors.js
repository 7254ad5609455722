// Typed errors. Every error the SDK throws is a SintError with a stable
// `code`: the gateway's deny or error code (docs/protocol.md §5.2, §5.5)
// when the gateway answered, or one of the SDK's own codes below when the
// failure is local. A caller switches on `err.code`, never on messages.
//
// SDK-local codes: KEY_INVALID, TOKEN_INVALID (a token the SDK refuses to
// sign or parse), TRANSPORT (no usable answer after every retry),
// PROTOCOL_VIOLATION (an answer that breaks the contract, e.g. a decision
// for another requestId), APPROVAL_WAIT_TIMEOUT (the caller's wait budget
// ran out while the approval was still pending), JWKS_UNAVAILABLE, and the
// attestation reasons ATTESTATION_* (the same names as the gateway's
// verifier, gateway/attest).

/** Base class of every error the SDK throws. */
export class SintError extends Error {
  /**
   * @param {string} code stable code
   * @param {string} message
   * @param {{status?: number, requestId?: string|null, cause?: unknown}} [opts]
   */
  constructor(code, message, opts = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "SintError";
    /** Stable code. */
    this.code = code;
    /** HTTP status, when the gateway answered. */
    this.status = opts.status ?? 0;
    /** The requestId the answer was for, when known. */
    this.requestId = opts.requestId ?? null;
  }
}

/**
 * DeniedError: the gateway decided `deny` (or an approval resolved denied,
 * timed out or was cancelled). `code` is the deny code, `decision` the whole
 * decision body (with its ledger reference).
 */
export class DeniedError extends SintError {
  /** @param {Record<string, any>} decision @param {number} status */
  constructor(decision, status) {
    const code = typeof decision.code === "string" && decision.code ? decision.code : "INTERNAL_ERROR";
    super(code, `sintgate: denied ${code}${decision.reason ? ": " + decision.reason : ""}`, { status, requestId: decision.requestId ?? null });
    this.name = "DeniedError";
    this.reason = decision.reason ?? null;
    this.decision = decision;
  }
}

/** ApiError: an answer that is neither success nor a decision ({"error":{code,message}}). */
export class ApiError extends SintError {
  /** @param {number} status @param {string} code @param {string} message @param {string|null} [requestId] */
  constructor(status, code, message, requestId = null) {
    super(code || "HTTP_" + status, `sintgate: HTTP ${status}${code ? " " + code : ""}${message ? ": " + message : ""}`, { status, requestId });
    this.name = "ApiError";
  }
}

/** AttestationError: an attestation that must not be acted on. `code` is the ATTESTATION_* reason. */
export class AttestationError extends SintError {
  /** @param {string} reason @param {string} [claim] @param {string} [detail] */
  constructor(reason, claim = "", detail = "") {
    super(reason, `attestation rejected: ${reason}${claim ? " (" + claim + ")" : ""}${detail ? ": " + detail : ""}`);
    this.name = "AttestationError";
    this.claim = claim;
  }
}

/** AttenuationError: a delegation that would widen its parent; `field` names what widens. */
export class AttenuationError extends SintError {
  /** @param {string} field @param {string} detail */
  constructor(field, detail) {
    super("CONSTRAINT_VIOLATION", `child widens ${field}: ${detail}`);
    this.name = "AttenuationError";
    this.field = field;
  }
}

/** EscalationPendingError: a guarded action escalated and the caller chose not to wait. */
export class EscalationPendingError extends SintError {
  /** @param {Record<string, any>} decision */
  constructor(decision) {
    super("ESCALATION_PENDING", `sintgate: escalated to human approval ${decision.approvalId}`, { status: 202, requestId: decision.requestId ?? null });
    this.name = "EscalationPendingError";
    this.approvalId = decision.approvalId;
    this.decision = decision;
  }
}

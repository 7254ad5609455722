// Type declarations of the sintgate agent SDK (the implementation is plain
// ES modules with JSDoc; no build step). Wire contract: docs/protocol.md.

export type JSONValue = null | boolean | number | string | JSONValue[] | { [k: string]: JSONValue };
export type Params = { [k: string]: JSONValue };

// ---- errors -------------------------------------------------------------
export class SintError extends Error {
  constructor(code: string, message: string, opts?: { status?: number; requestId?: string | null; cause?: unknown });
  /** Stable code: a gateway deny/error code, or an SDK code (KEY_INVALID, TOKEN_INVALID, TRANSPORT, PROTOCOL_VIOLATION, APPROVAL_WAIT_TIMEOUT, JWKS_UNAVAILABLE, LEDGER_PROOF_INVALID, ESCALATION_PENDING, ATTESTATION_*). */
  readonly code: string;
  readonly status: number;
  readonly requestId: string | null;
}
export class DeniedError extends SintError {
  readonly reason: string | null;
  readonly decision: Decision;
}
export class ApiError extends SintError {}
export class AttestationError extends SintError { readonly claim: string }
export class AttenuationError extends SintError { readonly field: string }
export class EscalationPendingError extends SintError {
  readonly approvalId: string;
  readonly decision: EscalateResult;
}

// ---- keys ---------------------------------------------------------------
export class Key {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The public key in lowercase hex: the agentId. */
  readonly agentId: string;
  static generate(): Promise<Key>;
  static fromSeed(seed: Uint8Array | string): Promise<Key>;
  /** Key-file JSON as written by `sintctl keys gen`. */
  static fromKeyFileJSON(text: string): Promise<Key>;
  toKeyFileJSON(): string;
  publicJwk(): { kty: "OKP"; crv: "Ed25519"; x: string };
  sign(data: Uint8Array): Promise<Uint8Array>;
}
export function verifyEd25519(publicKey: Uint8Array, sig: Uint8Array, data: Uint8Array): Promise<boolean>;
/** Reads a key file (refused if group/other can access it). */
export function loadKey(path: string): Promise<Key>;
/** Writes a key file with mode 0600; never overwrites (EEXIST). */
export function saveKey(path: string, key: Key): Promise<void>;
export const MAX_KEY_FILE_BYTES: number;

// ---- tokens -------------------------------------------------------------
export interface Constraints {
  maxVelocityMps?: number; maxAngularVelocityRps?: number; maxAccelerationMps2?: number; maxJerkMps3?: number;
  maxForceNewtons?: number; maxTorqueNm?: number;
  geofence?: { frame: string; polygon: [number, number][] };
  timeWindow?: { start: number; end: number };
  maxRepetitions?: number;
  rateLimit?: { maxCalls: number; windowMs: number };
  requiresHumanPresence?: boolean;
  quorum?: { required: number; authorized: string[] };
}
export interface TokenClaims {
  tokenId: string; issuer: string; subject: string; resource: string; actions: string[]; constraints: Constraints;
  tier: number; issuedAt: number; expiresAt: number; notBefore?: number | null; delegationChain: string[];
  parentTokenId: string | null; nonce: string; revocable: boolean;
}
export interface Token { raw: string; claims: TokenClaims; depth: number }
export interface TokenOptions {
  resource: string; actions: string[]; tier: number; subject: string; constraints?: Constraints;
  ttlMs?: number; issuedAt?: number; expiresAt?: number; notBefore?: number; now?: number;
}
export const TOKEN_HEADER: string;
export function issueToken(rootKey: Key, opts: TokenOptions & { revocable?: boolean }): Promise<Token>;
export function delegateToken(key: Key, parent: string | Token, opts: Partial<TokenOptions> & { subject: string }): Promise<Token>;
export function signToken(key: Key, claims: TokenClaims): Promise<Token>;
export function parseToken(raw: string): Token;
export function verifyTokenSignature(token: string | Token): Promise<boolean>;
export function checkAttenuation(parent: TokenClaims, child: TokenClaims): void;
export function validateClaims(claims: TokenClaims): TokenClaims;
export function normalizeConstraints(c?: Constraints): Constraints;

// ---- attestations -------------------------------------------------------
export interface Jwks { keys: Array<{ kty: string; crv?: string; x?: string; kid?: string; use?: string; alg?: string }> }
export interface AttestationClaims {
  iss: string; sub: string; aud: string; act: string; jti: string; iat: number; exp: number; tokenId: string;
  tier: number; paramsHash: string; envelope: Record<string, JSONValue>; policyHash: string; ledgerSeq: number;
}
export interface Expect {
  agentId: string; resource: string; action: string;
  /** The params about to be executed (null: none) … */
  params?: Params | null;
  /** … or their hash. */
  paramsHash?: string;
  issuer?: string; requestId?: string; now?: number; skewSeconds?: number;
}
export function verifyAttestation(jws: string, jwks: Jwks | Map<string, Uint8Array>, want: Expect): Promise<AttestationClaims>;
export function jwksKeys(jwks: Jwks): Map<string, Uint8Array>;
export class JwksCache {
  constructor(opts?: { baseUrl?: string; jwks?: Jwks; fetch?: typeof fetch; minRefreshMs?: number });
  keys: Map<string, Uint8Array>;
  /** The JWKS last loaded, as received: store it to verify offline later. */
  jwks: Jwks | null;
  refresh(): Promise<void>;
  verify(jws: string, want: Expect): Promise<AttestationClaims>;
}
export function canonicalize(value: unknown): string;
export function paramsHash(params: Params | null | undefined): Promise<string>;

// ---- ledger -------------------------------------------------------------
export interface LedgerEntry {
  eventId: string; sequenceNumber: number; timestamp: string; eventType: string; agentId: string; tokenId?: string;
  payload: Record<string, JSONValue>; previousHash: string; hash: string;
}
export interface Checkpoint { treeSize: number; rootHash: string; timestamp: number; kid: string; note: string }
export function entryHashInput(e: LedgerEntry): string;
export function entryHash(e: LedgerEntry): Promise<string>;
export function verifyEntries(entries: LedgerEntry[]): Promise<true>;
export function verifyInclusion(entryHashHex: string, leafIndex: number, treeSize: number, proof: string[], rootHashHex: string): Promise<true>;
export function verifyCheckpoint(cp: Checkpoint, jwks: Jwks | Map<string, Uint8Array>, opts?: { gatewayId?: string }): Promise<{ origin: string; treeSize: number; rootHash: string }>;
export function verifierKey(name: string, publicKey: Uint8Array): Promise<string>;
export function noteKeyHash(name: string, publicKey: Uint8Array): Promise<Uint8Array>;

// ---- patterns -----------------------------------------------------------
export function match(pattern: string, resource: string): boolean;
export function contains(parent: string, child: string): boolean;
export function patternError(p: string): string | null;
export function resourceError(r: string): string | null;
export function validAction(a: string): boolean;
export function polygonContains(parent: [number, number][], child: [number, number][]): boolean;
export function polygonError(poly: unknown): string | null;

// ---- the agent ----------------------------------------------------------
export interface InterceptRequest {
  tokenId?: string; token?: string; chain?: string[];
  resource: string; action: string; params?: Params | null;
  physicalContext?: { humanDetected?: boolean; currentVelocityMps?: number; currentPosition?: { x: number; y: number } };
  recentActions?: string[];
}
export interface CallOptions { retries?: number; timeoutMs?: number }
/** The decision body of docs/protocol.md §5.2. */
export interface Decision {
  requestId: string | null; decision: "allow" | "deny" | "escalate"; tier: number; code: string | null; reason: string | null;
  approvalId: string | null; attestation: string | null; envelope: Record<string, JSONValue> | null;
  ledger: { eventId: string; sequence: number; hash: string } | null; policyHash: string | null;
  requiredApprovals?: number; expiresAt?: number;
}
export interface SentRequest { readonly requestId: string; readonly resource: string; readonly action: string; readonly params: Readonly<Params> | null; readonly paramsHash: string }
export interface InterceptResult extends Decision {
  status: number;
  request: SentRequest;
  /** Set on allow: the attestation's claims, verified. */
  claims?: AttestationClaims;
}
export interface AllowResult extends InterceptResult { decision: "allow"; attestation: string; claims: AttestationClaims }
export interface EscalateResult extends InterceptResult { decision: "escalate"; approvalId: string; attestation: null }
export class Agent {
  constructor(opts: {
    baseUrl: string; key: Key; jwks?: JwksCache | Jwks; gatewayId?: string; fetch?: typeof fetch;
    retries?: number; retryDelayMs?: number; timeoutMs?: number;
    onAttempt?: (a: { path: string; requestId: string; attempt: number }) => void;
  });
  readonly agentId: string;
  readonly baseUrl: string;
  readonly key: Key;
  jwks: JwksCache;
  gatewayId?: string;
  onAttempt?: (a: { path: string; requestId: string; attempt: number }) => void;
  /** allow (verified) or escalate; a deny throws DeniedError. */
  intercept(req: InterceptRequest, o?: CallOptions): Promise<AllowResult | EscalateResult>;
  waitForApproval(escalation: { approvalId: string; request: SentRequest }, o?: { timeoutMs?: number }): Promise<AllowResult>;
  decide(req: InterceptRequest, o?: CallOptions & { wait?: boolean; approvalTimeoutMs?: number }): Promise<AllowResult | EscalateResult>;
  verify(attestation: string, request: { requestId: string; resource: string; action: string; paramsHash: string }): Promise<AttestationClaims>;
  tripEstop(reason: string, o?: CallOptions): Promise<{ state: string; epoch: number; since: number; reason: string; sources: unknown[] }>;
  registerDelegation(token: string | Token, o?: CallOptions): Promise<{ tokenId: string; token: string; claims: TokenClaims }>;
  signedPost(path: string, fields: Record<string, unknown>, o?: { timeoutMs?: number; paramsJSON?: string; attempt?: number }): Promise<{ status: number; body: any; requestId: string }>;
  withRetries(path: string, fields: Record<string, unknown>, o?: CallOptions & { paramsJSON?: string }): Promise<{ status: number; body: any; requestId: string }>;
}
export interface GuardedContext { decision: AllowResult; claims: AttestationClaims; attestation: string; envelope: Record<string, JSONValue> | null }
export function guarded<P extends object = Params, R = unknown>(
  agent: Agent,
  spec: { tokenId?: string; token?: string; chain?: string[]; resource: string | ((p: P) => string); action: string | ((p: P) => string);
    wait?: boolean; approvalTimeoutMs?: number; retries?: number },
  act: (params: Readonly<P>, ctx: GuardedContext) => R | Promise<R>,
): (params?: P) => Promise<R>;

// ---- encodings ----------------------------------------------------------
export function uuidv7(): string;
export function b64url(bytes: Uint8Array): string;
export function unb64url(s: string): Uint8Array;
export function hex(bytes: Uint8Array): string;
export function unhex(s: string): Uint8Array;

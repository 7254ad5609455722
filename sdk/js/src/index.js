// sintgate agent SDK for JavaScript/TypeScript (ES module, Node ≥ 20, no
// runtime dependency; Ed25519 through WebCrypto). Wire contract:
// docs/protocol.md of the sintgate repository.

export { Key, verifyEd25519 } from "./keys.js";
export { loadKey, saveKey, MAX_KEY_FILE_BYTES } from "./keyfile.js";
export { Agent } from "./client.js";
export { guarded } from "./guarded.js";
export { issueToken, delegateToken, signToken, parseToken, verifyTokenSignature, checkAttenuation, validateClaims, normalizeConstraints, TOKEN_HEADER } from "./tokens.js";
export { verifyAttestation, JwksCache, jwksKeys } from "./attest.js";
export { canonicalize } from "./jcs.js";
export { paramsHash } from "./params.js";
export { entryHash, entryHashInput, verifyEntries, verifyInclusion, verifyCheckpoint, verifierKey, noteKeyHash } from "./ledger.js";
export { match, contains, patternError, resourceError, validAction } from "./pattern.js";
export { polygonContains, polygonError } from "./geofence.js";
export { SintError, DeniedError, ApiError, AttestationError, AttenuationError, EscalationPendingError } from "./errors.js";
export { uuidv7, b64url, unb64url, hex, unhex } from "./encoding.js";

import { canonicalize } from "./jcs.js";
import { sha256hex } from "./encoding.js";

/**
 * paramsHash is what an attestation's paramsHash claim must equal for a
 * command with these params: sha256(JCS(params)), where absent or null
 * params hash as {} (docs/protocol.md §7).
 * @param {Record<string, unknown> | null | undefined} params
 * @returns {Promise<string>} 64 lowercase hex characters
 */
export async function paramsHash(params) {
  return sha256hex(canonicalize(params == null ? {} : params));
}

import { createHmac, timingSafeEqual } from "node:crypto";
import { SignatureAlgorithm } from "../core/enums.js";
import { ConfigurationError } from "../core/errors.js";

const DIGESTS: Record<SignatureAlgorithm, { name: string; hexLength: number }> = {
  [SignatureAlgorithm.HMAC_SHA256]: { name: "sha256", hexLength: 64 },
  [SignatureAlgorithm.HMAC_SHA512]: { name: "sha512", hexLength: 128 },
};
const HEX = /^[0-9a-fA-F]+$/;

// An own-property lookup: a plain index would find Object.prototype members
// ("toString", "constructor", "__proto__") and hand them to createHmac.
function digestFor(algorithm: unknown): { name: string; hexLength: number } | undefined {
  return typeof algorithm === "string" && Object.hasOwn(DIGESTS, algorithm)
    ? DIGESTS[algorithm as SignatureAlgorithm]
    : undefined;
}

/**
 * The seed's payload signature, sent as `X-Webhook-Signature`: the lowercase
 * hex HMAC of the UTF-8 payload, keyed with the UTF-8 bytes of the secret.
 *
 * @example
 * const sig = WebhookSignature.sign(body, "s3cret");
 * WebhookSignature.verify(body, "s3cret", sig); // true
 */
export class WebhookSignature {
  static sign(payload: string, secret: string, algorithm: SignatureAlgorithm = SignatureAlgorithm.HMAC_SHA256): string {
    const digest = digestFor(algorithm);
    if (digest === undefined) {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        `unknown signature algorithm ${String(algorithm)}`,
      );
    }
    if (typeof secret !== "string" || secret.length === 0) {
      throw new ConfigurationError("HOOKLINE_SECRET_INVALID", "secret must be a non-empty string");
    }
    if (typeof payload !== "string") {
      throw new ConfigurationError("HOOKLINE_PAYLOAD_INVALID", "payload must be a string");
    }
    return createHmac(digest.name, secret).update(payload).digest("hex");
  }

  /**
   * Whether `signature` is the HMAC of `payload`, compared in constant time.
   * Returns false, never throws, for a wrong, truncated, empty or non-hex
   * signature and for unusable arguments.
   */
  static verify(
    payload: string,
    secret: string,
    signature: string,
    algorithm: SignatureAlgorithm = SignatureAlgorithm.HMAC_SHA256,
  ): boolean {
    const digest = digestFor(algorithm);
    if (digest === undefined || typeof payload !== "string" || typeof secret !== "string" || secret.length === 0) {
      return false;
    }
    if (typeof signature !== "string" || signature.length !== digest.hexLength || !HEX.test(signature)) {
      return false;
    }
    const expected = createHmac(digest.name, secret).update(payload).digest();
    return timingSafeEqual(expected, Buffer.from(signature, "hex"));
  }
}

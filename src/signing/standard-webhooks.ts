import { createHmac, sign as edSign, verify as edVerify, timingSafeEqual } from "node:crypto";
import { systemClock } from "../core/clock.js";
import { ConfigurationError, WebhookVerificationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import { parseSigningSecret, type SigningKey } from "./secrets.js";

/** Anything that carries request headers: a plain object (node:http) or a fetch `Headers`. */
export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface StandardWebhookOptions {
  /** Accepted distance, both ways, between `webhook-timestamp` and now. Default 300. */
  toleranceSeconds?: number;
  /** Source of "now" in milliseconds; `Date.now` by default. */
  now?: () => number;
}

const MAX_SIGNATURE_HEADER_LENGTH = 16 * 1024;
const MAX_ID_LENGTH = 1024;
const TIMESTAMP = /^\d{1,15}$/;
const HMAC_SHA256_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** The bytes signed by Standard Webhooks: `id.timestamp.payload`. */
function signedContent(msgId: string, timestampSeconds: number, payload: string | Uint8Array): Buffer | string {
  if (typeof payload === "string") return `${msgId}.${timestampSeconds}.${payload}`;
  return Buffer.concat([Buffer.from(`${msgId}.${timestampSeconds}.`), payload]);
}

/**
 * One signature entry (`v1,…` or `v1a,…`) for a parsed key. Exported for the
 * delivery path, which signs with every live secret during a rotation.
 */
export function signatureEntry(
  key: SigningKey,
  msgId: string,
  timestampSeconds: number,
  payload: string | Uint8Array,
): string {
  const content = signedContent(msgId, timestampSeconds, payload);
  if (key.kind === "hmac") {
    return `v1,${createHmac("sha256", key.key).update(content).digest("base64")}`;
  }
  if (key.privateKey === null) {
    throw new ConfigurationError("HOOKLINE_SECRET_INVALID", "a whpk_ public key can verify but not sign");
  }
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return `v1a,${edSign(null, bytes, key.privateKey).toString("base64")}`;
}

/**
 * The first string value of header `name` (lowercase) from a fetch `Headers`
 * or a plain object in any letter case, Node's array values included.
 */
export function readHeader(headers: HeaderSource, name: string): string | undefined {
  // Only strings count: a header source from an untrusted or loosely typed
  // caller may hold numbers or objects, which must read as "missing", not
  // crash later with a TypeError.
  if (typeof (headers as { get?: unknown }).get === "function") {
    const value: unknown = (headers as { get(name: string): unknown }).get(name);
    return typeof value === "string" ? value : undefined;
  }
  const record = headers as Readonly<Record<string, unknown>>;
  const exact = firstString(Object.hasOwn(record, name) ? record[name] : undefined);
  if (exact !== undefined) return exact;
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() !== name) continue;
    const value = firstString(record[key]);
    if (value !== undefined) return value;
  }
  return undefined;
}

function firstString(value: unknown): string | undefined {
  if (Array.isArray(value)) value = value[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * Signs and verifies webhooks under the Standard Webhooks specification:
 * `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, `v1`
 * (HMAC-SHA256) for `whsec_` or raw secrets, `v1a` (ed25519) for `whsk_`
 * secret keys and `whpk_` public keys. Svix's `svix-*` header names are
 * accepted too.
 *
 * @example
 * const wh = new StandardWebhook(process.env.WEBHOOK_SECRET!);
 * const event = wh.verify(rawBody, req.headers); // throws WebhookVerificationError
 */
export class StandardWebhook {
  readonly #key: SigningKey;
  readonly #toleranceSeconds: number;
  readonly #now: () => number;

  constructor(secret: string, options: StandardWebhookOptions = {}) {
    this.#key = parseSigningSecret(secret);
    const tolerance = options.toleranceSeconds ?? DEFAULTS.toleranceSeconds;
    if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || tolerance < 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "toleranceSeconds must be a number ≥ 0");
    }
    this.#toleranceSeconds = tolerance;
    this.#now = options.now ?? systemClock.now;
  }

  /** The `webhook-signature` value for this message: `v1,<base64>` or `v1a,<base64>`. */
  sign(msgId: string, timestamp: Date, payload: string | Uint8Array): string {
    if (typeof msgId !== "string" || msgId.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "msgId must be a non-empty string");
    }
    if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "timestamp must be a valid Date");
    }
    return signatureEntry(this.#key, msgId, Math.floor(timestamp.getTime() / 1000), payload);
  }

  /**
   * Checks the headers against the raw body and returns the parsed JSON
   * payload. Throws a WebhookVerificationError whose `code` names the failed
   * check: missing headers, a malformed, too old or too new timestamp, no
   * matching signature, or a body that is not JSON.
   *
   * `T` types the result, e.g. `verify<WebhookEnvelope<Events>>(…)` with the
   * `Events` map of `hookline types generate`. That is a cast, not a check:
   * the signature proves who sent the body, and the type trusts that sender
   * to follow its schemas.
   */
  verify<T = unknown>(payload: string | Uint8Array, headers: HeaderSource): T {
    this.verifySignature(payload, headers);
    const text = typeof payload === "string" ? payload : Buffer.from(payload).toString("utf8");
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new WebhookVerificationError("HOOKLINE_VERIFICATION_INVALID_PAYLOAD", "payload is not valid JSON", {
        cause: error,
      });
    }
  }

  /** Like {@link verify} but does not parse the body; returns the verified message id and timestamp. */
  verifySignature(payload: string | Uint8Array, headers: HeaderSource): { msgId: string; timestampSeconds: number } {
    if (headers === null || typeof headers !== "object") {
      throw new WebhookVerificationError("HOOKLINE_VERIFICATION_MISSING_HEADERS", "no headers given");
    }
    const msgId = readHeader(headers, "webhook-id") ?? readHeader(headers, "svix-id");
    const timestampText = readHeader(headers, "webhook-timestamp") ?? readHeader(headers, "svix-timestamp");
    const signatures = readHeader(headers, "webhook-signature") ?? readHeader(headers, "svix-signature");
    if (!msgId || !timestampText || !signatures) {
      throw new WebhookVerificationError(
        "HOOKLINE_VERIFICATION_MISSING_HEADERS",
        "missing webhook-id, webhook-timestamp or webhook-signature header",
      );
    }
    if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
      throw new WebhookVerificationError("HOOKLINE_VERIFICATION_INVALID_PAYLOAD", "payload must be a string or bytes");
    }
    if (!TIMESTAMP.test(timestampText)) {
      throw new WebhookVerificationError(
        "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP",
        "webhook-timestamp is not unix seconds",
      );
    }
    const timestampSeconds = Number(timestampText);
    const nowSeconds = Math.floor(this.#now() / 1000);
    if (nowSeconds - timestampSeconds > this.#toleranceSeconds) {
      throw new WebhookVerificationError("HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD", "webhook-timestamp is too old");
    }
    if (timestampSeconds - nowSeconds > this.#toleranceSeconds) {
      throw new WebhookVerificationError(
        "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW",
        "webhook-timestamp is in the future",
      );
    }
    if (msgId.length > MAX_ID_LENGTH || signatures.length > MAX_SIGNATURE_HEADER_LENGTH) {
      throw new WebhookVerificationError(
        "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
        "signature headers are too long",
      );
    }
    if (this.#matches(msgId, timestampSeconds, payload, signatures)) return { msgId, timestampSeconds };
    throw new WebhookVerificationError("HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE", "no matching signature found");
  }

  #matches(msgId: string, timestampSeconds: number, payload: string | Uint8Array, signatures: string): boolean {
    const key = this.#key;
    const wantedVersion = key.kind === "hmac" ? "v1" : "v1a";
    const content = signedContent(msgId, timestampSeconds, payload);
    let expected: Buffer | undefined;
    for (const entry of signatures.split(" ")) {
      const comma = entry.indexOf(",");
      if (comma < 0 || entry.slice(0, comma) !== wantedVersion) continue;
      const encoded = entry.slice(comma + 1);
      const candidate = Buffer.from(encoded, "base64");
      // Buffer's decoder skips invalid characters, accepts base64url, missing
      // padding and trailing garbage; only the canonical spelling counts, so
      // one signature has one header value (as in the reference libraries).
      if (candidate.toString("base64") !== encoded) continue;
      if (key.kind === "hmac") {
        if (candidate.length !== HMAC_SHA256_BYTES) continue;
        expected ??= createHmac("sha256", key.key).update(content).digest();
        if (timingSafeEqual(expected, candidate)) return true;
      } else {
        if (candidate.length !== ED25519_SIGNATURE_BYTES) continue;
        const bytes = typeof content === "string" ? Buffer.from(content) : content;
        if (edVerify(null, bytes, key.publicKey, candidate)) return true;
      }
    }
    return false;
  }
}

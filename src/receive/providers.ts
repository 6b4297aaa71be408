import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { isSignatureAlgorithm } from "../core/enums.js";
import { type HooklineErrorCode, WebhookVerificationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import { WebhookSignature } from "../signing/seed-hmac.js";
import { type HeaderSource, readHeader, StandardWebhook } from "../signing/standard-webhooks.js";

/** What a provider's check hands back before the body is parsed. */
export interface ProviderFindings {
  id: string | null;
  timestampSeconds: number | null;
  eventType: string | null;
}

/** Everything a provider's check may read; the body both as raw bytes and (lazily) as UTF-8 text. */
export interface ProviderInput {
  secrets: readonly string[];
  bytes: Buffer;
  text(): string;
  headers: HeaderSource;
  toleranceSeconds: number;
  nowMs: number;
}

export interface ProviderSpec {
  /** Checks headers and signature; throws WebhookVerificationError. */
  check(input: ProviderInput): ProviderFindings;
  /** Slack posts slash commands and interactions as a form, not JSON. */
  acceptsForm?: boolean;
  /** Fills the id and event type from the payload where the headers carry none. */
  fromPayload?(payload: unknown, found: ProviderFindings): ProviderFindings;
}

const MAX_ID_LENGTH = 1024;
const UNIX_SECONDS = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]+$/;
const SHA256_BYTES = 32;

function fail(code: HooklineErrorCode, message: string): never {
  throw new WebhookVerificationError(code, message);
}

/** A header value, undefined when absent; a value over the length limit is malformed, not truncated. */
function header(input: ProviderInput, name: string): string | undefined {
  const value = readHeader(input.headers, name);
  if (value !== undefined && value.length > DEFAULTS.receiveMaxHeaderLength) {
    fail(
      "HOOKLINE_VERIFICATION_MALFORMED_HEADER",
      `${name} is longer than ${DEFAULTS.receiveMaxHeaderLength} characters`,
    );
  }
  return value;
}

function requiredHeader(input: ProviderInput, name: string): string {
  const value = header(input, name);
  if (value === undefined || value === "") fail("HOOKLINE_VERIFICATION_MISSING_HEADERS", `missing ${name} header`);
  return value;
}

/** An id header (unsigned by most providers): null when absent, malformed when absurdly long. */
function idHeader(input: ProviderInput, name: string): string | null {
  const value = header(input, name);
  if (value === undefined || value === "") return null;
  if (value.length > MAX_ID_LENGTH) {
    fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", `${name} is longer than ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

/** Id and event type from headers, for providers that sign no timestamp. */
function unsignedFindings(input: ProviderInput, idName: string, typeName: string): ProviderFindings {
  return { id: idHeader(input, idName), timestampSeconds: null, eventType: idHeader(input, typeName) };
}

/** Unix seconds within the tolerance both ways, or a verification error saying which way it is off. */
function checkTimestamp(input: ProviderInput, name: string, text: string): number {
  if (!UNIX_SECONDS.test(text)) fail("HOOKLINE_VERIFICATION_INVALID_TIMESTAMP", `${name} is not unix seconds`);
  const seconds = Number(text);
  const nowSeconds = Math.floor(input.nowMs / 1000);
  if (nowSeconds - seconds > input.toleranceSeconds) {
    fail("HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD", `${name} is older than ${input.toleranceSeconds} s`);
  }
  if (seconds - nowSeconds > input.toleranceSeconds) {
    fail("HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW", `${name} is more than ${input.toleranceSeconds} s in the future`);
  }
  return seconds;
}

function hmacSha256(secret: string, prefix: string, bytes: Buffer): Buffer {
  return createHmac("sha256", secret).update(prefix).update(bytes).digest();
}

/** Constant-time comparison of a digest with its hex spelling; false for any other length or alphabet. */
function equalsHex(expected: Buffer, hex: string): boolean {
  if (hex.length !== expected.length * 2 || !HEX.test(hex)) return false;
  return timingSafeEqual(expected, Buffer.from(hex, "hex"));
}

/** Constant-time comparison with a canonical base64 spelling (Buffer's decoder forgives too much). */
function equalsBase64(expected: Buffer, text: string): boolean {
  const candidate = Buffer.from(text, "base64");
  if (candidate.length !== expected.length || candidate.toString("base64") !== text) return false;
  return timingSafeEqual(expected, candidate);
}

function anySecret(input: ProviderInput, matches: (secret: string) => boolean): void {
  if (!input.secrets.some(matches)) fail("HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE", "no matching signature found");
}

function stringField(value: unknown, name: string): string | null {
  if (value === null || typeof value !== "object") return null;
  const field = (value as Record<string, unknown>)[name];
  return typeof field === "string" && field.length > 0 && field.length <= MAX_ID_LENGTH ? field : null;
}

const standard: ProviderSpec = {
  check(input) {
    let lastError: unknown;
    for (const secret of input.secrets) {
      const wh = new StandardWebhook(secret, { toleranceSeconds: input.toleranceSeconds, now: () => input.nowMs });
      try {
        const { msgId, timestampSeconds } = wh.verifySignature(input.bytes, input.headers);
        return { id: msgId, timestampSeconds, eventType: null };
      } catch (error) {
        // Only a signature mismatch depends on the secret; anything else fails for all of them.
        if (
          !(error instanceof WebhookVerificationError) ||
          error.code !== "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE"
        ) {
          throw error;
        }
        lastError = error;
      }
    }
    throw lastError;
  },
  fromPayload: (payload, found) => ({ ...found, eventType: stringField(payload, "type") }),
};

// The seed scheme signs the body alone: its id and timestamp headers are
// informative, so the timestamp is checked when present but never required.
const hookline: ProviderSpec = {
  check(input) {
    const signature = requiredHeader(input, "x-webhook-signature");
    const algorithm = header(input, "x-webhook-signature-algorithm") ?? DEFAULTS.signatureAlgorithm;
    if (!isSignatureAlgorithm(algorithm)) {
      fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", "x-webhook-signature-algorithm is not hmac_sha256 or hmac_sha512");
    }
    if (!HEX.test(signature)) fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", "x-webhook-signature is not hex");
    const timestamp = header(input, "x-webhook-timestamp");
    const timestampSeconds =
      timestamp === undefined ? null : checkTimestamp(input, "x-webhook-timestamp", timestamp.trim());
    const text = input.text();
    anySecret(input, (secret) => WebhookSignature.verify(text, secret, signature, algorithm));
    return {
      id: idHeader(input, "x-webhook-event-id"),
      timestampSeconds,
      eventType: idHeader(input, "x-webhook-event"),
    };
  },
};

/** `t=…,v1=…,v1=…,v0=…`: one timestamp, any number of v1 signatures; other schemes are ignored. */
function parseStripeHeader(value: string): { timestamp: string; signatures: string[] } {
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const item of value.split(",")) {
    const equals = item.indexOf("=");
    if (equals < 0) continue;
    const key = item.slice(0, equals).trim();
    const part = item.slice(equals + 1).trim();
    if (key === "t") timestamp = part;
    else if (key === "v1") signatures.push(part);
  }
  if (timestamp === undefined || signatures.length === 0) {
    fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", "stripe-signature has no t= timestamp or no v1= signature");
  }
  return { timestamp, signatures };
}

const stripe: ProviderSpec = {
  check(input) {
    const { timestamp, signatures } = parseStripeHeader(requiredHeader(input, "stripe-signature"));
    const timestampSeconds = checkTimestamp(input, "stripe-signature t=", timestamp);
    anySecret(input, (secret) => {
      const expected = hmacSha256(secret, `${timestamp}.`, input.bytes);
      return signatures.some((signature) => equalsHex(expected, signature));
    });
    return { id: null, timestampSeconds, eventType: null };
  },
  fromPayload: (payload, found) => ({
    ...found,
    id: stringField(payload, "id"),
    eventType: stringField(payload, "type"),
  }),
};

const github: ProviderSpec = {
  check(input) {
    const value = requiredHeader(input, "x-hub-signature-256");
    if (!value.startsWith("sha256="))
      fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", "x-hub-signature-256 lacks sha256=");
    const hex = value.slice("sha256=".length);
    if (hex.length !== SHA256_BYTES * 2 || !HEX.test(hex)) {
      fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", "x-hub-signature-256 is not a hex SHA-256 digest");
    }
    anySecret(input, (secret) => equalsHex(hmacSha256(secret, "", input.bytes), hex));
    return unsignedFindings(input, "x-github-delivery", "x-github-event");
  },
};

// The token is the secret itself; hashing both sides gives equal-length
// buffers for timingSafeEqual without leaking the secret's length.
const gitlab: ProviderSpec = {
  check(input) {
    const token = createHash("sha256").update(requiredHeader(input, "x-gitlab-token")).digest();
    anySecret(input, (secret) => timingSafeEqual(createHash("sha256").update(secret).digest(), token));
    return unsignedFindings(input, "x-gitlab-event-uuid", "x-gitlab-event");
  },
};

const shopify: ProviderSpec = {
  check(input) {
    const signature = requiredHeader(input, "x-shopify-hmac-sha256").trim();
    anySecret(input, (secret) => equalsBase64(hmacSha256(secret, "", input.bytes), signature));
    return unsignedFindings(input, "x-shopify-webhook-id", "x-shopify-topic");
  },
};

const slack: ProviderSpec = {
  acceptsForm: true,
  check(input) {
    const value = requiredHeader(input, "x-slack-signature");
    const timestamp = requiredHeader(input, "x-slack-request-timestamp").trim();
    if (!value.startsWith("v0=")) fail("HOOKLINE_VERIFICATION_MALFORMED_HEADER", "x-slack-signature lacks v0=");
    const timestampSeconds = checkTimestamp(input, "x-slack-request-timestamp", timestamp);
    const hex = value.slice("v0=".length);
    anySecret(input, (secret) => equalsHex(hmacSha256(secret, `v0:${timestamp}:`, input.bytes), hex));
    return { id: null, timestampSeconds, eventType: null };
  },
  // Events API bodies carry `event_id` (stable across Slack's retries) and `event.type`.
  fromPayload: (payload, found) => {
    const event = payload !== null && typeof payload === "object" ? (payload as { event?: unknown }).event : null;
    return {
      ...found,
      id: stringField(payload, "event_id"),
      eventType: stringField(event, "type") ?? stringField(payload, "type"),
    };
  },
};

/** The providers verifyWebhook knows, by name. */
export const PROVIDERS = { standard, hookline, stripe, github, gitlab, shopify, slack } as const;

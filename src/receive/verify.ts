import { systemClock } from "../core/clock.js";
import { ConfigurationError, WebhookVerificationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import type { HeaderSource } from "../signing/standard-webhooks.js";
import { PROVIDERS, type ProviderFindings, type ProviderInput } from "./providers.js";

/** A sender whose signatures {@link verifyWebhook} checks. */
export type WebhookProvider = keyof typeof PROVIDERS;

/** The providers {@link verifyWebhook} accepts, for validation and listings. */
export const WEBHOOK_PROVIDERS = Object.freeze(Object.keys(PROVIDERS) as WebhookProvider[]);

/**
 * Request headers in any of the shapes servers hand out: a fetch `Headers`,
 * Node's `IncomingHttpHeaders` (array values allowed) or a plain object.
 * Names match in any letter case.
 */
export type WebhookHeaders = HeaderSource;

export interface VerifyWebhookOptions {
  /**
   * The signing secret, used as the provider defines it (Standard Webhooks:
   * `whsec_…`, `whpk_…` or raw; every other provider: the UTF-8 string as
   * given). Several secrets are tried in turn, for a rotation.
   */
  secret: string | readonly string[];
  /** The raw body exactly as received: a string, Buffer or Uint8Array. Never a re-serialised object. */
  body: string | Uint8Array;
  headers: WebhookHeaders;
  /** Accepted distance, both ways, between the signed timestamp and now. Default 300. */
  toleranceSeconds?: number;
  /** Source of "now" in milliseconds; `Date.now` by default. */
  now?: () => number;
  /** Larger bodies are refused before any hashing. Default 10 MiB. */
  maxBodyBytes?: number;
}

/** A verified webhook. */
export interface VerifiedWebhook<TPayload = unknown> {
  provider: WebhookProvider;
  /**
   * The sender's idempotency key, or null where the provider has none:
   * `webhook-id` (standard), `X-Webhook-Event-Id` (hookline), the event's
   * `id` (stripe), `X-GitHub-Delivery`, `X-Gitlab-Event-UUID`,
   * `X-Shopify-Webhook-Id`, the body's `event_id` (slack Events API).
   */
  id: string | null;
  /** The sender's timestamp as a Date (whole seconds), or null where the provider sends none. */
  timestamp: Date | null;
  /** The event type where the provider names one (header or body), else null. */
  eventType: string | null;
  /** The parsed JSON body (Slack forms: an object of the form's fields). */
  payload: TPayload;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function resolveSecrets(secret: unknown): string[] {
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (secrets.length === 0 || !secrets.every((s) => typeof s === "string" && s.length > 0)) {
    throw new ConfigurationError("HOOKLINE_SECRET_INVALID", "secret must be a non-empty string or a list of them");
  }
  return secrets as string[];
}

function nonNegative(value: unknown, name: string, fallback: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== "number" || !Number.isFinite(resolved) || resolved < 0) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `${name} must be a number ≥ 0`);
  }
  return resolved;
}

function toBytes(body: unknown, maxBodyBytes: number): Buffer {
  let bytes: Buffer;
  if (typeof body === "string") bytes = Buffer.from(body, "utf8");
  else if (body instanceof Uint8Array) bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  else {
    throw new WebhookVerificationError(
      "HOOKLINE_VERIFICATION_INVALID_PAYLOAD",
      "body must be the raw string or bytes (a parsed object cannot be verified)",
    );
  }
  if (bytes.length > maxBodyBytes) {
    throw new WebhookVerificationError("HOOKLINE_PAYLOAD_TOO_LARGE", `body is larger than ${maxBodyBytes} bytes`);
  }
  return bytes;
}

function parsePayload(text: string, acceptsForm: boolean): unknown {
  if (acceptsForm && !text.trimStart().startsWith("{")) return Object.fromEntries(new URLSearchParams(text));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new WebhookVerificationError("HOOKLINE_VERIFICATION_INVALID_PAYLOAD", "body is not valid JSON", {
      cause: error,
    });
  }
}

/**
 * Verifies an incoming webhook from `provider` against the raw body and its
 * headers, then parses the body. Every comparison is constant-time. Throws a
 * WebhookVerificationError whose stable `code` names the failed check
 * (`HOOKLINE_VERIFICATION_MISSING_HEADERS`, `…_MALFORMED_HEADER`,
 * `…_INVALID_TIMESTAMP`, `…_TIMESTAMP_TOO_OLD`, `…_TIMESTAMP_TOO_NEW`,
 * `…_NO_MATCHING_SIGNATURE`, `…_INVALID_PAYLOAD`, `HOOKLINE_PAYLOAD_TOO_LARGE`),
 * and a ConfigurationError for misuse (unknown provider, empty secret).
 *
 * @example
 * const { id, payload } = verifyWebhook("stripe", { secret: "whsec_…", body: rawBody, headers: req.headers });
 */
export function verifyWebhook<TPayload = unknown>(
  provider: WebhookProvider,
  options: VerifyWebhookOptions,
): VerifiedWebhook<TPayload> {
  if (typeof provider !== "string" || !Object.hasOwn(PROVIDERS, provider)) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      `unknown webhook provider ${JSON.stringify(provider)}; expected one of ${WEBHOOK_PROVIDERS.join(", ")}`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "verifyWebhook needs { secret, body, headers }");
  }
  const spec = PROVIDERS[provider];
  const secrets = resolveSecrets(options.secret);
  const toleranceSeconds = nonNegative(options.toleranceSeconds, "toleranceSeconds", DEFAULTS.toleranceSeconds);
  const maxBodyBytes = nonNegative(options.maxBodyBytes, "maxBodyBytes", DEFAULTS.receiveMaxBodyBytes);
  const headers = options.headers;
  if (headers === null || typeof headers !== "object") {
    throw new WebhookVerificationError("HOOKLINE_VERIFICATION_MISSING_HEADERS", "no headers given");
  }
  const bytes = toBytes(options.body, maxBodyBytes);
  let text: string | undefined;
  const input: ProviderInput = {
    secrets,
    bytes,
    headers,
    toleranceSeconds,
    nowMs: (options.now ?? systemClock.now)(),
    text() {
      try {
        text ??= utf8.decode(bytes);
      } catch (error) {
        throw new WebhookVerificationError("HOOKLINE_VERIFICATION_INVALID_PAYLOAD", "body is not valid UTF-8", {
          cause: error,
        });
      }
      return text;
    },
  };
  let found: ProviderFindings = spec.check(input);
  const payload = parsePayload(input.text(), spec.acceptsForm === true);
  if (spec.fromPayload) found = spec.fromPayload(payload, found);
  return {
    provider,
    id: found.id,
    timestamp: found.timestampSeconds === null ? null : new Date(found.timestampSeconds * 1000),
    eventType: found.eventType,
    payload: payload as TPayload,
  };
}

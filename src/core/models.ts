import { randomUUID } from "node:crypto";
import { isSignatureAlgorithm, type SignatureAlgorithm, type WebhookEventType, type WebhookStatus } from "./enums.js";
import { ConfigurationError } from "./errors.js";
import { canonicalJson } from "./json.js";
import { DEFAULTS } from "./options.js";

/** Event types are the seed's four or any other non-empty string. */
export type EventTypeName = WebhookEventType | (string & {});

export interface WebhookEventOptions {
  eventType: EventTypeName;
  payload: unknown;
  /** Idempotency key the receiver sees as `webhook-id`; a UUID v4 when omitted. */
  eventId?: string;
  timestamp?: Date;
  source?: string;
}

/** The wire object of an event: snake_case keys, ISO 8601 UTC timestamp. */
export interface WebhookEventDict {
  event_id: string;
  event_type: string;
  payload: unknown;
  timestamp: string;
  source: string;
}

/**
 * Something that happened, to be sent to every webhook subscribed to its
 * type. The JSON body is fixed when the event is constructed, so a payload
 * that cannot be serialised fails here, and every retry sends the same bytes.
 *
 * @example
 * const event = new WebhookEvent({ eventType: "invoice.paid", payload: { id: "in_1" } });
 * event.toJson(); // '{"event_id":"…","event_type":"invoice.paid","payload":{"id":"in_1"},…}'
 */
export class WebhookEvent {
  readonly eventType: EventTypeName;
  readonly payload: unknown;
  readonly eventId: string;
  readonly timestamp: Date;
  readonly source: string;
  readonly #json: string;

  constructor(options: WebhookEventOptions) {
    if (options === null || typeof options !== "object") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "WebhookEvent needs an options object");
    }
    const { eventType, payload, eventId = randomUUID(), timestamp = new Date(), source = "" } = options;
    if (typeof eventType !== "string" || eventType.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "eventType must be a non-empty string");
    }
    if (typeof eventId !== "string" || eventId.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "eventId must be a non-empty string");
    }
    if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "timestamp must be a valid Date");
    }
    if (typeof source !== "string") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "source must be a string");
    }
    this.eventType = eventType;
    this.payload = payload;
    this.eventId = eventId;
    this.timestamp = new Date(timestamp.getTime());
    this.source = source;
    this.#json = canonicalJson(this.toDict());
  }

  /** The wire object with snake_case keys. */
  toDict(): WebhookEventDict {
    return {
      event_id: this.eventId,
      event_type: this.eventType,
      payload: this.payload,
      timestamp: this.timestamp.toISOString(),
      source: this.source,
    };
  }

  /** The body that is signed and sent: `toDict()` as JSON with keys sorted at every level. */
  toJson(): string {
    return this.#json;
  }
}

export interface WebhookConfigOptions {
  url: string;
  secret: string;
  /** Event types this webhook wants; empty means every event. `invoice.*` matches by prefix. */
  events?: readonly string[];
  maxRetries?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  signatureAlgorithm?: SignatureAlgorithm;
  active?: boolean;
}

/**
 * Where and how to deliver: the destination URL, the signing secret, the
 * event filter and the retry settings of one webhook subscription.
 *
 * @example
 * new WebhookConfig({ url: "https://example.com/hooks", secret: "s3cret", events: ["created"] });
 */
export class WebhookConfig {
  readonly url: string;
  readonly secret: string;
  readonly events: readonly string[];
  readonly maxRetries: number;
  readonly retryDelayMs: number;
  readonly timeoutMs: number;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly active: boolean;

  constructor(options: WebhookConfigOptions) {
    if (options === null || typeof options !== "object") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "WebhookConfig needs an options object");
    }
    const {
      url,
      secret,
      events = [],
      maxRetries = DEFAULTS.maxRetries,
      retryDelayMs = DEFAULTS.retryDelayMs,
      timeoutMs = DEFAULTS.timeoutMs,
      signatureAlgorithm = DEFAULTS.signatureAlgorithm,
      active = true,
    } = options;
    if (typeof url !== "string" || url.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "url must be a non-empty string");
    }
    if (typeof secret !== "string" || secret.length === 0) {
      throw new ConfigurationError("HOOKLINE_SECRET_INVALID", "secret must be a non-empty string");
    }
    if (!Array.isArray(events) || events.some((e) => typeof e !== "string" || e.length === 0)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "events must be an array of non-empty strings");
    }
    requireInteger("maxRetries", maxRetries, 0);
    requireInteger("retryDelayMs", retryDelayMs, 0);
    requireInteger("timeoutMs", timeoutMs, 1);
    if (!isSignatureAlgorithm(signatureAlgorithm)) {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        `signatureAlgorithm must be "hmac_sha256" or "hmac_sha512", got ${JSON.stringify(signatureAlgorithm)}`,
      );
    }
    if (typeof active !== "boolean") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "active must be a boolean");
    }
    this.url = url;
    this.secret = secret;
    this.events = Object.freeze([...events]);
    this.maxRetries = maxRetries;
    this.retryDelayMs = retryDelayMs;
    this.timeoutMs = timeoutMs;
    this.signatureAlgorithm = signatureAlgorithm;
    this.active = active;
  }
}

/** Throws a ConfigurationError unless `value` is an integer ≥ `min`. */
export function requireInteger(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      `${name} must be an integer ≥ ${min}, got ${String(value)}`,
    );
  }
}

/** Throws a ConfigurationError unless `value` is a string of at most `maxLength` characters. */
export function requireText(name: string, value: unknown, maxLength: number): asserts value is string {
  if (typeof value !== "string" || value.length > maxLength) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      `${name} must be a string of ≤ ${maxLength} characters`,
    );
  }
}

export interface DeliveryResultOptions {
  webhookId: string;
  eventId: string;
  status: WebhookStatus;
  statusCode?: number | null;
  attempt?: number;
  error?: string | null;
  timestamp?: Date;
}

/** The wire object of a delivery result, with snake_case keys. */
export interface DeliveryResultDict {
  webhook_id: string;
  event_id: string;
  status: WebhookStatus;
  status_code: number | null;
  attempt: number;
  error: string | null;
  timestamp: string;
}

/**
 * What happened when one event was sent to one webhook: the status, the HTTP
 * status code if a response came back, the attempt number and the error text.
 */
export class DeliveryResult {
  readonly webhookId: string;
  readonly eventId: string;
  readonly status: WebhookStatus;
  readonly statusCode: number | null;
  readonly attempt: number;
  readonly error: string | null;
  readonly timestamp: Date;

  constructor(options: DeliveryResultOptions) {
    this.webhookId = options.webhookId;
    this.eventId = options.eventId;
    this.status = options.status;
    this.statusCode = options.statusCode ?? null;
    this.attempt = options.attempt ?? 1;
    this.error = options.error ?? null;
    this.timestamp = options.timestamp ?? new Date();
  }

  toDict(): DeliveryResultDict {
    return {
      webhook_id: this.webhookId,
      event_id: this.eventId,
      status: this.status,
      status_code: this.statusCode,
      attempt: this.attempt,
      error: this.error,
      timestamp: this.timestamp.toISOString(),
    };
  }
}

import type { Clock } from "../core/clock.js";
import type { SignatureAlgorithm } from "../core/enums.js";
import { describeError, type HooklineErrorCode } from "../core/errors.js";
import type { SigningKey } from "../signing/secrets.js";
import { WebhookSignature } from "../signing/seed-hmac.js";
import { signatureEntry } from "../signing/standard-webhooks.js";
import type { WebhookTransport } from "../transport/transport.js";

/**
 * Everything needed to send one signed webhook. The dispatcher builds it from
 * a WebhookConfig and an event; the durable engine from stored rows. Both
 * then call {@link attemptDelivery}: one delivery path, not two.
 */
export interface DeliveryRequest {
  url: string;
  /** The exact body bytes that are signed and sent. */
  body: string;
  /** `webhook-id`: the event id, the same on every retry. */
  msgId: string;
  eventType: string;
  /** Keyed as UTF-8 for the seed's `X-Webhook-Signature`. */
  secret: string;
  signatureAlgorithm: SignatureAlgorithm;
  /** Keys for `webhook-signature`, one entry each (several during a secret rotation). */
  signingKeys: readonly SigningKey[];
  timeoutMs: number;
  /** Extra headers configured on the endpoint; they never override the signature headers. */
  headers?: Readonly<Record<string, string>>;
  /** Also send `svix-id`, `svix-timestamp`, `svix-signature` (messages created through the Svix-compatible API). */
  svixHeaders?: boolean;
  /** A W3C `traceparent` to send (see tracing.ts); none when absent. */
  traceparent?: string | null;
}

/** The result of one attempt: a failure is data, not an exception. */
export interface AttemptOutcome {
  succeeded: boolean;
  statusCode: number | null;
  responseBody: string | null;
  responseHeaders: Readonly<Record<string, string>>;
  errorCode: HooklineErrorCode | null;
  error: string | null;
  startedAt: Date;
  durationMs: number;
}

/**
 * Header names an endpoint's custom headers may not set: the body's type and
 * length, and every signature header, in any letter case.
 */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === "content-type" ||
    lower === "content-length" ||
    lower === "host" ||
    lower === "transfer-encoding" ||
    lower === "connection" ||
    lower.startsWith("x-webhook-") ||
    lower.startsWith("webhook-") ||
    lower.startsWith("svix-")
  );
}

/** The headers of one attempt, signed for the attempt's time. */
export function buildDeliveryHeaders(request: DeliveryRequest, attemptTimeMs: number): Record<string, string> {
  const timestampSeconds = Math.floor(attemptTimeMs / 1000);
  const timestamp = String(timestampSeconds);
  const signature = request.signingKeys
    .map((key) => signatureEntry(key, request.msgId, timestampSeconds, request.body))
    .join(" ");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (!isReservedHeader(name)) headers[name.toLowerCase()] = value;
  }
  headers["content-type"] = "application/json";
  headers["x-webhook-event"] = request.eventType;
  headers["x-webhook-event-id"] = request.msgId;
  headers["x-webhook-signature"] = WebhookSignature.sign(request.body, request.secret, request.signatureAlgorithm);
  headers["x-webhook-signature-algorithm"] = request.signatureAlgorithm;
  headers["x-webhook-timestamp"] = timestamp;
  headers["webhook-id"] = request.msgId;
  headers["webhook-timestamp"] = timestamp;
  headers["webhook-signature"] = signature;
  if (request.svixHeaders) {
    headers["svix-id"] = request.msgId;
    headers["svix-timestamp"] = timestamp;
    headers["svix-signature"] = signature;
  }
  if (request.traceparent) headers.traceparent = request.traceparent;
  return headers;
}

/**
 * Builds the headers, signs, sends and classifies one attempt: a 2xx
 * succeeds; any other status, and any thrown transport error, fails.
 */
export async function attemptDelivery(
  transport: WebhookTransport,
  request: DeliveryRequest,
  clock: Clock,
  signal?: AbortSignal,
): Promise<AttemptOutcome> {
  const startedMs = clock.now();
  const startedAt = new Date(startedMs);
  const began = performance.now();
  try {
    const headers = buildDeliveryHeaders(request, startedMs);
    const response = await transport.send(request.url, request.body, headers, request.timeoutMs, signal);
    const statusCode = response.statusCode;
    return {
      succeeded: statusCode >= 200 && statusCode < 300,
      statusCode,
      responseBody: typeof response.body === "string" ? response.body : String(response.body ?? ""),
      responseHeaders: response.headers ?? {},
      errorCode: null,
      error: null,
      startedAt,
      durationMs: performance.now() - began,
    };
  } catch (error) {
    const { message, code } = describeError(error);
    return {
      succeeded: false,
      statusCode: null,
      responseBody: null,
      responseHeaders: {},
      errorCode: code,
      error: message,
      startedAt,
      durationMs: performance.now() - began,
    };
  }
}

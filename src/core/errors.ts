/** Every stable error code hookline throws or records. */
export type HooklineErrorCode =
  | "HOOKLINE_CONFIGURATION_INVALID"
  | "HOOKLINE_PAYLOAD_INVALID"
  | "HOOKLINE_PAYLOAD_TOO_LARGE"
  | "HOOKLINE_CONFLICT"
  | "HOOKLINE_SECRET_INVALID"
  | "HOOKLINE_ENCRYPTION_KEY_INVALID"
  | "HOOKLINE_NOT_FOUND"
  | "HOOKLINE_VERIFICATION_MISSING_HEADERS"
  | "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP"
  | "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD"
  | "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW"
  | "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE"
  | "HOOKLINE_VERIFICATION_INVALID_PAYLOAD"
  | "HOOKLINE_VERIFICATION_MALFORMED_HEADER"
  | "HOOKLINE_DELIVERY_INVALID_URL"
  | "HOOKLINE_DELIVERY_EGRESS_BLOCKED"
  | "HOOKLINE_DELIVERY_TIMEOUT"
  | "HOOKLINE_DELIVERY_CONNECTION_FAILED"
  | "HOOKLINE_DELIVERY_ABORTED"
  | "HOOKLINE_DELIVERY_TRANSPORT_FAILED";

/**
 * Base class of every error hookline throws. `code` is a stable literal that
 * callers can switch on; `cause` keeps the underlying error when there is one.
 *
 * @example
 * try { wh.verify(body, headers); } catch (e) { if (e instanceof HooklineError) log(e.code); }
 */
export class HooklineError extends Error {
  readonly code: HooklineErrorCode;

  constructor(code: HooklineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Misuse: invalid options, secrets, URLs or payloads handed to hookline. */
export class ConfigurationError extends HooklineError {}

/** An incoming webhook failed verification; `code` says which check failed. */
export class WebhookVerificationError extends HooklineError {}

/**
 * A delivery attempt could not complete (refused by the egress guard, timed
 * out, connection failed). Transports throw it; the dispatcher and the engine
 * turn it into a failed result, never an unhandled exception.
 */
export class DeliveryError extends HooklineError {}

/** Text and code of any thrown value, for results and attempt records. */
export function describeError(error: unknown): { message: string; code: HooklineErrorCode } {
  if (error instanceof HooklineError) return { message: error.message, code: error.code };
  if (error instanceof Error) return { message: error.message, code: "HOOKLINE_DELIVERY_TRANSPORT_FAILED" };
  return { message: String(error), code: "HOOKLINE_DELIVERY_TRANSPORT_FAILED" };
}

/** A named resource (webhook, endpoint, delivery) does not exist. */
export class NotFoundError extends HooklineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("HOOKLINE_NOT_FOUND", message, options);
  }
}

/** The request conflicts with the current state (a delivery already in flight, a uid already taken). */
export class ConflictError extends HooklineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("HOOKLINE_CONFLICT", message, options);
  }
}

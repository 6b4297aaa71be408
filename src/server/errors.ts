import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { HooklineError } from "../core/errors.js";
import { PayloadValidationError } from "../delivery/event-types.js";

/** One entry of a 422 body, as Svix's `ValidationError`: where (`["body", "url"]`), what, and a kind. */
export interface ValidationIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/**
 * The stable `code` of every error body the API answers with. Svix's own
 * codes where it has one (`authentication_failed`, `not_found`, `conflict`),
 * the same style elsewhere.
 */
export type ApiErrorCode =
  | "invalid_json"
  | "bad_request"
  | "authentication_failed"
  | "verification_failed"
  | "token_expired"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "idempotency_key_reused"
  | "idempotency_key_in_use"
  | "payload_too_large"
  | "rate_limit_exceeded"
  | "request_timeout"
  | "headers_too_large"
  | "unsupported_media_type"
  | "validation_error"
  | "not_ready"
  | "unavailable"
  | "internal_error";

/** An error answered as `{ code, detail }` (422: `detail` is a list of {@link ValidationIssue}). */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: ApiErrorCode;
  readonly detail: string | ValidationIssue[];

  constructor(
    statusCode: number,
    code: ApiErrorCode,
    detail: string | ValidationIssue[],
    options?: { cause?: unknown },
  ) {
    super(typeof detail === "string" ? detail : (detail[0]?.msg ?? code), options);
    this.statusCode = statusCode;
    this.code = code;
    this.detail = detail;
  }
}

/** A 422 naming one field. */
export function validationError(loc: Array<string | number>, msg: string, type = "value_error"): ApiError {
  return new ApiError(422, "validation_error", [{ loc, msg, type }]);
}

/** A 422 from zod's issues, each located under `where` (`body`, `query` or `path`). */
export function zodValidationError(where: string, issues: readonly z.core.$ZodIssue[]): ApiError {
  return new ApiError(
    422,
    "validation_error",
    issues.map((issue) => ({
      loc: [where, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))],
      msg: issue.message,
      type: issue.code === "invalid_type" ? "type_error" : `value_error.${issue.code}`,
    })),
  );
}

/**
 * Per route: the engine's option names → the API's field names, so an engine
 * error about `eventTypes` names `filterTypes`, the field the caller sent.
 */
export type FieldNames = Readonly<Record<string, string>>;

/** Input names the engine's messages start with ("url must be …", "headers: …", "url \"x\" is not …"). */
const ENGINE_FIELDS = new Set([
  "name",
  "uid",
  "metadata",
  "url",
  "secret",
  "eventTypes",
  "channels",
  "description",
  "headers",
  "rateLimitPerSecond",
  "signatureAlgorithm",
  "timeoutMs",
  "disabled",
  "eventType",
  "eventId",
  "tags",
  "payload",
  "schemas",
  "archived",
  "featureFlag",
  "gracePeriodMs",
  "since",
  "until",
  "limit",
]);

/** The field an engine message is about, under the name this route's caller used. */
function engineField(message: string, fields: FieldNames): string | null {
  const name = /^([A-Za-z][A-Za-z0-9]*)/.exec(message)?.[1];
  if (name === undefined || !(ENGINE_FIELDS.has(name) || name in fields)) return null;
  return fields[name] ?? name;
}

function engineFieldLoc(message: string, fields: FieldNames): string[] {
  const field = engineField(message, fields);
  return field === null ? ["body"] : ["body", field];
}

/** Maps any thrown value to the status and body the API answers with. */
export function toApiError(error: unknown, fields: FieldNames = {}): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof PayloadValidationError) {
    return new ApiError(
      422,
      "validation_error",
      error.issues.map((issue) => ({
        loc: ["body", "payload", ...issue.path],
        msg: issue.message,
        type: "value_error.payload_schema",
      })),
    );
  }
  if (error instanceof HooklineError) {
    switch (error.code) {
      case "HOOKLINE_NOT_FOUND":
        return new ApiError(404, "not_found", error.message);
      case "HOOKLINE_VERIFICATION_MISSING_HEADERS":
      case "HOOKLINE_VERIFICATION_MALFORMED_HEADER":
      case "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP":
      case "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD":
      case "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW":
      case "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE":
      case "HOOKLINE_VERIFICATION_INVALID_PAYLOAD":
        // An inbound webhook that does not verify: the message names the check, never the secret.
        return new ApiError(401, "verification_failed", error.message);
      case "HOOKLINE_CONFLICT":
        return new ApiError(409, "conflict", error.message);
      case "HOOKLINE_PAYLOAD_TOO_LARGE":
        return new ApiError(413, "payload_too_large", error.message);
      case "HOOKLINE_SECRET_INVALID":
        return validationError(["body", fields.secret ?? "secret"], error.message);
      case "HOOKLINE_CONFIGURATION_INVALID":
        // The engine and the stores say "… is closed" when shutting down: not the caller's fault.
        if (/ is closed$/.test(error.message)) {
          return new ApiError(503, "unavailable", "the service is shutting down", { cause: error });
        }
        return validationError(engineFieldLoc(error.message, fields), error.message);
      case "HOOKLINE_PAYLOAD_INVALID": {
        return validationError(engineFieldLoc(error.message, fields), error.message);
      }
      default:
        return new ApiError(500, "internal_error", "internal server error");
    }
  }
  const fastifyError = error as Partial<FastifyError> | null;
  switch (fastifyError?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError(413, "payload_too_large", "request body is larger than the limit");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(415, "unsupported_media_type", "send JSON with Content-Type: application/json");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiError(400, "bad_request", "Content-Length does not match the body");
    case "22021":
      // PostgreSQL refuses U+0000 in text (character_not_in_repertoire): the request's fault, not the server's.
      return new ApiError(400, "bad_request", "text must not contain the NUL character (U+0000)");
    default:
      break;
  }
  if (error instanceof SyntaxError || fastifyError?.statusCode === 400) {
    return new ApiError(400, "invalid_json", "request body is not valid JSON");
  }
  const status = fastifyError?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new ApiError(status, "bad_request", fastifyError?.message ?? "bad request");
  }
  return new ApiError(500, "internal_error", "internal server error");
}

/** Fastify's error handler: every error becomes `{ code, detail }`; only 5xx are logged, without the request body. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const fields = (request.routeOptions.config as { fields?: FieldNames } | undefined)?.fields ?? {};
  const apiError = toApiError(error, fields);
  if (apiError.statusCode >= 500) request.log.error({ err: error }, "request failed");
  if (apiError.statusCode === 401) reply.header("www-authenticate", 'Bearer realm="hookline"');
  return reply.code(apiError.statusCode).send({ code: apiError.code, detail: apiError.detail });
}

import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { AttemptOutcome } from "./deliver.js";

/**
 * hookline's spans, over `@opentelemetry/api` alone. Without an SDK
 * registered every call here ends in the API's no-op tracer: nothing is
 * recorded and nothing is allocated beyond a non-recording span. The W3C
 * `traceparent` is parsed and written here rather than by the global
 * propagator, which is a no-op until an SDK installs one; a message keeps
 * the `traceparent` of its send, and each attempt sends one.
 */

/** The instrumentation scope of every hookline span. */
export const TRACER_NAME = "hookline";
/** The package version (a test keeps it equal to package.json's). */
export const TRACER_VERSION = "0.1.0";

let cached: { provider: TracerProvider; tracer: Tracer } | null = null;

/** The tracer of the current global provider; fetched again when the provider changes (tests re-register). */
function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer(TRACER_NAME, TRACER_VERSION) };
  return cached.tracer;
}

type TraceparentMatch = [string, string, string, string, string, string | undefined];
/**
 * True when no SDK stands behind the API's global provider, so every span
 * would be the no-op one. Checked per attempt so the hot path can skip
 * building a parent context nobody reads. A provider of another copy of the
 * API is not the proxy class: it counts as an SDK, and takes the full path.
 */
function tracingOff(): boolean {
  const provider = trace.getTracerProvider();
  return (
    provider instanceof ProxyTracerProvider && provider.getDelegateTracer(TRACER_NAME, TRACER_VERSION) === undefined
  );
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** Version 00, the only one written today: checked without captures, the common case on every attempt. */
const TRACEPARENT_00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/**
 * The span context a W3C `traceparent` names, or null when it is malformed
 * (wrong shape, version ff, all-zero ids, extra fields on version 00).
 */
export function parseTraceparent(value: string | null | undefined): SpanContext | null {
  if (typeof value !== "string") return null;
  let traceId: string;
  let spanId: string;
  let flags: string;
  if (TRACEPARENT_00.test(value)) {
    traceId = value.slice(3, 35);
    spanId = value.slice(36, 52);
    flags = value.slice(53, 55);
  } else {
    const match = TRACEPARENT.exec(value.trim());
    if (match === null) return null;
    const [, version, id, parent, flagsField, rest] = match as unknown as TraceparentMatch;
    if (version === "ff" || (version === "00" && rest !== undefined)) return null;
    [traceId, spanId, flags] = [id, parent, flagsField];
  }
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & 1, isRemote: true };
}

/** The version-00 `traceparent` of a span context, or null when it is not valid. */
export function formatTraceparent(spanContext: SpanContext): string | null {
  if (!isSpanContextValid(spanContext)) return null;
  return `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & 1}`;
}

function contextOf(traceparent: string | null | undefined): Context {
  const spanContext = parseTraceparent(traceparent);
  return spanContext === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, spanContext);
}

/**
 * The parent context of an incoming request: whatever the registered
 * propagator extracts (W3C trace context with a standard SDK set-up, or
 * another format), else the request's own `traceparent` header.
 */
export function extractContext(headers: Readonly<Record<string, string | string[] | undefined>>): Context {
  const extracted = propagation.extract(ROOT_CONTEXT, headers);
  if (trace.getSpan(extracted) !== undefined) return extracted;
  const header = headers.traceparent;
  return contextOf(Array.isArray(header) ? header[0] : header);
}

/** The `traceparent` naming this span: its own id when recording, its parent's when it is the no-op span. */
export function traceparentOf(span: Span): string | null {
  return formatTraceparent(span.spanContext());
}

/** Starts a span of hookline's tracer under `parent`. */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context): Span {
  return tracer().startSpan(name, { kind, attributes }, parent);
}

/**
 * Starts `hookline.send` (kind PRODUCER) for one send, under the caller's
 * `traceparent` when it is well-formed, else the active context. `traceparent` is what the message
 * keeps: the span's own when an SDK records it, else its parent's, else null.
 */
export function startSendSpan(
  eventType: unknown,
  callerTraceparent: string | undefined,
): { span: Span; traceparent: string | null } {
  const given = parseTraceparent(callerTraceparent);
  const parent = given === null ? context.active() : trace.setSpanContext(ROOT_CONTEXT, given);
  const attributes = typeof eventType === "string" ? { "hookline.event_type": eventType } : {};
  const span = startSpan("hookline.send", SpanKind.PRODUCER, attributes, parent);
  return { span, traceparent: traceparentOf(span) };
}

/** Ends `hookline.send` with what was written, or the error that stopped it (`result` null). */
export function endSendSpan(
  span: Span,
  result: { message: { id: string; appId: string }; deliveryCount: number; created: boolean } | null,
  error?: unknown,
): void {
  if (!span.isRecording()) return;
  if (result !== null) {
    span.setAttributes({
      "hookline.app.id": result.message.appId,
      "hookline.message.id": result.message.id,
      "hookline.delivery.count": result.deliveryCount,
      "hookline.message.created": result.created,
    });
  } else {
    recordError(span, error);
  }
  span.end();
}

function recordError(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

export interface AttemptSpanInput {
  endpointId: string;
  messageId: string;
  eventType: string;
  /** 1 for the first attempt of a delivery. */
  attemptNumber: number;
  /** The message's stored `traceparent`: the parent of the attempt's span. */
  traceparent: string | null | undefined;
}

/**
 * Runs one delivery attempt inside `hookline.attempt` (kind CLIENT).
 * `run` gets the `traceparent` to send: with an SDK, the attempt span's own
 * (under the stored one, else a new trace), so the receiver's trace joins the
 * sender's; without one, the stored value as is, or null when there is none.
 */
export function traceAttempt(
  input: AttemptSpanInput,
  run: (traceparent: string | null) => Promise<AttemptOutcome>,
): Promise<AttemptOutcome> {
  // No SDK: the stored value goes out as is (send() stored it well-formed), with no span and no async step added.
  if (tracingOff()) return run(input.traceparent ?? null);
  const parent = parseTraceparent(input.traceparent);
  const span = startSpan(
    "hookline.attempt",
    SpanKind.CLIENT,
    {
      "hookline.endpoint.id": input.endpointId,
      "hookline.message.id": input.messageId,
      "hookline.event_type": input.eventType,
      "hookline.attempt.number": input.attemptNumber,
      "http.request.method": "POST",
    },
    parent === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
  );
  // Not sampled: nothing to end; the receiver still joins the trace.
  if (!span.isRecording()) return run(traceparentOf(span));
  return recordAttempt(span, run);
}

async function recordAttempt(
  span: Span,
  run: (traceparent: string | null) => Promise<AttemptOutcome>,
): Promise<AttemptOutcome> {
  let outcome: AttemptOutcome;
  try {
    outcome = await run(traceparentOf(span));
  } catch (error) {
    recordError(span, error);
    span.end();
    throw error;
  }
  const attributes: Attributes = { "hookline.attempt.duration_ms": outcome.durationMs };
  if (outcome.statusCode !== null) attributes["http.response.status_code"] = outcome.statusCode;
  if (!outcome.succeeded) {
    // OpenTelemetry's convention: the error's class, or the status code when the response itself failed.
    attributes["error.type"] = outcome.errorCode ?? String(outcome.statusCode);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error ?? `HTTP ${outcome.statusCode}` });
  }
  span.setAttributes(attributes);
  span.end();
  return outcome;
}

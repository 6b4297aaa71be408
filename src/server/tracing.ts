import { type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { extractContext, startSpan, traceparentOf } from "../delivery/tracing.js";

const spans = new WeakMap<FastifyRequest, Span>();

/**
 * A SERVER span per request, named `METHOD /route/:template`, continuing the
 * caller's `traceparent`. Without an SDK the span is the API's no-op one,
 * which still carries the caller's trace so a send can keep it.
 */
export function registerTracing(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    const route = request.routeOptions.url;
    const attributes = {
      "http.request.method": request.method,
      ...(route !== undefined && { "http.route": route }),
    };
    const name = route === undefined ? request.method : `${request.method} ${route}`;
    spans.set(request, startSpan(name, SpanKind.SERVER, attributes, extractContext(request.headers)));
  });
  app.addHook("onResponse", async (request, reply) => {
    const span = endingSpan(request);
    if (span === null) return;
    span.setAttribute("http.response.status_code", reply.statusCode);
    // OpenTelemetry's HTTP convention: on a server span only 5xx is an error, 4xx is the caller's.
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  app.addHook("onRequestAbort", async (request) => {
    const span = endingSpan(request);
    if (span === null) return;
    span.setStatus({ code: SpanStatusCode.ERROR, message: "request aborted by the client" });
    span.end();
  });
}

/** The request's span if it records and has not ended yet; it is ended once only, whichever hook comes first. */
function endingSpan(request: FastifyRequest): Span | null {
  const span = spans.get(request);
  if (span === undefined || !span.isRecording()) return null;
  spans.delete(request);
  return span;
}

/**
 * The `traceparent` a send made by this request continues: the request
 * span's when an SDK records it, else the caller's, else undefined.
 */
export function requestTraceparent(request: FastifyRequest): string | undefined {
  const span = spans.get(request);
  return (span && traceparentOf(span)) ?? undefined;
}

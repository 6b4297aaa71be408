import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Context,
  type ContextManager,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatTraceparent, parseTraceparent, TRACER_NAME, TRACER_VERSION } from "../src/delivery/tracing.js";
import { createHookline, type Hookline, memoryStore, type Store } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { sqliteStore } from "../src/sqlite.js";
import { type ServerHarness, startHarness } from "./server-harness.js";
import { startServer, type TestServer } from "./support/http-server.js";
import { dropSchema, PG_URL, postgresAvailable, uniqueSchemaName } from "./support/postgres.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID = "00f067aa0ba902b7";
const CALLER_TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;
const TRACEPARENT_SHAPE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;
const pg = await postgresAvailable();

let receiver: TestServer | null = null;
let harness: ServerHarness | null = null;
let engine: Hookline | null = null;

afterEach(async () => {
  await harness?.close();
  await engine?.close({ timeoutMs: 100 });
  await receiver?.close();
  harness = null;
  engine = null;
  receiver = null;
});

/** A harness listening on 127.0.0.1 with one app whose one endpoint is `url`. */
async function listeningHarness(url: string): Promise<{ h: ServerHarness; port: number; appId: string }> {
  const h = await startHarness();
  harness = h;
  await h.server.listen({ host: "127.0.0.1", port: 0 });
  const { port } = h.server.server.address() as AddressInfo;
  const appId = await h.createApp();
  await h.hl.endpoints.create({ appId, url });
  return { h, port, appId };
}

/** POSTs a message through the API over the socket, with `headers` beside the token. */
async function postMessage(
  h: ServerHarness,
  port: number,
  appId: string,
  headers: Record<string, string> = {},
): Promise<{ id: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/app/${appId}/msg`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ eventType: "invoice.paid", payload: { id: "in_1" } }),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as { id: string };
}

describe("traceparent parsing", () => {
  it("accepts W3C traceparents and rejects malformed ones", () => {
    expect(parseTraceparent(CALLER_TRACEPARENT)).toEqual({
      traceId: TRACE_ID,
      spanId: CALLER_SPAN_ID,
      traceFlags: 1,
      isRemote: true,
    });
    // A later version may carry more fields; version 00 may not.
    expect(parseTraceparent(`01-${TRACE_ID}-${CALLER_SPAN_ID}-00-more`)?.traceFlags).toBe(0);
    for (const bad of [
      "",
      "garbage",
      `00-${TRACE_ID}-${CALLER_SPAN_ID}-01-more`,
      `ff-${TRACE_ID}-${CALLER_SPAN_ID}-01`,
      `00-${TRACE_ID.toUpperCase()}-${CALLER_SPAN_ID}-01`,
      `00-${"0".repeat(32)}-${CALLER_SPAN_ID}-01`,
      `00-${TRACE_ID}-${"0".repeat(16)}-01`,
      `00-${TRACE_ID}-${CALLER_SPAN_ID}`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeNull();
    }
    expect(parseTraceparent(undefined)).toBeNull();
    const parsed = parseTraceparent(CALLER_TRACEPARENT);
    expect(parsed && formatTraceparent(parsed)).toBe(CALLER_TRACEPARENT);
  });

  it("names the tracer after the package and its version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      name: string;
      version: string;
    };
    expect([TRACER_NAME, TRACER_VERSION]).toEqual([pkg.name, pkg.version]);
  });
});

// Runs before any SDK is registered below: the API alone is a no-op.
describe("without an OpenTelemetry SDK", () => {
  it("invents no traceparent when the request has none", async () => {
    receiver = await startServer();
    const { h, port, appId } = await listeningHarness(receiver.url);
    const sent = await postMessage(h, port, appId);
    expect(await h.hl.processDue()).toBe(1);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]?.headers.traceparent).toBeUndefined();
    expect((await h.hl.messages.get(sent.id)).traceparent).toBeUndefined();
  });

  it("passes the request's traceparent on as is", async () => {
    receiver = await startServer();
    const { h, port, appId } = await listeningHarness(receiver.url);
    const sent = await postMessage(h, port, appId, { traceparent: CALLER_TRACEPARENT });
    expect(await h.hl.processDue()).toBe(1);
    expect(receiver.requests[0]?.headers.traceparent).toBe(CALLER_TRACEPARENT);
    expect((await h.hl.messages.get(sent.id)).traceparent).toBe(CALLER_TRACEPARENT);
  });

  it("ignores a malformed traceparent and sends none", async () => {
    receiver = await startServer();
    const { h, port, appId } = await listeningHarness(receiver.url);
    await postMessage(h, port, appId, { traceparent: "00-not-a-trace-01" });
    expect(await h.hl.processDue()).toBe(1);
    expect(receiver.requests[0]?.headers.traceparent).toBeUndefined();
  });

  for (const kind of ["memory", "sqlite", ...(pg ? ["postgres"] : [])] as const) {
    it(`keeps a library send's traceparent on the message and sends it (${kind} store)`, async () => {
      let dir: string | null = null;
      let schema: string | null = null;
      let store: Store;
      if (kind === "sqlite") {
        dir = await mkdtemp(join(tmpdir(), "hookline-tracing-"));
        store = sqliteStore({ path: join(dir, "hookline.db") });
      } else if (kind === "postgres") {
        schema = uniqueSchemaName();
        store = postgresStore({ connectionString: PG_URL, schema });
      } else {
        store = memoryStore();
      }
      try {
        receiver = await startServer();
        engine = await createHookline({ store, allowPrivateNetworks: true });
        await engine.endpoints.create({ url: receiver.url });
        const traced = await engine.send({ eventType: "a.b", payload: {}, traceparent: CALLER_TRACEPARENT });
        const plain = await engine.send({ eventType: "a.b", payload: {} });
        expect(traced.message.traceparent).toBe(CALLER_TRACEPARENT);
        expect((await engine.messages.get(traced.messageId)).traceparent).toBe(CALLER_TRACEPARENT);
        expect((await engine.messages.get(plain.messageId)).traceparent).toBeUndefined();
        // The claim reads the message back: the attempt carries what was stored.
        expect(await engine.processDue()).toBe(2);
        const byId = new Map(receiver.requests.map((r) => [r.headers["webhook-id"], r]));
        expect(byId.get(traced.eventId)?.headers.traceparent).toBe(CALLER_TRACEPARENT);
        expect(byId.get(plain.eventId)?.headers.traceparent).toBeUndefined();
      } finally {
        await engine?.close({ timeoutMs: 100 });
        engine = null;
        if (dir !== null) await rm(dir, { recursive: true, force: true });
        if (schema !== null) await dropSchema(schema);
      }
    });
  }
});

/** The active context kept in AsyncLocalStorage, as an SDK's Node context manager does. */
class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

describe("with an OpenTelemetry SDK registered", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  afterAll(async () => {
    trace.disable();
    propagation.disable();
    context.disable();
    await provider.shutdown();
  });
  beforeEach(() => exporter.reset());

  const spansNamed = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
  const only = (name: string): ReadableSpan => {
    const found = spansNamed(name);
    expect(found, name).toHaveLength(1);
    return found[0] as ReadableSpan;
  };

  it("continues the request's trace through the send, each attempt and the receiver", async () => {
    receiver = await startServer();
    const { h, port, appId } = await listeningHarness(receiver.url);
    const sent = await postMessage(h, port, appId, { traceparent: CALLER_TRACEPARENT });
    expect(await h.hl.processDue()).toBe(1);

    const request = only("POST /api/v1/app/:app_id/msg");
    const send = only("hookline.send");
    const attempt = only("hookline.attempt");
    for (const span of [request, send, attempt]) {
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(span.instrumentationScope).toMatchObject({ name: "hookline", version: TRACER_VERSION });
    }
    expect(request.kind).toBe(SpanKind.SERVER);
    expect(request.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(request.attributes).toEqual({
      "http.request.method": "POST",
      "http.route": "/api/v1/app/:app_id/msg",
      "http.response.status_code": 202,
    });
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.attributes).toEqual({
      "hookline.event_type": "invoice.paid",
      "hookline.app.id": appId,
      "hookline.message.id": sent.id,
      "hookline.delivery.count": 1,
      "hookline.message.created": true,
    });
    expect(attempt.kind).toBe(SpanKind.CLIENT);
    expect(attempt.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    const endpoint = (await h.hl.endpoints.list({ appId })).data[0];
    expect(attempt.attributes).toMatchObject({
      "hookline.endpoint.id": endpoint?.id,
      "hookline.message.id": sent.id,
      "hookline.event_type": "invoice.paid",
      "hookline.attempt.number": 1,
      "http.request.method": "POST",
      "http.response.status_code": 200,
    });
    expect(attempt.attributes["hookline.attempt.duration_ms"]).toBeTypeOf("number");
    expect(attempt.attributes["error.type"]).toBeUndefined();
    expect(attempt.status.code).toBe(SpanStatusCode.UNSET);

    // The message keeps the send span's traceparent; the receiver gets the attempt's own span as parent.
    expect((await h.hl.messages.get(sent.id)).traceparent).toBe(`00-${TRACE_ID}-${send.spanContext().spanId}-01`);
    expect(receiver.requests[0]?.headers.traceparent).toBe(`00-${TRACE_ID}-${attempt.spanContext().spanId}-01`);
  });

  it("continues the request's traceparent when no propagator is registered", async () => {
    propagation.disable();
    try {
      receiver = await startServer();
      const { h, port, appId } = await listeningHarness(receiver.url);
      await postMessage(h, port, appId, { traceparent: CALLER_TRACEPARENT });
      expect(await h.hl.processDue()).toBe(1);
      const request = only("POST /api/v1/app/:app_id/msg");
      expect(request.spanContext().traceId).toBe(TRACE_ID);
      expect(request.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
      const header = String(receiver.requests[0]?.headers.traceparent);
      expect(TRACEPARENT_SHAPE.exec(header)?.[1]).toBe(TRACE_ID);
    } finally {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it("starts a new trace for a request without traceparent, and still sends one", async () => {
    receiver = await startServer();
    const { h, port, appId } = await listeningHarness(receiver.url);
    await postMessage(h, port, appId);
    expect(await h.hl.processDue()).toBe(1);
    const request = only("POST /api/v1/app/:app_id/msg");
    expect(request.parentSpanContext).toBeUndefined();
    const attempt = only("hookline.attempt");
    expect(attempt.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(receiver.requests[0]?.headers.traceparent).toBe(formatTraceparent(attempt.spanContext()));
  });

  it("names a request's span after its route, or its method alone when no route matches; 4xx is no error", async () => {
    receiver = await startServer();
    const { port, appId } = await listeningHarness(receiver.url);
    const unauthorised = await fetch(`http://127.0.0.1:${port}/api/v1/app/${appId}/msg`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: CALLER_TRACEPARENT },
      body: "{}",
    });
    expect(unauthorised.status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/no/such/route`)).status).toBe(404);
    const denied = only("POST /api/v1/app/:app_id/msg");
    expect(denied.attributes["http.response.status_code"]).toBe(401);
    expect(denied.status.code).toBe(SpanStatusCode.UNSET);
    expect(denied.spanContext().traceId).toBe(TRACE_ID);
    const unmatched = only("GET");
    expect(unmatched.attributes).toEqual({ "http.request.method": "GET", "http.response.status_code": 404 });
    expect(spansNamed("hookline.send")).toEqual([]);
  });

  it("marks an attempt answered 500 as an error, one span per attempt", async () => {
    receiver = await startServer(() => ({ status: 500, body: "down" }));
    engine = await createHookline({
      store: memoryStore(),
      allowPrivateNetworks: true,
      retrySchedule: [0, 0],
      retryJitterRatio: 0,
    });
    const endpoint = await engine.endpoints.create({ url: receiver.url });
    const sent = await engine.send({ eventType: "a.b", payload: {}, traceparent: CALLER_TRACEPARENT });
    expect(await engine.processDue()).toBe(2);
    const attempts = spansNamed("hookline.attempt").sort(
      (a, b) => Number(a.attributes["hookline.attempt.number"]) - Number(b.attributes["hookline.attempt.number"]),
    );
    expect(attempts.map((a) => a.attributes["hookline.attempt.number"])).toEqual([1, 2]);
    for (const attempt of attempts) {
      expect(attempt.spanContext().traceId).toBe(TRACE_ID);
      expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
      expect(attempt.attributes).toMatchObject({
        "hookline.endpoint.id": endpoint.id,
        "hookline.message.id": sent.messageId,
        "http.response.status_code": 500,
        "error.type": "500",
      });
    }
    expect(receiver.requests.map((r) => TRACEPARENT_SHAPE.exec(String(r.headers.traceparent))?.[2])).toEqual(
      attempts.map((a) => a.spanContext().spanId),
    );
  });

  it("gives an attempt that cannot connect its error code", async () => {
    // A port that was just free: nothing listens there.
    const closed = await startServer();
    const url = closed.url;
    await closed.close();
    engine = await createHookline({ store: memoryStore(), allowPrivateNetworks: true, retrySchedule: [0] });
    await engine.endpoints.create({ url });
    await engine.send({ eventType: "a.b", payload: {} });
    expect(await engine.processDue()).toBe(1);
    const attempt = only("hookline.attempt");
    expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempt.attributes["http.response.status_code"]).toBeUndefined();
    const stored = (await engine.attempts.list({})).data[0];
    expect(stored?.errorCode).toMatch(/^HOOKLINE_/);
    expect(attempt.attributes["error.type"]).toBe(stored?.errorCode);
  });

  it("continues the active context of library code that calls send()", async () => {
    const manager = new AsyncLocalContextManager();
    context.setGlobalContextManager(manager);
    try {
      receiver = await startServer();
      engine = await createHookline({ store: memoryStore(), allowPrivateNetworks: true });
      await engine.endpoints.create({ url: receiver.url });
      const tracer = trace.getTracer("app-under-test");
      const hl = engine;
      const { caller, sent } = await tracer.startActiveSpan("checkout", async (caller) => {
        const sent = await hl.send({ eventType: "order.placed", payload: { id: 1 } });
        caller.end();
        return { caller, sent };
      });
      expect(await engine.processDue()).toBe(1);
      const send = only("hookline.send");
      const attempt = only("hookline.attempt");
      const traceId = caller.spanContext().traceId;
      expect(send.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
      expect(send.attributes).toMatchObject({ "hookline.event_type": "order.placed", "hookline.delivery.count": 1 });
      expect(attempt.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
      expect(sent.message.traceparent).toBe(formatTraceparent(send.spanContext()));
      expect(TRACEPARENT_SHAPE.exec(String(receiver.requests[0]?.headers.traceparent))?.[1]).toBe(traceId);
    } finally {
      context.disable();
    }
  });

  it("records a send that fails with an error status", async () => {
    engine = await createHookline({ store: memoryStore() });
    await expect(engine.send({ eventType: "a.b", payload: 1n })).rejects.toThrow();
    const send = only("hookline.send");
    expect(send.status.code).toBe(SpanStatusCode.ERROR);
    expect(send.attributes["hookline.message.id"]).toBeUndefined();
  });
});

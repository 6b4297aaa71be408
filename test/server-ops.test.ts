import { Writable } from "node:stream";
import { pino } from "pino";
import { register as globalRegistry } from "prom-client";
import { afterEach, describe, expect, test } from "vitest";
import { buildServer } from "../src/server.js";
import { type ServerHarness, startHarness } from "./server-harness.js";
import { startServer, type TestServer } from "./support/http-server.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(options: Parameters<typeof startHarness>[0] = {}): Promise<ServerHarness> {
  const h = await startHarness(options);
  cleanups.push(() => h.close());
  return h;
}

async function receiver(respond?: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(respond);
  cleanups.push(() => server.close());
  return server;
}

/** `name{labels} value` lines of a Prometheus exposition, as a map. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const space = line.lastIndexOf(" ");
    map.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return map;
}

describe("/metrics", () => {
  test("deliveries by outcome, attempt durations, queue depth, oldest due age, disabled endpoints, HTTP requests", async () => {
    const ok = await receiver(() => ({ status: 200 }));
    const broken = await receiver(() => ({ status: 500 }));
    const h = await harness({ engine: { retrySchedule: [0, 60_000] } });
    const appId = await h.createApp();
    const create = (url: string, extra: Record<string, unknown> = {}) =>
      h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url, ...extra } });
    await create(ok.url, { filterTypes: ["good"] });
    await create(broken.url, { filterTypes: ["bad"] });
    await create("https://disabled.example", { disabled: true });
    await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "good", payload: {} } });
    await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "bad", payload: {} } });
    expect(await h.hl.processDue()).toBe(2);

    const response = await h.call("GET", "/metrics", { token: null });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = samples(response.body);
    expect(m.get('hookline_deliveries_total{outcome="succeeded"}')).toBe(1);
    expect(m.get('hookline_deliveries_total{outcome="failed"}')).toBe(1);
    expect(m.get('hookline_deliveries_total{outcome="exhausted"}')).toBe(0);
    expect(m.get("hookline_attempt_duration_seconds_count")).toBe(2);
    const durationSum = m.get("hookline_attempt_duration_seconds_sum") ?? -1;
    expect(durationSum).toBeGreaterThan(0);
    expect(durationSum).toBeLessThan(60);
    expect(m.get('hookline_queue_depth{status="delivered"}')).toBe(1);
    expect(m.get('hookline_queue_depth{status="pending"}')).toBe(1); // the failed one, retrying in a minute
    expect(m.get('hookline_queue_depth{status="failed"}')).toBe(0);
    // The only pending delivery is due in the future: nothing is overdue.
    expect(m.get("hookline_oldest_due_delivery_age_seconds")).toBe(0);
    expect(m.get("hookline_endpoints_disabled")).toBe(1);
    expect(m.get("hookline_store_up")).toBe(1);
    expect(m.get('hookline_http_requests_total{method="POST",route="/api/v1/app/:app_id/msg",status_code="202"}')).toBe(
      2,
    );
    expect(
      m.get('hookline_http_request_duration_seconds_count{method="POST",route="/api/v1/app/:app_id/endpoint"}'),
    ).toBe(3);
  });

  test("the age of the oldest due delivery grows while nothing delivers it", async () => {
    const h = await harness();
    const appId = await h.createApp();
    await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: "https://nowhere.example" } });
    await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "x", payload: {} } });
    const sentAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const m = samples((await h.call("GET", "/metrics", { token: null })).body);
    const age = m.get("hookline_oldest_due_delivery_age_seconds") ?? -1;
    expect(age).toBeGreaterThanOrEqual(0.02);
    expect(age).toBeLessThanOrEqual((Date.now() - sentAt) / 1000 + 0.1);
    expect(m.get('hookline_queue_depth{status="pending"}')).toBe(1);
  });

  test("each server has its own registry: nothing in prom-client's global one, two servers side by side", async () => {
    const h = await harness();
    const second = await buildServer({ hookline: h.hl });
    cleanups.push(() => second.close());
    expect((await second.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    const globalNames = (await globalRegistry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(globalNames.filter((name) => name.startsWith("hookline_"))).toEqual([]);
    // Closing a server stops its counters listening to the engine.
    const listeners = h.hl.listenerCount("delivery:succeeded");
    await second.close();
    expect(h.hl.listenerCount("delivery:succeeded")).toBe(listeners - 1);
  });
});

describe("/openapi.json", () => {
  const expected = [
    "GET /api/v1/health",
    "GET /api/v1/app",
    "POST /api/v1/app",
    "GET /api/v1/app/{app_id}",
    "PUT /api/v1/app/{app_id}",
    "PATCH /api/v1/app/{app_id}",
    "DELETE /api/v1/app/{app_id}",
    "GET /api/v1/app/{app_id}/endpoint",
    "POST /api/v1/app/{app_id}/endpoint",
    "GET /api/v1/app/{app_id}/endpoint/{endpoint_id}",
    "PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}",
    "PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}",
    "DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}",
    "GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret",
    "POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
    "POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover",
    "GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
    "PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
    "PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
    "GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats",
    "POST /api/v1/app/{app_id}/msg",
    "GET /api/v1/app/{app_id}/msg",
    "GET /api/v1/app/{app_id}/msg/{msg_id}",
    "DELETE /api/v1/app/{app_id}/msg/{msg_id}/content",
    "GET /api/v1/app/{app_id}/attempt/msg/{msg_id}",
    "GET /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
    "GET /api/v1/app/{app_id}/attempt",
    "GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
    "GET /api/v1/app/{app_id}/stats/endpoint-health",
    "GET /api/v1/app/{app_id}/stats/hourly",
    "POST /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
    "GET /api/v1/event-type",
    "POST /api/v1/event-type",
    "GET /api/v1/event-type/{event_type_name}",
    "PUT /api/v1/event-type/{event_type_name}",
    "PATCH /api/v1/event-type/{event_type_name}",
    "DELETE /api/v1/event-type/{event_type_name}",
    "GET /api/v1/app/{app_id}/source",
    "POST /api/v1/app/{app_id}/source",
    "GET /api/v1/app/{app_id}/source/{source_id}",
    "POST /api/v1/app/{app_id}/source/{source_id}/secret/rotate",
    "DELETE /api/v1/app/{app_id}/source/{source_id}",
    "POST /in/{source_id}",
    "POST /api/v1/auth/api-key",
    "POST /api/v1/auth/app-portal-access/{app_id}",
    "GET /metrics",
    "GET /openapi.json",
    "GET /healthz",
    "GET /readyz",
  ];

  test("OpenAPI 3.1 listing every route the server answers, and only those", async () => {
    const h = await harness();
    const response = await h.call("GET", "/openapi.json", { token: null });
    expect(response.statusCode).toBe(200);
    const doc = response.json() as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe("3.1.0");
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual([...expected].sort());
    const ids = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const url = path.replace(/\{([a-z_]+)\}/g, ":$1");
        expect(h.server.hasRoute({ method: method.toUpperCase() as "GET", url })).toBe(true);
        expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
        expect(ids.has(operation.operationId)).toBe(false);
        ids.add(operation.operationId);
      }
    }
    // Every $ref points at a component that exists.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([A-Za-z]+)"/g)].map((r) => r[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const name of refs) expect(doc.components.schemas).toHaveProperty(name as string);
    const create = doc.paths["/api/v1/app/{app_id}/endpoint"]?.post as unknown as {
      requestBody: { content: { "application/json": { schema: { properties: Record<string, unknown> } } } };
    };
    expect(Object.keys(create.requestBody.content["application/json"].schema.properties)).toEqual(
      expect.arrayContaining(["url", "filterTypes", "rateLimit", "secret", "channels", "uid", "metadata"]),
    );
  });
});

describe("logs", () => {
  test("JSON lines; no secret, token or Authorization header ever appears", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: "debug" }, stream);
    const h = await harness({ logger, store: "sqlite" });
    const appId = await h.createApp();
    const secret = `whsec_${Buffer.alloc(24, 3).toString("base64")}`;
    const rotated = `whsec_${Buffer.alloc(24, 4).toString("base64")}`;
    const endpoint = (
      await h.call("POST", `/api/v1/app/${appId}/endpoint`, {
        body: { url: "https://a.example", secret, headers: { Authorization: "Bearer downstream-credential" } },
        headers: { "idempotency-key": "idem-key-value" },
      })
    ).json();
    await h.call("GET", `/api/v1/app/${appId}/endpoint/${endpoint.id}/secret`);
    await h.call("POST", `/api/v1/app/${appId}/endpoint/${endpoint.id}/secret/rotate`, { body: { key: rotated } });
    await h.call("POST", `/api/v1/app/${appId}/endpoint`, {
      body: { url: "https://a.example", secret: "whsec_%%bad" },
    });
    const key = (await h.call("POST", "/api/v1/auth/api-key", { body: { appId } })).json() as { token: string };
    await h.call("GET", `/api/v1/app/${appId}`, { token: key.token });
    await h.call("GET", "/api/v1/app", { token: "hl_wrong-token-value" });
    // The server's logger redacts fields named like credentials, should anything log them.
    h.server.log.info({ secret, token: key.token, nested: { authorization: "Bearer x", key: "k" } }, "probe");
    await h.store.close(); // a 503 is logged with its error
    await h.call("GET", `/api/v1/app/${appId}`);

    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const text = lines.join("\n");
    // One line per request, when it ends, naming the request and its outcome.
    const completed = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === "request completed");
    expect(completed.map((entry) => `${entry.req.method} ${entry.res.statusCode}`)).toContain("GET 401");
    expect(text).not.toContain("incoming request");
    const probe = completed.find((entry) => entry.req.url === `/api/v1/app/${appId}` && entry.res.statusCode === 200);
    expect(probe).toMatchObject({
      req: { method: "GET", remoteAddress: expect.any(String) },
      responseTime: expect.any(Number),
    });
    expect(text).toContain('"statusCode":503');
    expect(text).toContain('"msg":"request failed"');
    for (const forbidden of [
      h.adminToken,
      key.token,
      "hl_wrong-token-value",
      secret,
      rotated,
      secret.slice(6),
      "downstream-credential",
      "idem-key-value",
      "Bearer",
      "%%bad",
    ]) {
      expect(text).not.toContain(forbidden);
    }
    expect(text).toContain("[redacted]");
  });

  test("logger: true builds a default JSON logger; false or nothing builds none", async () => {
    const h = await harness();
    const quiet = await buildServer({ hookline: h.hl, logger: false });
    const loud = await buildServer({ hookline: h.hl, logger: true });
    cleanups.push(async () => {
      await quiet.close();
      await loud.close();
    });
    expect((await quiet.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect(loud.log.level).toBe("info");
    await expect(buildServer({ hookline: h.hl, bodyLimitBytes: 0 })).rejects.toThrow(/bodyLimitBytes/);
  });
});

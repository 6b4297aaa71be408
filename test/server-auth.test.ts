import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createHookline, type Hookline } from "../src/index.js";
import { type SqliteStore, sqliteStore } from "../src/sqlite.js";
import { type ServerHarness, startHarness } from "./server-harness.js";
import { startServer, type TestServer } from "./support/http-server.js";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

interface Fixture {
  appId: string;
  appUid: string;
  appName: string;
  endpointId: string;
  endpointUrl: string;
  secret: string;
  messageId: string;
  attemptId: string;
  sourceId: string;
}

let h: ServerHarness;
let server: TestServer;
let a: Fixture;
let b: Fixture;
let tokenB: string;

/** An app with an endpoint, a delivered message and its attempt, made by the admin. */
async function fixture(name: string, uid: string): Promise<Fixture> {
  const appId = await h.createApp(name, uid);
  const endpointUrl = `${server.url}/${uid}`;
  const endpoint = (
    await h.call("POST", `/api/v1/app/${appId}/endpoint`, {
      body: { url: endpointUrl, headers: { "x-owner": `${name}-private-header` } },
    })
  ).json() as { id: string };
  const message = (
    await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "order.created", payload: { owner: `${name}-private-payload` } },
    })
  ).json() as { id: string };
  await h.hl.processDue();
  const attempt = (await h.hl.attempts.list({ messageId: message.id })).data[0];
  if (!attempt) throw new Error("no attempt");
  return {
    appId,
    appUid: uid,
    appName: name,
    endpointId: endpoint.id,
    endpointUrl,
    secret: (await h.hl.endpoints.get(endpoint.id)).secret,
    messageId: message.id,
    attemptId: attempt.id,
    sourceId: (await h.hl.sources.create({ appId, provider: "github", secret: `${name}-private-source-secret` })).id,
  };
}

/** Everything stored about an app, to show a refused request changed nothing. */
async function snapshot(f: Fixture) {
  return {
    app: await h.hl.apps.get(f.appId),
    endpoints: (await h.hl.endpoints.list({ appId: f.appId })).data,
    messages: (await h.hl.messages.list({ appId: f.appId })).data,
    deliveries: (await h.hl.deliveries.list({ appId: f.appId })).data,
    attempts: (await h.hl.attempts.list({ appId: f.appId })).data,
    eventTypes: (await h.hl.eventTypes.list({ includeArchived: true })).data,
    keys: (await h.hl.apiKeys.list()).data,
    sources: (await h.hl.sources.list(f.appId)).data,
  };
}

interface Row {
  method: Method;
  /** Fastify-style route, as in /openapi.json. */
  route: string;
  path: () => string;
  body?: () => unknown;
  /** What another app's key gets: the 403 of another app's data, or the 403 of an admin-only route. */
  foreign: "app" | "admin";
}

const rows: Row[] = [
  { method: "GET", route: "/api/v1/app", path: () => "/api/v1/app", foreign: "admin" },
  { method: "POST", route: "/api/v1/app", path: () => "/api/v1/app", body: () => ({ name: "x" }), foreign: "admin" },
  { method: "GET", route: "/api/v1/app/{app_id}", path: () => `/api/v1/app/${a.appId}`, foreign: "app" },
  {
    method: "PUT",
    route: "/api/v1/app/{app_id}",
    path: () => `/api/v1/app/${a.appId}`,
    body: () => ({ name: "hijacked" }),
    foreign: "app",
  },
  {
    method: "PATCH",
    route: "/api/v1/app/{app_id}",
    path: () => `/api/v1/app/${a.appId}`,
    body: () => ({ name: "hijacked" }),
    foreign: "app",
  },
  { method: "DELETE", route: "/api/v1/app/{app_id}", path: () => `/api/v1/app/${a.appId}`, foreign: "admin" },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/endpoint",
    path: () => `/api/v1/app/${a.appId}/endpoint`,
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/endpoint",
    path: () => `/api/v1/app/${a.appId}/endpoint`,
    body: () => ({ url: "https://evil.example/hook" }),
    foreign: "app",
  },
  ...(["GET", "DELETE"] as const).map(
    (method): Row => ({
      method,
      route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
      path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}`,
      foreign: "app",
    }),
  ),
  ...(["PUT", "PATCH"] as const).map(
    (method): Row => ({
      method,
      route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
      path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}`,
      body: () => ({ url: "https://evil.example/hook" }),
      foreign: "app",
    }),
  ),
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret",
    path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}/secret`,
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
    path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}/secret/rotate`,
    body: () => ({}),
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover",
    path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}/recover`,
    body: () => ({ since: new Date(0).toISOString() }),
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
    path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}/headers`,
    foreign: "app",
  },
  ...(["PUT", "PATCH"] as const).map(
    (method): Row => ({
      method,
      route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
      path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}/headers`,
      body: () => ({ headers: { "x-evil": "1" } }),
      foreign: "app",
    }),
  ),
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats",
    path: () => `/api/v1/app/${a.appId}/endpoint/${a.endpointId}/stats`,
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/msg",
    path: () => `/api/v1/app/${a.appId}/msg`,
    body: () => ({ eventType: "order.created", payload: {} }),
    foreign: "app",
  },
  { method: "GET", route: "/api/v1/app/{app_id}/msg", path: () => `/api/v1/app/${a.appId}/msg`, foreign: "app" },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/msg/{msg_id}",
    path: () => `/api/v1/app/${a.appId}/msg/${a.messageId}`,
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/attempt/msg/{msg_id}",
    path: () => `/api/v1/app/${a.appId}/attempt/msg/${a.messageId}`,
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
    path: () => `/api/v1/app/${a.appId}/attempt/endpoint/${a.endpointId}`,
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/attempt",
    path: () => `/api/v1/app/${a.appId}/attempt`,
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
    path: () => `/api/v1/app/${a.appId}/msg/${a.messageId}/attempt/${a.attemptId}`,
    foreign: "app",
  },
  { method: "GET", route: "/api/v1/app/{app_id}/source", path: () => `/api/v1/app/${a.appId}/source`, foreign: "app" },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/source",
    path: () => `/api/v1/app/${a.appId}/source`,
    body: () => ({ provider: "github", secret: "evil" }),
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/source/{source_id}",
    path: () => `/api/v1/app/${a.appId}/source/${a.sourceId}`,
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/source/{source_id}/secret/rotate",
    path: () => `/api/v1/app/${a.appId}/source/${a.sourceId}/secret/rotate`,
    body: () => ({ secret: "evil" }),
    foreign: "app",
  },
  {
    method: "DELETE",
    route: "/api/v1/app/{app_id}/source/{source_id}",
    path: () => `/api/v1/app/${a.appId}/source/${a.sourceId}`,
    foreign: "app",
  },
  {
    method: "DELETE",
    route: "/api/v1/app/{app_id}/msg/{msg_id}/content",
    path: () => `/api/v1/app/${a.appId}/msg/${a.messageId}/content`,
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
    path: () => `/api/v1/app/${a.appId}/msg/${a.messageId}/endpoint/${a.endpointId}/resend`,
    foreign: "app",
  },
  {
    method: "POST",
    route: "/api/v1/event-type",
    path: () => "/api/v1/event-type",
    body: () => ({ name: "evil.type", description: "" }),
    foreign: "admin",
  },
  ...(["PUT", "PATCH"] as const).map(
    (method): Row => ({
      method,
      route: "/api/v1/event-type/{event_type_name}",
      path: () => "/api/v1/event-type/order.created",
      body: () => ({ description: "hijacked" }),
      foreign: "admin",
    }),
  ),
  {
    method: "DELETE",
    route: "/api/v1/event-type/{event_type_name}",
    path: () => "/api/v1/event-type/order.created",
    foreign: "admin",
  },
  {
    method: "POST",
    route: "/api/v1/auth/api-key",
    path: () => "/api/v1/auth/api-key",
    body: () => ({ appId: a.appId }),
    foreign: "admin",
  },
  {
    method: "POST",
    route: "/api/v1/auth/app-portal-access/{app_id}",
    path: () => `/api/v1/auth/app-portal-access/${a.appId}`,
    body: () => ({}),
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/stats/hourly",
    path: () => `/api/v1/app/${a.appId}/stats/hourly`,
    foreign: "app",
  },
  {
    method: "GET",
    route: "/api/v1/app/{app_id}/stats/endpoint-health",
    path: () => `/api/v1/app/${a.appId}/stats/endpoint-health`,
    foreign: "app",
  },
];

/** Routes every key may read: the event type catalogue is shared by all apps. */
const sharedReads: Array<{ method: Method; route: string; path: string }> = [
  { method: "GET", route: "/api/v1/event-type", path: "/api/v1/event-type" },
  { method: "GET", route: "/api/v1/event-type/{event_type_name}", path: "/api/v1/event-type/order.created" },
];

const PUBLIC = new Set(["/api/v1/health", "/healthz", "/readyz", "/metrics", "/openapi.json"]);
/** Routes without an API key that check something else: an inbound source, the provider's signature (sources.test.ts). */
const SIGNED = new Set(["/in/{source_id}"]);

beforeAll(async () => {
  server = await startServer();
  h = await startHarness();
  await h.hl.eventTypes.create({ name: "order.created", description: "shared" });
  a = await fixture("alpha", "tenant-alpha");
  b = await fixture("beta", "tenant-beta");
  tokenB = await h.appToken(b.appId);
});

afterAll(async () => {
  await h?.close();
  await server?.close();
});

/** Nothing of app A in a body: ids other than the one asked for, names, URLs, secrets, headers, payloads. */
function expectNoLeak(body: string, askedFor: string) {
  for (const secretThing of [a.appName, a.endpointUrl, a.secret, "alpha-private", a.attemptId]) {
    expect(body).not.toContain(secretThing);
  }
  for (const id of [a.appId, a.appUid, a.endpointId, a.messageId]) {
    if (!askedFor.includes(id)) expect(body).not.toContain(id);
  }
}

describe("auth over every route", () => {
  test("the table covers every authenticated route in /openapi.json", async () => {
    const doc = (await h.call("GET", "/openapi.json", { token: null })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths)
      .filter(([path]) => !PUBLIC.has(path) && !SIGNED.has(path))
      .flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const covered = [...rows.map((r) => `${r.method} ${r.route}`), ...sharedReads.map((r) => `${r.method} ${r.route}`)];
    expect([...new Set(covered)].sort()).toEqual(documented);
  });

  test.each(rows.map((row) => [`${row.method} ${row.route}`, row] as const))(
    "%s: no key → 401, an unknown key → 401, another app's key → 403, and nothing changes",
    async (_name, row) => {
      const before = await snapshot(a);
      const body = row.body?.();
      const call = (token: string | null) =>
        h.call(row.method, row.path(), { token, ...(body !== undefined && { body }) });

      const anonymous = await call(null);
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toEqual({
        code: "authentication_failed",
        detail: "send an API key as Authorization: Bearer <token>",
      });
      const unknown = await call("hl_not-a-real-key");
      expect(unknown.statusCode).toBe(401);
      expect(unknown.json()).toEqual({ code: "authentication_failed", detail: "invalid API key" });
      expect(unknown.headers["www-authenticate"]).toBe('Bearer realm="hookline"');

      const foreign = await call(tokenB);
      expect(foreign.statusCode).toBe(403);
      if (row.foreign === "app") {
        // Exactly what the key gets for an app that does not exist: nothing tells the two apart.
        expect(foreign.json()).toEqual({ code: "forbidden", detail: "this API key is scoped to another app" });
        const missing = await h.call(row.method, row.path().replace(a.appId, "app_00000000000000000000000000"), {
          token: tokenB,
          ...(body !== undefined && { body }),
        });
        expect(missing.statusCode).toBe(403);
        expect(missing.body).toBe(foreign.body);
      } else {
        expect(foreign.json()).toEqual({
          code: "forbidden",
          detail: "this API key is scoped to one app; this route needs the admin key",
        });
      }
      expectNoLeak(foreign.body, row.path());
      expect(await snapshot(a)).toEqual(before);
    },
  );

  test("an app is also refused when addressed by its uid", async () => {
    const response = await h.call("GET", `/api/v1/app/${a.appUid}`, { token: tokenB });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ code: "forbidden", detail: "this API key is scoped to another app" });
  });

  test("inside its own app, a key cannot reach another app's endpoints, messages or attempts", async () => {
    const before = await snapshot(a);
    const own = `/api/v1/app/${b.appId}`;
    const cases: Array<[Method, string, string, unknown?]> = [
      ["GET", `${own}/endpoint/${a.endpointId}`, `endpoint "${a.endpointId}" not found`],
      ["GET", `${own}/endpoint/${a.endpointId}/secret`, `endpoint "${a.endpointId}" not found`],
      ["PATCH", `${own}/endpoint/${a.endpointId}`, `endpoint "${a.endpointId}" not found`, { disabled: true }],
      ["DELETE", `${own}/endpoint/${a.endpointId}`, `endpoint "${a.endpointId}" not found`],
      ["POST", `${own}/endpoint/${a.endpointId}/secret/rotate`, `endpoint "${a.endpointId}" not found`, {}],
      ["GET", `${own}/msg/${a.messageId}`, `message "${a.messageId}" not found`],
      ["GET", `${own}/attempt/msg/${a.messageId}`, `message "${a.messageId}" not found`],
      ["GET", `${own}/attempt/endpoint/${a.endpointId}`, `endpoint "${a.endpointId}" not found`],
      ["GET", `${own}/msg/${a.messageId}/attempt/${a.attemptId}`, `message "${a.messageId}" not found`],
      ["GET", `${own}/msg/${b.messageId}/attempt/${a.attemptId}`, `attempt "${a.attemptId}" not found`],
      ["POST", `${own}/msg/${a.messageId}/endpoint/${b.endpointId}/resend`, `message "${a.messageId}" not found`],
      ["POST", `${own}/msg/${b.messageId}/endpoint/${a.endpointId}/resend`, `endpoint "${a.endpointId}" not found`],
    ];
    for (const [method, path, detail, body] of cases) {
      const response = await h.call(method, path, { token: tokenB, ...(body !== undefined && { body }) });
      expect({ path, status: response.statusCode, body: response.json() }).toEqual({
        path,
        status: 404,
        body: { code: "not_found", detail },
      });
    }
    expect(await snapshot(a)).toEqual(before);
  });

  test("an app key works on its own app and reads the shared event types", async () => {
    expect((await h.call("GET", `/api/v1/app/${b.appId}/endpoint/${b.endpointId}`, { token: tokenB })).statusCode).toBe(
      200,
    );
    expect((await h.call("GET", `/api/v1/app/${b.appUid}/msg`, { token: tokenB })).json().data).toHaveLength(1);
    for (const read of sharedReads) {
      expect((await h.call(read.method, read.path, { token: tokenB })).statusCode).toBe(200);
      expect((await h.call(read.method, read.path, { token: null })).statusCode).toBe(401);
    }
  });

  test("public routes need no key; a malformed Authorization header is a 401", async () => {
    for (const path of PUBLIC) expect((await h.call("GET", path, { token: null })).statusCode).toBeLessThan(300);
    for (const header of ["Basic abc", "Bearer", "Bearer a b", `bearer${h.adminToken}`]) {
      const response = await h.server.inject({ method: "GET", url: "/api/v1/app", headers: { authorization: header } });
      expect(response.statusCode).toBe(401);
    }
    const lowercase = await h.server.inject({
      method: "GET",
      url: "/api/v1/app",
      headers: { authorization: `bearer ${h.adminToken}` },
    });
    expect(lowercase.statusCode).toBe(200);
  });
});

describe("keys and apps read once a second per process, over a real socket", () => {
  let wire: ServerHarness;
  let other: Hookline;
  let base: string;
  const get = (path: string, token: string) =>
    fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

  beforeAll(async () => {
    // A short TTL, and a second engine on the same SQLite file standing for another process (the CLI).
    wire = await startHarness({ store: "sqlite", engine: { readCacheTtlMs: 300 } });
    await wire.server.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(wire.server.server.address() as AddressInfo).port}`;
    other = await createHookline({ store: sqliteStore({ path: (wire.store as SqliteStore).path }) });
  });
  afterAll(async () => {
    await other.close();
    await wire.close();
  });

  test("a key deleted by another process answers 401 within the TTL; one revoked here, at once", async () => {
    const appId = await wire.createApp("cache-wire", "cache-wire");
    const mint = async () => {
      const response = await fetch(`${base}/api/v1/auth/api-key`, {
        method: "POST",
        headers: { authorization: `Bearer ${wire.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ appId }),
      });
      expect(response.status).toBe(201);
      return (await response.json()) as { id: string; token: string };
    };
    const first = await mint();
    expect(await get(`/api/v1/app/${appId}`, first.token)).toBe(200);
    await other.apiKeys.delete(first.id);
    const deletedAt = performance.now();
    while ((await get(`/api/v1/app/${appId}`, first.token)) === 200) {
      expect(performance.now() - deletedAt).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await get(`/api/v1/app/${appId}`, first.token)).toBe(401);

    // Deleting the app through this server revokes its keys and forgets the app at once.
    const second = await mint();
    expect(await get(`/api/v1/app/${appId}`, second.token)).toBe(200);
    const deleted = await fetch(`${base}/api/v1/app/${appId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${wire.adminToken}` },
    });
    expect(deleted.status).toBe(204);
    expect(await get(`/api/v1/app/${appId}`, second.token)).toBe(401);
    expect(await get(`/api/v1/app/${appId}`, wire.adminToken)).toBe(404);
  });

  test("an app and a key created by another process work at once", async () => {
    const app = await other.apps.create({ name: "made-elsewhere", uid: "made-elsewhere" });
    expect(await get("/api/v1/app/made-elsewhere", wire.adminToken)).toBe(200);
    const { token } = await other.apiKeys.create({ appId: app.id });
    expect(await get(`/api/v1/app/${app.id}`, token)).toBe(200);
  });
});

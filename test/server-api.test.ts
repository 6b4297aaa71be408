import { createHmac } from "node:crypto";
import { afterEach, describe, expect, test } from "vitest";
import type { z } from "zod";
import * as schemas from "../src/server/schemas.js";
import { type ServerHarness, startHarness } from "./server-harness.js";
import { type ReceivedRequest, startServer, type TestServer } from "./support/http-server.js";

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

/** The body has exactly the documented fields (no more, no fewer) with the documented types. */
function expectShape<T extends z.ZodObject>(schema: T, body: unknown): z.output<T> {
  return schema.strict().parse(body) as z.output<T>;
}

const whsecKey = (secret: string) => Buffer.from(secret.slice("whsec_".length), "base64");

/** Every v1 signature of a request, checked with node:crypto against `secret`. */
function signedWith(request: ReceivedRequest, secret: string): boolean {
  const id = String(request.headers["svix-id"]);
  const ts = String(request.headers["svix-timestamp"]);
  const expected = createHmac("sha256", whsecKey(secret)).update(`${id}.${ts}.${request.body}`).digest("base64");
  return String(request.headers["svix-signature"]).split(" ").includes(`v1,${expected}`);
}

describe("applications", () => {
  test("create, get by id and uid, list, PUT (update and create), PATCH, DELETE", async () => {
    const h = await harness();
    const created = await h.call("POST", "/api/v1/app", {
      body: { name: "Acme", uid: "acme", metadata: { plan: "pro" } },
    });
    expect(created.statusCode).toBe(201);
    const app = expectShape(schemas.applicationOut, created.json());
    expect(app).toMatchObject({ name: "Acme", uid: "acme", metadata: { plan: "pro" }, rateLimit: null });
    expect(app.id).toMatch(/^app_/);
    expect(new Date(app.createdAt).toISOString()).toBe(app.createdAt);

    expect((await h.call("GET", `/api/v1/app/${app.id}`)).json()).toEqual(app);
    expect((await h.call("GET", "/api/v1/app/acme")).json()).toEqual(app);

    const list = await h.call("GET", "/api/v1/app?limit=10");
    const page = expectShape(schemas.listResponse(schemas.applicationOut), list.json());
    expect(page).toMatchObject({ done: true, iterator: null, prevIterator: `-${page.data[0]?.id}` });
    expect(page.data.map((a) => a.id)).toContain(app.id);

    const put = await h.call("PUT", "/api/v1/app/acme", { body: { name: "Acme Inc" } });
    expect(put.statusCode).toBe(200);
    // PUT replaces: metadata left out is emptied; the uid it was addressed by stays.
    expect(put.json()).toMatchObject({ id: app.id, name: "Acme Inc", uid: "acme", metadata: {} });

    const upserted = await h.call("PUT", "/api/v1/app/globex", { body: { name: "Globex" } });
    expect(upserted.statusCode).toBe(201);
    expect(upserted.json()).toMatchObject({ name: "Globex", uid: "globex" });

    const patched = await h.call("PATCH", "/api/v1/app/acme", { body: { metadata: { tier: "gold" } } });
    expect(patched.json()).toMatchObject({ name: "Acme Inc", metadata: { tier: "gold" } });

    const taken = await h.call("PATCH", "/api/v1/app/acme", { body: { uid: "globex" } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ code: "conflict" });

    expect((await h.call("DELETE", "/api/v1/app/acme")).statusCode).toBe(204);
    const gone = await h.call("GET", "/api/v1/app/acme");
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toEqual({ code: "not_found", detail: 'app "acme" not found' });
  });

  test("get_if_exists returns the app with that uid (200) instead of a 409", async () => {
    const h = await harness();
    const first = await h.call("POST", "/api/v1/app?get_if_exists=true", { body: { name: "A", uid: "a-1" } });
    expect(first.statusCode).toBe(201);
    const again = await h.call("POST", "/api/v1/app?get_if_exists=true", { body: { name: "other", uid: "a-1" } });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    const conflict = await h.call("POST", "/api/v1/app", { body: { name: "A", uid: "a-1" } });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().code).toBe("conflict");
  });

  test("listing pages with the iterator, newest first", async () => {
    const h = await harness();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await h.createApp(`app ${i}`));
    const seen: string[] = [];
    let iterator: string | null = null;
    for (;;) {
      const url: string = `/api/v1/app?limit=3${iterator ? `&iterator=${iterator}` : ""}`;
      const page = (await h.call("GET", url)).json() as {
        data: Array<{ id: string }>;
        iterator: string;
        done: boolean;
      };
      seen.push(...page.data.map((a) => a.id));
      if (page.done) break;
      iterator = page.iterator;
    }
    expect(seen).toEqual([...ids].reverse());
  });
});

describe("endpoints", () => {
  test("create maps Svix's fields to the engine's and back; get, list, PUT, PATCH, DELETE", async () => {
    const h = await harness();
    const appId = await h.createApp();
    const base = `/api/v1/app/${appId}/endpoint`;
    const secret = `whsec_${Buffer.alloc(24, 7).toString("base64")}`;
    const created = await h.call("POST", base, {
      body: {
        url: "https://example.com/hooks",
        description: "billing",
        filterTypes: ["invoice.paid", "invoice.voided"],
        channels: ["eu"],
        rateLimit: 20,
        uid: "billing-hook",
        metadata: { team: "payments" },
        headers: { "x-tenant": "acme" },
        secret,
        version: 1,
      },
    });
    expect(created.statusCode).toBe(201);
    const endpoint = expectShape(schemas.endpointOut, created.json());
    expect(endpoint).toMatchObject({
      url: "https://example.com/hooks",
      description: "billing",
      filterTypes: ["invoice.paid", "invoice.voided"],
      channels: ["eu"],
      rateLimit: 20,
      throttleRate: 20,
      uid: "billing-hook",
      metadata: { team: "payments" },
      disabled: false,
      version: 1,
    });
    const stored = await h.hl.endpoints.get(endpoint.id);
    expect(stored).toMatchObject({
      appId,
      eventTypes: ["invoice.paid", "invoice.voided"],
      rateLimitPerSecond: 20,
      headers: { "x-tenant": "acme" },
      secret,
    });

    expect((await h.call("GET", `${base}/${endpoint.id}`)).json()).toEqual(endpoint);
    const list = expectShape(schemas.listResponse(schemas.endpointOut), (await h.call("GET", base)).json());
    expect(list.data).toEqual([endpoint]);

    const patched = await h.call("PATCH", `${base}/${endpoint.id}`, { body: { throttleRate: 5, disabled: true } });
    expect(patched.json()).toMatchObject({ rateLimit: 5, disabled: true, description: "billing", channels: ["eu"] });

    // PUT replaces every field; those left out go back to their defaults.
    const put = await h.call("PUT", `${base}/${endpoint.id}`, { body: { url: "https://example.com/v2" } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({
      url: "https://example.com/v2",
      description: "",
      filterTypes: null,
      channels: null,
      rateLimit: null,
      disabled: false,
      uid: null,
      metadata: {},
    });
    // …except the secret and headers, which PUT does not carry.
    expect(await h.hl.endpoints.get(endpoint.id)).toMatchObject({ secret, headers: { "x-tenant": "acme" } });

    expect((await h.call("DELETE", `${base}/${endpoint.id}`)).statusCode).toBe(204);
    expect((await h.call("GET", `${base}/${endpoint.id}`)).statusCode).toBe(404);
  });

  test("secret: get, rotate with a given key and grace period; headers: get (sensitive hidden), put, patch; stats", async () => {
    const h = await harness();
    const appId = await h.createApp();
    const base = `/api/v1/app/${appId}/endpoint`;
    const endpoint = (await h.call("POST", base, { body: { url: "https://example.com/h" } })).json() as { id: string };
    const first = expectShape(schemas.endpointSecretOut, (await h.call("GET", `${base}/${endpoint.id}/secret`)).json());
    expect(first.key).toMatch(/^whsec_/);

    const next = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
    const rotated = await h.call("POST", `${base}/${endpoint.id}/secret/rotate`, {
      body: { key: next, gracePeriodSeconds: 600 },
    });
    expect(rotated.statusCode).toBe(204);
    expect(rotated.body).toBe("");
    expect((await h.call("GET", `${base}/${endpoint.id}/secret`)).json()).toEqual({ key: next });
    const secrets = (await h.hl.endpoints.get(endpoint.id)).secrets;
    expect(secrets.map((s) => s.secret)).toEqual([next, first.key]);
    const expiresAt = secrets[1]?.expiresAt ?? 0;
    expect(expiresAt - Date.now()).toBeGreaterThan(590_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(600_000);

    const put = await h.call("PUT", `${base}/${endpoint.id}/headers`, {
      body: { headers: { "x-a": "1", "x-b": "2", Authorization: "Bearer downstream" } },
    });
    expect(put.statusCode).toBe(204);
    const headers = (await h.call("GET", `${base}/${endpoint.id}/headers`)).json();
    expect(expectShape(schemas.endpointHeadersOut, headers)).toEqual({
      headers: { "x-a": "1", "x-b": "2" },
      sensitive: ["Authorization"],
    });
    const patch = await h.call("PATCH", `${base}/${endpoint.id}/headers`, {
      body: { headers: { "x-c": "3" }, deleteHeaders: ["X-A"] },
    });
    expect(patch.statusCode).toBe(204);
    expect((await h.hl.endpoints.get(endpoint.id)).headers).toEqual({
      "x-b": "2",
      Authorization: "Bearer downstream",
      "x-c": "3",
    });

    const stats = await h.call("GET", `${base}/${endpoint.id}/stats`);
    expect(expectShape(schemas.endpointStats, stats.json())).toEqual({
      success: 0,
      pending: 0,
      sending: 0,
      fail: 0,
      canceled: 0,
    });
  });
});

describe("messages and attempts", () => {
  test("a message goes out as Svix sends it: the payload alone, svix-* and webhook-* headers", async () => {
    const server = await receiver();
    const h = await harness();
    const appId = await h.createApp();
    const endpoint = (
      await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: `${server.url}/hook` } })
    ).json() as { id: string };
    const secret = (await h.hl.endpoints.get(endpoint.id)).secret;
    const created = await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "invoice.paid", eventId: "evt-1", payload: { id: "in_1", amount: 5 }, tags: ["t1"] },
    });
    expect(created.statusCode).toBe(202);
    const message = expectShape(schemas.messageOut, created.json());
    expect(message).toMatchObject({
      eventType: "invoice.paid",
      eventId: "evt-1",
      payload: { id: "in_1", amount: 5 },
      tags: ["t1"],
      channels: null,
      deliverAt: null,
    });
    expect(await h.hl.processDue()).toBe(1);
    const request = server.requests[0] as ReceivedRequest;
    expect(JSON.parse(request.body)).toEqual({ id: "in_1", amount: 5 });
    expect(request.headers["svix-id"]).toBe(message.id);
    expect(request.headers["webhook-id"]).toBe(message.id);
    expect(request.headers["svix-timestamp"]).toBe(request.headers["webhook-timestamp"]);
    expect(signedWith(request, secret)).toBe(true);

    // eventId is an idempotency key: the same one returns the first message and sends nothing more.
    const again = await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "invoice.paid", eventId: "evt-1", payload: { other: true } },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(message);
    expect(await h.hl.processDue()).toBe(0);

    const got = await h.call("GET", `/api/v1/app/${appId}/msg/${message.id}`);
    expect(got.json()).toEqual(message);
    const withoutContent = await h.call("GET", `/api/v1/app/${appId}/msg/${message.id}?with_content=false`);
    expect(withoutContent.json().payload).toEqual({});
  });

  test("list filters by event types, tags, channels, before and after", async () => {
    const h = await harness();
    const appId = await h.createApp();
    const send = async (eventType: string, extra: Record<string, unknown> = {}) => {
      // A millisecond apart, so before/after can tell the messages apart.
      const start = Date.now();
      while (Date.now() === start) await new Promise((resolve) => setTimeout(resolve, 1));
      const response = await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType, payload: {}, ...extra } });
      return response.json() as { id: string; timestamp: string };
    };
    const a = await send("a.created", { tags: ["x"] });
    const b = await send("b.created", { channels: ["eu"] });
    const c = await send("c.created");
    const ids = async (query: string) =>
      ((await h.call("GET", `/api/v1/app/${appId}/msg?${query}`)).json() as { data: Array<{ id: string }> }).data.map(
        (m) => m.id,
      );
    expect(await ids("")).toEqual([c.id, b.id, a.id]);
    expect(await ids("event_types=a.created,c.created")).toEqual([c.id, a.id]);
    expect(await ids("tag=x")).toEqual([a.id]);
    expect(await ids("channel=eu")).toEqual([b.id]);
    const afterA = new Date(Date.parse(a.timestamp)).toISOString();
    expect(await ids(`after=${encodeURIComponent(afterA)}`)).not.toContain(a.id);
    expect(await ids(`before=${encodeURIComponent(new Date(Date.parse(a.timestamp) + 1).toISOString())}`)).toEqual([
      a.id,
    ]);
  });

  test("attempts by message, by endpoint and for the whole app; one attempt; resend is a manual attempt", async () => {
    let fail = true;
    const server = await receiver(() => (fail ? { status: 500, body: "boom" } : { status: 204 }));
    const h = await harness({ engine: { retrySchedule: [0] } });
    const appId = await h.createApp();
    const endpoint = (
      await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: `${server.url}/hook` } })
    ).json() as { id: string };
    const message = (
      await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "x.y", payload: { n: 1 } } })
    ).json() as { id: string };
    expect(await h.hl.processDue()).toBe(1);

    const byMessage = (await h.call("GET", `/api/v1/app/${appId}/attempt/msg/${message.id}`)).json();
    const page = expectShape(schemas.listResponse(schemas.messageAttemptOut), byMessage);
    expect(page.data).toHaveLength(1);
    const attempt = page.data[0] as z.output<typeof schemas.messageAttemptOut>;
    expect(attempt).toMatchObject({
      msgId: message.id,
      endpointId: endpoint.id,
      url: `${server.url}/hook`,
      response: "boom",
      responseStatusCode: 500,
      status: 2,
      statusText: "fail",
      triggerType: 0,
    });
    expect(attempt.id).toMatch(/^atmpt_/);

    const one = await h.call("GET", `/api/v1/app/${appId}/msg/${message.id}/attempt/${attempt.id}`);
    expect(one.json()).toEqual(attempt);
    expect((await h.call("GET", `/api/v1/app/${appId}/msg/${message.id}/attempt/atmpt_nope`)).statusCode).toBe(404);

    const stats = (await h.call("GET", `/api/v1/app/${appId}/endpoint/${endpoint.id}/stats`)).json();
    expect(stats).toMatchObject({ fail: 1, success: 0 });

    fail = false;
    const resent = await h.call("POST", `/api/v1/app/${appId}/msg/${message.id}/endpoint/${endpoint.id}/resend`);
    expect(resent.statusCode).toBe(202);
    expect(resent.json()).toEqual({});
    expect(await h.hl.processDue()).toBe(1);

    const byEndpoint = (
      await h.call("GET", `/api/v1/app/${appId}/attempt/endpoint/${endpoint.id}?with_msg=true`)
    ).json();
    expect(byEndpoint.data).toHaveLength(2);
    expect(byEndpoint.data[0]).toMatchObject({
      status: 0,
      statusText: "success",
      triggerType: 1,
      responseStatusCode: 204,
    });
    expect(byEndpoint.data[0].msg).toMatchObject({ id: message.id, eventType: "x.y" });
    const filtered = async (query: string) =>
      (await h.call("GET", `/api/v1/app/${appId}/attempt/endpoint/${endpoint.id}?${query}`))
        .json()
        .data.map((a: { responseStatusCode: number }) => a.responseStatusCode);
    expect(await filtered("status=0")).toEqual([204]);
    expect(await filtered("status=2")).toEqual([500]);
    expect(await filtered("status_code_class=500")).toEqual([500]);
    expect(await filtered("event_types=x.y")).toEqual([204, 500]);
    expect(await filtered("event_types=other")).toEqual([]);
    expect(await filtered(`before=${encodeURIComponent(new Date(attempt.timestamp).toISOString())}`)).toEqual([]);

    const feed = (await h.call("GET", `/api/v1/app/${appId}/attempt?limit=1`)).json();
    expect(feed.data).toHaveLength(1);
    expect(feed.data[0].triggerType).toBe(1);
    expect(feed.done).toBe(false);
    const older = (await h.call("GET", `/api/v1/app/${appId}/attempt?limit=1&iterator=${feed.iterator}`)).json();
    expect(older.data[0].id).toBe(attempt.id);
    expect(older.done).toBe(true);
  });

  test("recover re-queues the endpoint's failed deliveries and says how many (RecoverOut)", async () => {
    let fail = true;
    const server = await receiver(() => ({ status: fail ? 503 : 200 }));
    const h = await harness({ engine: { retrySchedule: [0] } });
    const appId = await h.createApp();
    const endpoint = (await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: server.url } })).json() as {
      id: string;
    };
    for (let i = 0; i < 3; i++) {
      await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "x.y", payload: { i } } });
    }
    expect(await h.hl.processDue()).toBe(3);
    fail = false;
    const since = new Date(Date.now() - 60_000).toISOString();
    const recovered = await h.call("POST", `/api/v1/app/${appId}/endpoint/${endpoint.id}/recover`, { body: { since } });
    expect(recovered.statusCode).toBe(202);
    const out = expectShape(schemas.recoverOut, recovered.json());
    expect(out).toMatchObject({ status: "finished", task: "endpoint.recover", data: { messagesSent: 3 } });
    expect(await h.hl.processDue()).toBe(3);
    expect(await h.store.countDeliveries({ endpointId: endpoint.id })).toMatchObject({ delivered: 3, failed: 0 });
  });
});

describe("event types", () => {
  test("create, get, list (schemas with with_content), PUT, PATCH, archive, expunge", async () => {
    const h = await harness();
    const schema = { "1": { type: "object", properties: { id: { type: "string" } }, required: ["id"] } };
    const created = await h.call("POST", "/api/v1/event-type", {
      body: { name: "invoice.paid", description: "An invoice was paid", schemas: schema },
    });
    expect(created.statusCode).toBe(201);
    const type = expectShape(schemas.eventTypeOut, created.json());
    expect(type).toMatchObject({ name: "invoice.paid", archived: false, deprecated: false, schemas: schema });
    expect((await h.call("GET", "/api/v1/event-type/invoice.paid")).json()).toEqual(type);
    expect((await h.call("POST", "/api/v1/event-type", { body: { name: "invoice.paid" } })).statusCode).toBe(409);

    const list = (await h.call("GET", "/api/v1/event-type")).json();
    expect(list.data[0]).toMatchObject({ name: "invoice.paid", schemas: null });
    const full = (await h.call("GET", "/api/v1/event-type?with_content=true")).json();
    expect(full.data[0].schemas).toEqual(schema);

    const put = await h.call("PUT", "/api/v1/event-type/invoice.paid", { body: { description: "paid" } });
    expect(put.json()).toMatchObject({ description: "paid", schemas: null });
    const upsert = await h.call("PUT", "/api/v1/event-type/invoice.voided", { body: { description: "voided" } });
    expect(upsert.json()).toMatchObject({ name: "invoice.voided", description: "voided" });
    const patch = await h.call("PATCH", "/api/v1/event-type/invoice.paid", { body: { featureFlags: ["beta"] } });
    expect(patch.json()).toMatchObject({ description: "paid", featureFlag: "beta", featureFlags: ["beta"] });

    expect((await h.call("DELETE", "/api/v1/event-type/invoice.paid")).statusCode).toBe(204);
    expect((await h.call("GET", "/api/v1/event-type/invoice.paid")).json().archived).toBe(true);
    const names = (await h.call("GET", "/api/v1/event-type")).json().data.map((t: { name: string }) => t.name);
    expect(names).toEqual(["invoice.voided"]);
    const all = (await h.call("GET", "/api/v1/event-type?include_archived=true")).json();
    expect(all.data).toHaveLength(2);
    expect((await h.call("DELETE", "/api/v1/event-type/invoice.paid?expunge=true")).statusCode).toBe(204);
    expect((await h.call("GET", "/api/v1/event-type/invoice.paid")).statusCode).toBe(404);
  });

  test("a payload that breaks its type's schema is a 422 naming the field, and nothing is stored", async () => {
    const h = await harness();
    const appId = await h.createApp();
    await h.call("POST", "/api/v1/event-type", {
      body: {
        name: "invoice.paid",
        description: "",
        schemas: {
          "1": {
            type: "object",
            properties: { id: { type: "string" }, amount: { type: "integer", minimum: 0 } },
            required: ["id", "amount"],
          },
        },
      },
    });
    const bad = await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "invoice.paid", payload: { id: "in_1", amount: "five" } },
    });
    expect(bad.statusCode).toBe(422);
    const body = expectShape(schemas.httpValidationError, bad.json());
    expect(body.code).toBe("validation_error");
    expect(body.detail[0]?.loc).toEqual(["body", "payload", "amount"]);
    expect((await h.hl.messages.list({ appId })).data).toHaveLength(0);
    const good = await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "invoice.paid", payload: { id: "in_1", amount: 5 } },
    });
    expect(good.statusCode).toBe(202);
  });
});

describe("API keys and health", () => {
  test("the admin creates an app-scoped key; its token works for that app only", async () => {
    const h = await harness();
    const appId = await h.createApp("a", "tenant-a");
    const created = await h.call("POST", "/api/v1/auth/api-key", { body: { appId: "tenant-a", name: "ci" } });
    expect(created.statusCode).toBe(201);
    const key = expectShape(schemas.apiKeyOut, created.json());
    expect(key).toMatchObject({ appId });
    expect(key.token).toMatch(/^hl_/);
    expect((await h.call("GET", `/api/v1/app/${appId}`, { token: key.token })).statusCode).toBe(200);
    expect((await h.call("GET", "/api/v1/app", { token: key.token })).statusCode).toBe(403);
    const missing = await h.call("POST", "/api/v1/auth/api-key", { body: { appId: "nope" } });
    expect(missing.statusCode).toBe(404);
  });

  test("health, healthz and readyz; readyz is 503 once the store is gone", async () => {
    const h = await harness({ store: "sqlite" });
    expect((await h.call("GET", "/api/v1/health", { token: null })).statusCode).toBe(204);
    expect((await h.call("GET", "/healthz", { token: null })).json()).toEqual({ status: "ok" });
    expect((await h.call("GET", "/readyz", { token: null })).json()).toEqual({ status: "ok" });
    await h.store.close();
    const down = await h.call("GET", "/readyz", { token: null });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ code: "not_ready", detail: "the store does not answer" });
    expect((await h.call("GET", "/healthz", { token: null })).statusCode).toBe(200);
  });
});

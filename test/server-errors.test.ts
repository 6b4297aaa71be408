import { afterEach, describe, expect, test } from "vitest";
import { memoryStore } from "../src/index.js";
import { IDEMPOTENCY_TTL_MS, Idempotency } from "../src/server/idempotency.js";
import { type ServerHarness, startHarness } from "./server-harness.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(options: Parameters<typeof startHarness>[0] = {}): Promise<ServerHarness> {
  const h = await startHarness(options);
  cleanups.push(() => h.close());
  return h;
}

/** Everything the API could have written. */
async function everything(h: ServerHarness) {
  const apps = (await h.hl.apps.list({ limit: 250 })).data;
  const perApp = await Promise.all(
    apps.map(async (app) => ({
      endpoints: (await h.hl.endpoints.list({ appId: app.id })).data,
      messages: (await h.hl.messages.list({ appId: app.id })).data,
    })),
  );
  return { apps, perApp, eventTypes: (await h.hl.eventTypes.list({ includeArchived: true })).data };
}

describe("bad input: a clear error, a stable code, and nothing stored", () => {
  test("invalid JSON → 400 invalid_json", async () => {
    const h = await harness();
    const appId = await h.createApp();
    const before = await everything(h);
    for (const rawBody of ["{", '{"url": }', "nul", '{"url":"https://x.example"}}']) {
      const response = await h.call("POST", `/api/v1/app/${appId}/endpoint`, { rawBody });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ code: "invalid_json", detail: "request body is not valid JSON" });
    }
    const poisoned = await h.call("POST", `/api/v1/app/${appId}/endpoint`, {
      rawBody: '{"url":"https://x.example","__proto__":{"admin":true}}',
    });
    expect(poisoned.statusCode).toBe(400);
    expect(await everything(h)).toEqual(before);
  });

  test("a body over the limit → 413 payload_too_large; a payload over the engine's limit too", async () => {
    const h = await harness({ bodyLimitBytes: 2048, engine: { maxPayloadBytes: 512 } });
    const appId = await h.createApp();
    const before = await everything(h);
    const big = await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "x.y", payload: { blob: "a".repeat(4096) } },
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toEqual({ code: "payload_too_large", detail: "request body is larger than the limit" });
    const overEngine = await h.call("POST", `/api/v1/app/${appId}/msg`, {
      body: { eventType: "x.y", payload: { blob: "a".repeat(1024) } },
    });
    expect(overEngine.statusCode).toBe(413);
    expect(overEngine.json().code).toBe("payload_too_large");
    expect(overEngine.json().detail).toMatch(/512-byte limit/);
    expect(await everything(h)).toEqual(before);
  });

  test("validation errors → 422 naming the field, from the schema and from the engine", async () => {
    const h = await harness();
    const appId = await h.createApp();
    const endpointId = (
      (await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: "https://a.example" } })).json() as {
        id: string;
      }
    ).id;
    const before = await everything(h);
    const cases: Array<[string, string, unknown, Array<string | number>]> = [
      ["POST", `/api/v1/app/${appId}/endpoint`, {}, ["body", "url"]],
      ["POST", `/api/v1/app/${appId}/endpoint`, { url: 5 }, ["body", "url"]],
      ["POST", `/api/v1/app/${appId}/endpoint`, { url: "ftp://a.example" }, ["body", "url"]],
      ["POST", `/api/v1/app/${appId}/endpoint`, { url: "not a url" }, ["body", "url"]],
      [
        "POST",
        `/api/v1/app/${appId}/endpoint`,
        { url: "https://a.example", filterTypes: "x" },
        ["body", "filterTypes"],
      ],
      ["POST", `/api/v1/app/${appId}/endpoint`, { url: "https://a.example", rateLimit: 0 }, ["body", "rateLimit"]],
      ["POST", `/api/v1/app/${appId}/endpoint`, { url: "https://a.example", secret: "whsec_!!" }, ["body", "secret"]],
      [
        "POST",
        `/api/v1/app/${appId}/endpoint`,
        { url: "https://a.example", headers: { "bad header": "x" } },
        ["body", "headers"],
      ],
      ["POST", `/api/v1/app/${appId}/endpoint/${endpointId}/secret/rotate`, { key: "whsec_!!" }, ["body", "key"]],
      [
        "POST",
        `/api/v1/app/${appId}/endpoint/${endpointId}/secret/rotate`,
        { gracePeriodSeconds: -1 },
        ["body", "gracePeriodSeconds"],
      ],
      ["POST", `/api/v1/app/${appId}/endpoint/${endpointId}/recover`, { since: "yesterday" }, ["body", "since"]],
      ["PATCH", `/api/v1/app/${appId}/endpoint/${endpointId}`, { secret: "whsec_x" }, ["body", "secret"]],
      ["POST", `/api/v1/app/${appId}/msg`, { payload: {} }, ["body", "eventType"]],
      ["POST", `/api/v1/app/${appId}/msg`, { eventType: "x y", payload: {} }, ["body", "eventType"]],
      ["POST", `/api/v1/app/${appId}/msg`, { eventType: "x.y" }, ["body", "payload"]],
      [
        "POST",
        `/api/v1/app/${appId}/msg`,
        { eventType: "x.y", payload: {}, deliverAt: new Date().toISOString() },
        ["body", "deliverAt"],
      ],
      ["POST", "/api/v1/app", { name: "" }, ["body", "name"]],
      ["POST", "/api/v1/app", { name: "x", uid: "no spaces" }, ["body", "uid"]],
      ["POST", "/api/v1/app", { name: "x", rateLimit: 5 }, ["body", "rateLimit"]],
      ["POST", "/api/v1/app", [], ["body"]],
      ["POST", "/api/v1/event-type", { name: "x.y", schemas: { "1": { type: "nonsense" } } }, ["body", "schemas"]],
      ["GET", `/api/v1/app/${appId}/msg?limit=0`, undefined, ["query", "limit"]],
      ["GET", `/api/v1/app/${appId}/msg?limit=251`, undefined, ["query", "limit"]],
      ["GET", `/api/v1/app/${appId}/msg?before=yesterday`, undefined, ["query", "before"]],
      ["GET", `/api/v1/app/${appId}/msg?with_content=maybe`, undefined, ["query", "with_content"]],
      ["DELETE", "/api/v1/event-type/x.y?expunge=perhaps", undefined, ["query", "expunge"]],
    ];
    for (const [method, url, body, loc] of cases) {
      const response = await h.call(method as "POST", url, body === undefined ? {} : { body });
      const json = response.json() as { code: string; detail: Array<{ loc: unknown[]; msg: string; type: string }> };
      expect({ url, body, status: response.statusCode, code: json.code, loc: json.detail[0]?.loc }).toEqual({
        url,
        body,
        status: 422,
        code: "validation_error",
        loc,
      });
      expect(typeof json.detail[0]?.msg).toBe("string");
      expect(typeof json.detail[0]?.type).toBe("string");
    }
    expect(await everything(h)).toEqual(before);
  });

  test("unknown routes → 404; non-JSON bodies → 415; each with a stable code", async () => {
    const h = await harness();
    const before = await everything(h);
    const unknown = await h.call("GET", "/api/v1/nothing-here?x=1");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ code: "not_found", detail: "no route GET /api/v1/nothing-here" });
    expect((await h.call("PATCH", "/api/v1/health")).statusCode).toBe(404);
    const form = await h.server.inject({
      method: "POST",
      url: "/api/v1/app",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/x-www-form-urlencoded" },
      payload: "name=x",
    });
    expect(form.statusCode).toBe(415);
    expect(form.json().code).toBe("unsupported_media_type");
    expect(await everything(h)).toEqual(before);
  });

  test("not found and conflict map to 404 and 409", async () => {
    const h = await harness();
    const appId = await h.createApp("a", "a");
    expect((await h.call("GET", "/api/v1/app/nope")).json()).toEqual({
      code: "not_found",
      detail: 'app "nope" not found',
    });
    const missing = await h.call("GET", `/api/v1/app/${appId}/endpoint/ep_missing`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ code: "not_found", detail: 'endpoint "ep_missing" not found' });
    const taken = await h.call("POST", "/api/v1/app", { body: { name: "b", uid: "a" } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toEqual({ code: "conflict", detail: "app uid a is taken" });
  });
});

describe("Idempotency-Key", () => {
  test("the same key and body replay the first response; nothing is created twice", async () => {
    const h = await harness();
    const headers = { "idempotency-key": "create-acme-1" };
    const first = await h.call("POST", "/api/v1/app", { body: { name: "Acme" }, headers });
    expect(first.statusCode).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const second = await h.call("POST", "/api/v1/app", { body: { name: "Acme" }, headers });
    expect(second.statusCode).toBe(201);
    expect(second.body).toBe(first.body);
    expect(second.headers["content-type"]).toMatch(/^application\/json/);
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect((await h.hl.apps.list()).data).toHaveLength(1);
  });

  test("an empty (204) and an error (422) response are replayed as well", async () => {
    const h = await harness();
    const appId = await h.createApp();
    const endpoint = (
      await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: "https://a.example" } })
    ).json();
    const rotate = `/api/v1/app/${appId}/endpoint/${endpoint.id}/secret/rotate`;
    const headers = { "idempotency-key": "rotate-1" };
    expect((await h.call("POST", rotate, { body: {}, headers })).statusCode).toBe(204);
    const secret = (await h.hl.endpoints.get(endpoint.id)).secret;
    const replay = await h.call("POST", rotate, { body: {}, headers });
    expect(replay.statusCode).toBe(204);
    expect(replay.body).toBe("");
    expect((await h.hl.endpoints.get(endpoint.id)).secret).toBe(secret);

    const invalid = { "idempotency-key": "invalid-1" };
    const bad = await h.call("POST", "/api/v1/app", { body: { name: "" }, headers: invalid });
    const again = await h.call("POST", "/api/v1/app", { body: { name: "" }, headers: invalid });
    expect([bad.statusCode, again.statusCode]).toEqual([422, 422]);
    expect(again.body).toBe(bad.body);
  });

  test("the same key with another body (or URL) → 409 idempotency_key_reused, and nothing is created", async () => {
    const h = await harness();
    const headers = { "idempotency-key": "k-1" };
    expect((await h.call("POST", "/api/v1/app", { body: { name: "A" }, headers })).statusCode).toBe(201);
    const other = await h.call("POST", "/api/v1/app", { body: { name: "B" }, headers });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toEqual({
      code: "idempotency_key_reused",
      detail: "this Idempotency-Key was used with another request (method, URL or body) in the last 24 h",
    });
    const otherUrl = await h.call("POST", "/api/v1/app?get_if_exists=true", { body: { name: "A" }, headers });
    expect(otherUrl.statusCode).toBe(409);
    expect((await h.hl.apps.list()).data.map((a) => a.name)).toEqual(["A"]);
  });

  test("keys are scoped by API key: two tenants using the same key never collide", async () => {
    const h = await harness();
    const appA = await h.createApp("a");
    const appB = await h.createApp("b");
    const [tokenA, tokenB] = [await h.appToken(appA), await h.appToken(appB)];
    const headers = { "idempotency-key": "same-key" };
    const body = { eventType: "x.y", payload: { n: 1 } };
    const sentA = await h.call("POST", `/api/v1/app/${appA}/msg`, { token: tokenA, body, headers });
    const sentB = await h.call("POST", `/api/v1/app/${appB}/msg`, { token: tokenB, body, headers });
    expect([sentA.statusCode, sentB.statusCode]).toEqual([202, 202]);
    expect(sentB.headers["idempotent-replayed"]).toBeUndefined();
    expect(sentA.json().id).not.toBe(sentB.json().id);
    // The same body to the same URL from another key is a fresh request too.
    const adminSame = await h.call("POST", `/api/v1/app/${appA}/msg`, { body, headers });
    expect(adminSame.headers["idempotent-replayed"]).toBeUndefined();
    expect((await h.hl.messages.list({ appId: appA })).data).toHaveLength(2);
  });

  test("concurrent requests with one key create one thing; the others replay it or are told to wait", async () => {
    const h = await harness({ store: "sqlite" });
    const headers = { "idempotency-key": "race" };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => h.call("POST", "/api/v1/app", { body: { name: "Raced" }, headers })),
    );
    for (const response of responses) {
      expect([201, 409]).toContain(response.statusCode);
      if (response.statusCode === 409) expect(response.json().code).toBe("idempotency_key_in_use");
    }
    expect(responses.some((r) => r.statusCode === 201)).toBe(true);
    expect((await h.hl.apps.list()).data).toHaveLength(1);
  });

  test("a key over 256 characters is a 400; POST without a key is never deduplicated", async () => {
    const h = await harness();
    const long = await h.call("POST", "/api/v1/app", {
      body: { name: "A" },
      headers: { "idempotency-key": "k".repeat(257) },
    });
    expect(long.statusCode).toBe(400);
    expect(long.json().code).toBe("bad_request");
    await h.call("POST", "/api/v1/app", { body: { name: "A" } });
    await h.call("POST", "/api/v1/app", { body: { name: "A" } });
    expect((await h.hl.apps.list()).data).toHaveLength(2);
  });

  test("records expire after 24 h: the key may then be used for another request", async () => {
    const h = await harness();
    const headers = { "idempotency-key": "old" };
    await h.call("POST", "/api/v1/app", { body: { name: "A" }, headers });
    // Age every stored record by 24 h, as the clock would.
    for (const document of (await h.store.listDocuments("idempotency", {})).data) {
      const value = JSON.parse(document.value) as { createdAt: number };
      value.createdAt -= IDEMPOTENCY_TTL_MS;
      await h.store.putDocument({ ...document, value: JSON.stringify(value) });
    }
    const reused = await h.call("POST", "/api/v1/app", { body: { name: "B" }, headers });
    expect(reused.statusCode).toBe(201);
    expect(reused.headers["idempotent-replayed"]).toBeUndefined();
  });

  test("the sweep deletes expired records and keeps live ones", async () => {
    const store = memoryStore();
    let now = 1_000_000_000_000;
    const idempotency = new Idempotency(store, () => now);
    for (const [key, createdAt] of [
      ["k:old", now - IDEMPOTENCY_TTL_MS - 1],
      ["k:new", now - 1_000],
    ] as const) {
      const value = JSON.stringify({ state: "done", fingerprint: "f", status: 200, body: "{}", createdAt });
      await store.putDocument({ namespace: "idempotency", key, value, createdAt, updatedAt: createdAt });
    }
    expect(await idempotency.sweep()).toBe(1);
    expect((await store.listDocuments("idempotency", {})).data.map((d) => d.key)).toEqual(["k:new"]);
    now += IDEMPOTENCY_TTL_MS;
    expect(await idempotency.sweep()).toBe(1);
    expect((await store.listDocuments("idempotency", {})).data).toEqual([]);
    await idempotency.stop();
  });
});

import type { AddressInfo } from "node:net";
import {
  ApiException,
  BackgroundTaskStatus,
  type HTTPValidationError,
  type HttpErrorOut,
  MessageAttemptTriggerType,
  MessageStatus,
  Svix,
  Webhook,
} from "svix";
import { afterEach, describe, expect, test } from "vitest";
import type { HooklineOptions } from "../src/index.js";
import { type ServerHarness, type StoreKind, startHarness, until } from "./server-harness.js";
import { type ReceivedRequest, startServer, type TestServer } from "./support/http-server.js";
import { postgresAvailable } from "./support/postgres.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Live {
  h: ServerHarness;
  serverUrl: string;
  svix: Svix;
}

const pgAvailable = await postgresAvailable();

/** The API listening on 127.0.0.1 (port 0), workers running, and the official client pointed at it. */
async function live(store: StoreKind, engine: HooklineOptions = {}): Promise<Live> {
  const h = await startHarness({ store, engine });
  cleanups.push(() => h.close());
  await h.server.listen({ host: "127.0.0.1", port: 0 });
  await h.hl.start();
  const { port } = h.server.server.address() as AddressInfo;
  const serverUrl = `http://127.0.0.1:${port}`;
  return { h, serverUrl, svix: new Svix(h.adminToken, { serverUrl }) };
}

async function receiver(respond?: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(respond);
  cleanups.push(() => server.close());
  return server;
}

/** What a receiver written for Svix does: verify the raw body with svix's Webhook class. */
function verifyAsSvixReceiver(secret: string, request: ReceivedRequest): unknown {
  return new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
}

/** The ApiException a call rejects with. */
async function apiError<T>(call: Promise<unknown>): Promise<ApiException<T>> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return error as ApiException<T>;
    throw error;
  }
  throw new Error("the call succeeded");
}

describe.each([
  { store: "sqlite" as const, skip: false },
  { store: "postgres" as const, skip: !pgAvailable },
])("the official svix client against a listening hookline on $store", ({ store, skip }) => {
  if (skip) {
    test.skip("PostgreSQL is unreachable", () => {});
    return;
  }

  test("app, endpoint, message → the receiver verifies it with svix's Webhook; attempts list and get", async () => {
    const hooks = await receiver();
    const { svix } = await live(store);
    await svix.health.get();

    const app = await svix.application.create({ name: "Acme", uid: "acme", metadata: { plan: "pro" } });
    expect(app.id).toMatch(/^app_/);
    expect(app.createdAt).toBeInstanceOf(Date);
    expect(Number.isNaN(app.createdAt.getTime())).toBe(false);
    expect(await svix.application.getOrCreate({ name: "ignored", uid: "acme" })).toEqual(app);
    expect(await svix.application.get("acme")).toEqual(app);

    const endpoint = await svix.endpoint.create(app.id, {
      url: `${hooks.url}/webhooks`,
      filterTypes: ["invoice.paid"],
      description: "billing",
    });
    expect(endpoint).toMatchObject({ filterTypes: ["invoice.paid"], description: "billing", version: 1 });
    const { key: secret } = await svix.endpoint.getSecret(app.id, endpoint.id);
    expect(secret).toMatch(/^whsec_/);

    const payload = { id: "in_1", amount: 1250, currency: "eur", nested: { ok: true } };
    const message = await svix.message.create(app.id, { eventType: "invoice.paid", eventId: "in_1:paid", payload });
    expect(message).toMatchObject({ eventType: "invoice.paid", eventId: "in_1:paid", payload });
    expect(message.timestamp).toBeInstanceOf(Date);
    await svix.message.create(app.id, { eventType: "invoice.voided", payload: {} }); // filtered out

    await until(() => hooks.requests.length >= 1);
    const request = hooks.requests[0] as ReceivedRequest;
    expect(verifyAsSvixReceiver(secret, request)).toEqual(payload);
    expect(JSON.parse(request.body)).toEqual(payload); // the payload alone, no envelope
    expect(request.headers["svix-id"]).toBe(message.id);

    await until(async () => (await svix.messageAttempt.listByMsg(app.id, message.id)).data.length === 1);
    const attempts = await svix.messageAttempt.listByMsg(app.id, message.id);
    expect(attempts.done).toBe(true);
    const attempt = attempts.data[0];
    expect(attempt).toMatchObject({
      msgId: message.id,
      endpointId: endpoint.id,
      status: MessageStatus.Success,
      triggerType: MessageAttemptTriggerType.Scheduled,
      responseStatusCode: 200,
      response: "ok",
      url: `${hooks.url}/webhooks`,
    });
    expect(await svix.messageAttempt.get(app.id, message.id, attempt?.id as string)).toEqual(attempt);
    expect((await svix.messageAttempt.listByEndpoint(app.id, endpoint.id)).data).toEqual([attempt]);
    expect(await svix.message.get(app.id, message.id)).toEqual(message);
    expect(await svix.endpoint.getStats(app.id, endpoint.id)).toEqual({
      success: 1,
      pending: 0,
      sending: 0,
      fail: 0,
      canceled: 0,
    });
  });

  test("secret rotation: during the grace period each webhook carries both signatures", async () => {
    const hooks = await receiver();
    const { svix } = await live(store);
    const app = await svix.application.create({ name: "Acme" });
    const endpoint = await svix.endpoint.create(app.id, { url: hooks.url });
    const { key: oldSecret } = await svix.endpoint.getSecret(app.id, endpoint.id);
    const newSecret = `whsec_${Buffer.alloc(32, 5).toString("base64")}`;
    await svix.endpoint.rotateSecret(app.id, endpoint.id, { key: newSecret, gracePeriodSeconds: 3600 });
    expect((await svix.endpoint.getSecret(app.id, endpoint.id)).key).toBe(newSecret);

    await svix.message.create(app.id, { eventType: "user.created", payload: { id: "u_1" } });
    await until(() => hooks.requests.length >= 1);
    const request = hooks.requests[0] as ReceivedRequest;
    expect(String(request.headers["svix-signature"]).split(" ")).toHaveLength(2);
    expect(verifyAsSvixReceiver(newSecret, request)).toEqual({ id: "u_1" });
    expect(verifyAsSvixReceiver(oldSecret, request)).toEqual({ id: "u_1" });
    expect(() => verifyAsSvixReceiver(`whsec_${Buffer.alloc(32, 6).toString("base64")}`, request)).toThrow();
  });

  test("recover re-sends what failed; resend sends one message again; both are manual attempts", async () => {
    let healthy = false;
    const hooks = await receiver(() => (healthy ? { status: 200 } : { status: 500, body: "down" }));
    const { h, svix } = await live(store, { retrySchedule: [0] });
    const app = await svix.application.create({ name: "Acme" });
    const endpoint = await svix.endpoint.create(app.id, { url: hooks.url });
    const exhausted = new Promise((resolve) => h.hl.once("delivery:exhausted", resolve));
    const message = await svix.message.create(app.id, { eventType: "order.shipped", payload: { n: 1 } });
    await exhausted;
    const failed = await svix.messageAttempt.listByMsg(app.id, message.id);
    expect(failed.data.map((a) => [a.status, a.responseStatusCode, a.response])).toEqual([
      [MessageStatus.Fail, 500, "down"],
    ]);

    healthy = true;
    const recovered = new Promise((resolve) => h.hl.once("delivery:succeeded", resolve));
    const task = await svix.endpoint.recover(app.id, endpoint.id, { since: new Date(Date.now() - 60_000) });
    expect(task.status).toBe(BackgroundTaskStatus.Finished);
    expect(task.task).toBe("endpoint.recover");
    await recovered;

    const resent = new Promise((resolve) => h.hl.once("delivery:succeeded", resolve));
    expect(await svix.messageAttempt.resend(app.id, message.id, endpoint.id)).toEqual({});
    await resent;

    const all = await svix.messageAttempt.listByEndpoint(app.id, endpoint.id);
    expect(all.data.map((a) => [a.status, a.triggerType])).toEqual([
      [MessageStatus.Success, MessageAttemptTriggerType.Manual],
      [MessageStatus.Success, MessageAttemptTriggerType.Manual],
      [MessageStatus.Fail, MessageAttemptTriggerType.Scheduled],
    ]);
    expect(hooks.requests).toHaveLength(3);
    const { key } = await svix.endpoint.getSecret(app.id, endpoint.id);
    for (const request of hooks.requests) expect(verifyAsSvixReceiver(key, request)).toEqual({ n: 1 });
  });

  test("resend to an endpoint added after the message: a new manual delivery, signed with that endpoint's secret", async () => {
    const hooks = await receiver(() => ({ status: 200 }));
    const { h, svix } = await live(store);
    const app = await svix.application.create({ name: "Late" });
    const message = await svix.message.create(app.id, { eventType: "order.shipped", payload: { n: 7 } });
    expect((await h.hl.deliveries.list({ messageId: message.id })).data).toEqual([]);
    const late = await svix.endpoint.create(app.id, { url: hooks.url });
    const delivered = new Promise((resolve) => h.hl.once("delivery:succeeded", resolve));
    expect(await svix.messageAttempt.resend(app.id, message.id, late.id)).toEqual({});
    await delivered;
    const attempts = await svix.messageAttempt.listByMsg(app.id, message.id);
    expect(attempts.data.map((a) => [a.endpointId, a.status, a.triggerType])).toEqual([
      [late.id, MessageStatus.Success, MessageAttemptTriggerType.Manual],
    ]);
    const { key } = await svix.endpoint.getSecret(app.id, late.id);
    expect(verifyAsSvixReceiver(key, hooks.requests[0] as ReceivedRequest)).toEqual({ n: 7 });
  });

  test("paging through 250 messages with the iterator: each exactly once, newest first", async () => {
    const { svix } = await live(store);
    const app = await svix.application.create({ name: "Paged" });
    const created: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const messages = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          svix.message.create(app.id, { eventType: "tick", payload: { n: batch * 25 + i } }),
        ),
      );
      created.push(...messages.map((m) => m.id));
    }
    const seen: string[] = [];
    let iterator: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await svix.message.list(app.id, { limit: 40, iterator });
      pages++;
      seen.push(...page.data.map((m) => m.id));
      if (page.done) break;
      iterator = page.iterator;
    }
    expect(pages).toBe(7);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect([...seen].sort()).toEqual([...created].sort());
    expect(seen).toEqual([...seen].sort().reverse());
  });

  test("event types with schemas: a payload that breaks one is a 422 naming the field", async () => {
    const { svix } = await live(store);
    const app = await svix.application.create({ name: "Typed" });
    await svix.eventType.create({
      name: "invoice.paid",
      description: "An invoice was paid",
      schemas: {
        "1": { type: "object", properties: { amount: { type: "integer" } }, required: ["amount"] },
      },
    });
    const type = await svix.eventType.get("invoice.paid");
    expect(type).toMatchObject({ name: "invoice.paid", deprecated: false, archived: false });
    expect((await svix.eventType.list()).data.map((t) => t.name)).toEqual(["invoice.paid"]);

    const error = await apiError<HTTPValidationError>(
      svix.message.create(app.id, { eventType: "invoice.paid", payload: { amount: "lots" } }),
    );
    expect(error.code).toBe(422);
    expect(error.body.detail[0]?.loc).toEqual(["body", "payload", "amount"]);
    await svix.message.create(app.id, { eventType: "invoice.paid", payload: { amount: 3 } });

    await svix.eventType.delete("invoice.paid", { expunge: true });
    expect((await apiError<HttpErrorOut>(svix.eventType.get("invoice.paid"))).code).toBe(404);
  });

  test("errors surface as ApiException with Svix's status codes and bodies", async () => {
    const { svix, serverUrl } = await live(store);
    const notFound = await apiError<HttpErrorOut>(svix.application.get("app_missing"));
    expect(notFound.code).toBe(404);
    expect(notFound.body).toEqual({ code: "not_found", detail: 'app "app_missing" not found' });

    const app = await svix.application.create({ name: "A", uid: "taken" });
    const conflict = await apiError<HttpErrorOut>(svix.application.create({ name: "B", uid: "taken" }));
    expect(conflict.code).toBe(409);
    expect(conflict.body.code).toBe("conflict");

    const invalid = await apiError<HTTPValidationError>(svix.endpoint.create(app.id, { url: "ftp://files.example" }));
    expect(invalid.code).toBe(422);
    expect(invalid.body.detail[0]?.loc).toEqual(["body", "url"]);

    const stranger = new Svix("hl_not-a-key", { serverUrl });
    const unauthorized = await apiError<HttpErrorOut>(stranger.application.list());
    expect(unauthorized.code).toBe(401);
    expect(unauthorized.body.code).toBe("authentication_failed");
  });

  test("an app-scoped key drives its own app with the svix client and sees nothing of another", async () => {
    const hooks = await receiver();
    const { h, svix, serverUrl } = await live(store);
    const mine = await svix.application.create({ name: "Mine" });
    const other = await svix.application.create({ name: "Other" });
    const response = await fetch(`${serverUrl}/api/v1/auth/api-key`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ appId: mine.id }),
    });
    expect(response.status).toBe(201);
    const { token } = (await response.json()) as { token: string };
    const scoped = new Svix(token, { serverUrl });
    const endpoint = await scoped.endpoint.create(mine.id, { url: hooks.url });
    expect((await scoped.endpoint.list(mine.id)).data.map((e) => e.id)).toEqual([endpoint.id]);
    await scoped.message.create(mine.id, { eventType: "x", payload: {} });
    expect((await apiError<HttpErrorOut>(scoped.endpoint.list(other.id))).code).toBe(403);
    expect((await apiError<HttpErrorOut>(scoped.application.list())).code).toBe(403);
    await until(() => hooks.requests.length === 1);
  });
});

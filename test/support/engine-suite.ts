import { createHmac } from "node:crypto";
import { afterEach, describe, expect, test } from "vitest";
import {
  ConfigurationError,
  ConflictError,
  createHookline,
  type DeliveryEvent,
  type Hookline,
  type HooklineOptions,
  NotFoundError,
  PayloadValidationError,
  type Store,
} from "../../src/index.js";
import { FakeClock } from "./fake-clock.js";
import { type ReceivedRequest, startServer, type TestServer } from "./http-server.js";

export interface EngineHarness {
  store: Store;
  cleanup(): Promise<void>;
}

const whsecKey = (secret: string) =>
  secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret);

/** Every `v1,` entry of a request's webhook-signature, checked against `secret` with node:crypto. */
function signedWith(request: ReceivedRequest, secret: string): boolean {
  const id = String(request.headers["webhook-id"]);
  const ts = String(request.headers["webhook-timestamp"]);
  const expected = createHmac("sha256", whsecKey(secret)).update(`${id}.${ts}.${request.body}`).digest("base64");
  return String(request.headers["webhook-signature"]).split(" ").includes(`v1,${expected}`);
}

/** Resolves once `predicate` holds, checking after every engine event and every 20 ms; fails after `timeoutMs`. */
async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The engine's behaviour (send, fan-out, retries, Retry-After, 410, disabling,
 * rotation, recovery, fairness, stop) over a real receiver on 127.0.0.1, run
 * for each store backend.
 */
export function describeEngine(name: string, open: () => Promise<EngineHarness>, options: { skip?: boolean } = {}) {
  describe.skipIf(options.skip === true)(`engine: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function engine(extra: HooklineOptions = {}): Promise<Hookline> {
      const harness = await open();
      const hl = await createHookline({
        store: harness.store,
        allowPrivateNetworks: true,
        retryJitterRatio: 0,
        ...extra,
      });
      cleanups.push(async () => {
        await hl.close({ timeoutMs: 100 });
        await harness.cleanup();
      });
      return hl;
    }

    async function receiver(respond?: Parameters<typeof startServer>[0]): Promise<TestServer> {
      const server = await startServer(respond);
      cleanups.push(() => server.close());
      return server;
    }

    test("send → delivered over HTTP with the envelope, both signatures and an attempt record", async () => {
      const server = await receiver();
      const hl = await engine();
      const endpoint = await hl.endpoints.create({ url: `${server.url}/hooks`, headers: { "x-tenant": "acme" } });
      expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
      const sent = await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amount: 5 }, eventId: "evt_1" });
      expect(sent).toMatchObject({ eventId: "evt_1", deliveryCount: 1, created: true });
      expect(await hl.processDue()).toBe(1);

      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      if (!request) throw new Error("no request");
      const body = JSON.parse(request.body);
      expect(body).toMatchObject({ event_id: "evt_1", event_type: "invoice.paid", payload: { amount: 5, id: "in_1" } });
      expect(Object.keys(body)).toEqual(["event_id", "event_type", "payload", "source", "timestamp"]);
      expect(request.headers["webhook-id"]).toBe("evt_1");
      expect(request.headers["x-tenant"]).toBe("acme");
      expect(signedWith(request, endpoint.secret)).toBe(true);
      const seed = createHmac("sha256", endpoint.secret).update(request.body).digest("hex");
      expect(request.headers["x-webhook-signature"]).toBe(seed);

      const [delivery] = (await hl.deliveries.list({ messageId: sent.messageId })).data;
      expect(delivery).toMatchObject({ status: "delivered", attemptCount: 1, lastStatusCode: 200, leaseOwner: null });
      const attempts = await hl.attempts.list({ deliveryId: delivery?.id });
      expect(attempts.data).toHaveLength(1);
      expect(attempts.data[0]).toMatchObject({
        number: 1,
        statusCode: 200,
        succeeded: true,
        trigger: "scheduled",
        responseExcerpt: "ok",
        error: null,
      });
    });

    test("eventId is an idempotency key per app", async () => {
      const server = await receiver();
      const hl = await engine();
      await hl.endpoints.create({ url: server.url });
      const first = await hl.send({ eventType: "a", payload: { n: 1 }, eventId: "same" });
      const second = await hl.send({ eventType: "a", payload: { n: 2 }, eventId: "same" });
      expect(second).toEqual({ ...first, created: false });
      await hl.processDue();
      expect(server.requests).toHaveLength(1);
      expect(JSON.parse(server.requests[0]?.body ?? "{}").payload).toEqual({ n: 1 });
    });

    test("fan-out follows event type filters and skips disabled endpoints", async () => {
      const server = await receiver();
      const hl = await engine();
      const all = await hl.endpoints.create({ url: `${server.url}/all` });
      const exact = await hl.endpoints.create({ url: `${server.url}/exact`, eventTypes: ["invoice.paid"] });
      const prefix = await hl.endpoints.create({ url: `${server.url}/prefix`, eventTypes: ["invoice.*"] });
      await hl.endpoints.create({ url: `${server.url}/other`, eventTypes: ["user.created"] });
      const off = await hl.endpoints.create({ url: `${server.url}/off` });
      await hl.endpoints.disable(off.id);
      const sent = await hl.send({ eventType: "invoice.paid", payload: {} });
      expect(sent.deliveryCount).toBe(3);
      const targets = (await hl.deliveries.list({ messageId: sent.messageId })).data.map((d) => d.endpointId).sort();
      expect(targets).toEqual([all.id, exact.id, prefix.id].sort());
      expect((await hl.send({ eventType: "invoice.voided", payload: {} })).deliveryCount).toBe(2);
    });

    test("retries on the schedule, then fails (the dead letter), then a manual retry", async () => {
      let healthy = false;
      const server = await receiver(() => ({ status: healthy ? 200 : 500, body: "boom" }));
      const clock = new FakeClock();
      const hl = await engine({ clock, retrySchedule: [0, 1_000, 5_000] });
      const events: string[] = [];
      hl.on("delivery:failed", () => events.push("failed"));
      hl.on("delivery:exhausted", () => events.push("exhausted"));
      hl.on("delivery:succeeded", () => events.push("succeeded"));
      await hl.endpoints.create({ url: server.url });
      const { messageId } = await hl.send({ eventType: "a", payload: {} });
      const delivery = async () => (await hl.deliveries.list({ messageId })).data[0];

      expect(await hl.processDue()).toBe(1);
      expect(await delivery()).toMatchObject({
        status: "pending",
        attemptCount: 1,
        nextAttemptAt: clock.now() + 1_000,
      });
      clock.advance(999);
      expect(await hl.processDue()).toBe(0);
      clock.advance(1);
      expect(await hl.processDue()).toBe(1);
      expect(await delivery()).toMatchObject({
        status: "pending",
        attemptCount: 2,
        nextAttemptAt: clock.now() + 5_000,
      });
      clock.advance(5_000);
      expect(await hl.processDue()).toBe(1);
      expect(await delivery()).toMatchObject({
        status: "failed",
        attemptCount: 3,
        nextAttemptAt: null,
        lastStatusCode: 500,
      });
      expect(events).toEqual(["failed", "failed", "exhausted"]);
      expect(new Set(server.requests.map((r) => r.headers["webhook-id"])).size).toBe(1);

      healthy = true;
      const failed = await delivery();
      await hl.deliveries.retry(failed?.id ?? "");
      expect(await hl.processDue()).toBe(1);
      expect(await delivery()).toMatchObject({ status: "delivered", attemptCount: 4 });
      const attempts = (await hl.attempts.list({ deliveryId: failed?.id })).data;
      expect(attempts.map((a) => [a.number, a.trigger, a.statusCode])).toEqual([
        [4, "manual", 200],
        [3, "scheduled", 500],
        [2, "scheduled", 500],
        [1, "scheduled", 500],
      ]);
      expect(attempts[1]?.responseExcerpt).toBe("boom");
    });

    test("Retry-After on 429 and 503 stretches the wait, within bounds", async () => {
      const server = await receiver((_r, i) =>
        i === 0
          ? { status: 429, headers: { "retry-after": "120" } }
          : { status: 503, headers: { "retry-after": "999999" } },
      );
      const clock = new FakeClock();
      const hl = await engine({ clock, retrySchedule: [0, 1_000, 1_000, 1_000], maxRetryAfterMs: 600_000 });
      await hl.endpoints.create({ url: server.url });
      const { messageId } = await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      const start = clock.now();
      expect((await hl.deliveries.list({ messageId })).data[0]?.nextAttemptAt).toBe(start + 120_000);
      clock.advance(120_000);
      await hl.processDue();
      expect((await hl.deliveries.list({ messageId })).data[0]?.nextAttemptAt).toBe(clock.now() + 600_000);
    });

    test("410 Gone disables the endpoint at once; enabling brings deliveries back", async () => {
      let gone = true;
      const server = await receiver(() => ({ status: gone ? 410 : 200 }));
      const hl = await engine();
      const disabled: Array<{ endpointId: string; reason: string }> = [];
      hl.on("endpoint:disabled", (e) => disabled.push(e));
      const endpoint = await hl.endpoints.create({ url: server.url });
      const first = await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      expect(disabled).toEqual([{ endpointId: endpoint.id, reason: "gone" }]);
      expect(await hl.endpoints.get(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "gone" });
      expect((await hl.deliveries.list({ messageId: first.messageId })).data[0]?.status).toBe("failed");
      expect((await hl.send({ eventType: "a", payload: {} })).deliveryCount).toBe(0);

      gone = false;
      await hl.endpoints.enable(endpoint.id);
      expect((await hl.send({ eventType: "a", payload: {} })).deliveryCount).toBe(1);
      expect(await hl.processDue()).toBe(1);
      expect(server.requests).toHaveLength(2);
    });

    test("an endpoint failing longer than the threshold is disabled, with a warning first", async () => {
      const server = await receiver(() => ({ status: 500 }));
      const clock = new FakeClock();
      const hl = await engine({ clock, disableAfterMs: 10_000, retrySchedule: [0, 60_000] });
      const seen: string[] = [];
      hl.on("endpoint:failing", () => seen.push("failing"));
      hl.on("endpoint:disabled", (e) => seen.push(`disabled:${e.reason}`));
      const endpoint = await hl.endpoints.create({ url: server.url });
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      expect(seen).toEqual(["failing"]);
      expect((await hl.endpoints.get(endpoint.id)).failingSince).toBe(clock.now());
      clock.advance(9_999);
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      expect(seen).toEqual(["failing"]);
      clock.advance(1);
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      expect(seen).toEqual(["failing", "disabled:failing"]);
      expect(await hl.endpoints.get(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "failing" });
    });

    test("a success ends a failing run", async () => {
      let status = 500;
      const server = await receiver(() => ({ status }));
      const hl = await engine();
      const endpoint = await hl.endpoints.create({ url: server.url });
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      expect((await hl.endpoints.get(endpoint.id)).failingSince).not.toBeNull();
      status = 200;
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      expect((await hl.endpoints.get(endpoint.id)).failingSince).toBeNull();
    });

    test("secret rotation signs with both secrets during the grace period, then the new one only", async () => {
      const server = await receiver();
      const clock = new FakeClock();
      const hl = await engine({ clock });
      const endpoint = await hl.endpoints.create({ url: server.url });
      const rotated = await hl.endpoints.rotateSecret(endpoint.id, { gracePeriodMs: 60_000 });
      expect(rotated.secret).not.toBe(endpoint.secret);
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      const during = server.requests[0];
      if (!during) throw new Error("no request");
      expect(String(during.headers["webhook-signature"]).split(" ")).toHaveLength(2);
      expect(signedWith(during, endpoint.secret)).toBe(true);
      expect(signedWith(during, rotated.secret)).toBe(true);
      expect(during.headers["x-webhook-signature"]).toBe(
        createHmac("sha256", rotated.secret).update(during.body).digest("hex"),
      );
      clock.advance(60_000);
      await hl.send({ eventType: "a", payload: {} });
      await hl.processDue();
      const after = server.requests[1];
      if (!after) throw new Error("no request");
      expect(String(after.headers["webhook-signature"]).split(" ")).toHaveLength(1);
      expect(signedWith(after, rotated.secret)).toBe(true);
      expect(signedWith(after, endpoint.secret)).toBe(false);
    });

    test("recover re-queues the endpoint's deliveries that failed since a time", async () => {
      let status = 500;
      const server = await receiver(() => ({ status }));
      const clock = new FakeClock();
      const hl = await engine({ clock, retrySchedule: [0] });
      const endpoint = await hl.endpoints.create({ url: server.url });
      await hl.send({ eventType: "a", payload: { n: 1 } });
      await hl.processDue();
      clock.advance(10_000);
      const since = clock.now();
      await hl.send({ eventType: "a", payload: { n: 2 } });
      await hl.send({ eventType: "a", payload: { n: 3 } });
      await hl.processDue();
      expect((await hl.deliveries.list({ status: "failed" })).data).toHaveLength(3);
      status = 200;
      expect(await hl.endpoints.recover(endpoint.id, { since: new Date(since) })).toEqual({ count: 2 });
      expect(await hl.processDue()).toBe(2);
      expect((await hl.deliveries.list({ status: "delivered" })).data).toHaveLength(2);
      expect((await hl.deliveries.list({ status: "failed" })).data).toHaveLength(1);
    });

    test("bad input gets a typed error and changes nothing", async () => {
      const hl = await engine({ maxPayloadBytes: 1024, allowPrivateNetworks: false });
      for (const url of ["ftp://example.com/x", "not a url", "", "http://127.0.0.1/hook", "http://[::1]:80/"]) {
        await expect(hl.endpoints.create({ url })).rejects.toThrow(ConfigurationError);
      }
      await expect(hl.endpoints.create({ url: "https://example.com", secret: "whsec_%%%" })).rejects.toThrow(/base64/);
      await expect(hl.endpoints.create({ url: "https://example.com", headers: { "webhook-id": "x" } })).rejects.toThrow(
        /set by hookline/,
      );
      expect((await hl.endpoints.list()).data).toHaveLength(0);
      await hl.endpoints.create({ url: "https://example.com/hooks" });
      for (const call of [
        () => hl.endpoints.get("ep_missing"),
        () => hl.endpoints.update("ep_missing", { description: "x" }),
        () => hl.endpoints.delete("ep_missing"),
        () => hl.endpoints.rotateSecret("ep_missing"),
        () => hl.endpoints.recover("ep_missing", { since: 0 }),
        () => hl.deliveries.get("dlv_missing"),
        () => hl.deliveries.retry("dlv_missing"),
        () => hl.send({ eventType: "a", payload: {}, appId: "app_missing" }),
      ]) {
        await expect(call()).rejects.toThrow(NotFoundError);
      }
      await expect(hl.send({ eventType: "a", payload: { n: 10n } })).rejects.toMatchObject({
        code: "HOOKLINE_PAYLOAD_INVALID",
      });
      await expect(hl.send({ eventType: "a", payload: "x".repeat(2000) })).rejects.toMatchObject({
        code: "HOOKLINE_PAYLOAD_TOO_LARGE",
      });
      await expect(hl.send({ eventType: "", payload: {} })).rejects.toThrow(/eventType/);
      const counts = await hl.store.countDeliveries();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    });

    test("a slow endpoint never holds back the others, and stays under its in-flight cap", async () => {
      let slowInFlight = 0;
      let slowMaxInFlight = 0;
      const slow = await receiver(() => {
        slowInFlight++;
        slowMaxInFlight = Math.max(slowMaxInFlight, slowInFlight);
        return null; // never answers; the attempt times out
      });
      const fast = await receiver();
      const hl = await engine({ perEndpointConcurrency: 3, concurrency: 8 });
      await hl.endpoints.create({ url: slow.url, eventTypes: ["slow"], timeoutMs: 3_000 });
      await hl.endpoints.create({ url: fast.url, eventTypes: ["fast"] });
      for (let i = 0; i < 20; i++) await hl.send({ eventType: "slow", payload: { i } });
      for (let i = 0; i < 10; i++) await hl.send({ eventType: "fast", payload: { i } });
      await hl.start();
      await until(() => fast.requests.length === 10);
      expect(slowMaxInFlight).toBeLessThanOrEqual(3);
      expect(slow.requests.length).toBeLessThanOrEqual(3);
      await hl.stop({ timeoutMs: 50 });
    });

    test("stop() gives the leases of unfinished attempts back; start and stop are idempotent", async () => {
      const server = await receiver(() => null);
      const hl = await engine();
      await hl.endpoints.create({ url: server.url, timeoutMs: 5_000 });
      const { messageId } = await hl.send({ eventType: "a", payload: {} });
      await hl.start();
      await hl.start();
      await until(() => server.requests.length === 1);
      await hl.stop({ timeoutMs: 50 });
      await hl.stop();
      const [delivery] = (await hl.deliveries.list({ messageId })).data;
      expect(delivery).toMatchObject({ status: "pending", leaseOwner: null, attemptCount: 0 });
      expect((await hl.attempts.list({ deliveryId: delivery?.id })).data).toHaveLength(0);
    });

    test("delivery events fire once the outcome is stored, and start() delivers without polling delay", async () => {
      const server = await receiver();
      const hl = await engine({ pollIntervalMs: 60_000 });
      await hl.endpoints.create({ url: server.url });
      await hl.start();
      const succeeded = new Promise<DeliveryEvent>((resolve) => hl.once("delivery:succeeded", resolve));
      const { messageId } = await hl.send({ eventType: "a", payload: {} });
      const event = await succeeded;
      expect(event.messageId).toBe(messageId);
      expect((await hl.deliveries.get(event.deliveryId)).status).toBe("delivered");
    });

    test("event types: catalogue, archive, and payloads validated against their schema", async () => {
      const hl = await engine();
      const schemas = {
        "1": {
          type: "object",
          properties: { email: { type: "string" }, age: { type: "integer", minimum: 0 } },
          required: ["email"],
        },
      };
      await hl.eventTypes.create({ name: "user.created", description: "A user signed up", schemas });
      await expect(hl.eventTypes.create({ name: "user.created" })).rejects.toThrow(ConflictError);
      await expect(hl.eventTypes.create({ name: "bad name!" })).rejects.toThrow(ConfigurationError);
      await expect(hl.eventTypes.create({ name: "x", schemas: { "1": { type: "nope" } } })).rejects.toThrow(
        /JSON Schema/,
      );
      await hl.send({ eventType: "user.created", payload: { email: "a@example.com", age: 3 } });
      const rejected = hl.send({ eventType: "user.created", payload: { age: -1 } });
      await expect(rejected).rejects.toThrow(PayloadValidationError);
      await expect(rejected).rejects.toMatchObject({
        issues: expect.arrayContaining([expect.objectContaining({ path: ["email"] })]),
      });
      await expect(rejected).rejects.toThrow(/email/);
      await hl.send({ eventType: "untyped.event", payload: { anything: true } });

      await hl.eventTypes.delete("user.created");
      expect((await hl.eventTypes.get("user.created")).archived).toBe(true);
      expect((await hl.eventTypes.list()).data).toEqual([]);
      expect((await hl.eventTypes.list({ includeArchived: true })).data.map((t) => t.name)).toEqual(["user.created"]);
      await hl.eventTypes.delete("user.created", { expunge: true });
      await expect(hl.eventTypes.get("user.created")).rejects.toThrow(NotFoundError);
      expect((await hl.messages.list({ appId: "app_default" })).data).toHaveLength(2);
    });

    test("API keys are stored as hashes and verified by token", async () => {
      const hl = await engine();
      expect(await hl.apiKeys.hasAdminKey()).toBe(false);
      const admin = await hl.apiKeys.create({ appId: null, name: "admin" });
      const app = await hl.apps.create({ name: "Acme" });
      const scoped = await hl.apiKeys.create({ appId: app.id });
      expect(await hl.apiKeys.hasAdminKey()).toBe(true);
      expect(await hl.apiKeys.verify(admin.token)).toEqual(admin.key);
      expect(await hl.apiKeys.verify(scoped.token)).toMatchObject({ appId: app.id });
      expect(await hl.apiKeys.verify(`${admin.token}x`)).toBeNull();
      expect(await hl.apiKeys.verify("")).toBeNull();
      const stored = JSON.stringify(await hl.store.listDocuments("api_key", {}));
      expect(stored).not.toContain(admin.token);
      expect(stored).not.toContain(scoped.token);
      await hl.apiKeys.delete(scoped.key.id);
      expect(await hl.apiKeys.verify(scoped.token)).toBeNull();
      await expect(hl.apiKeys.delete(scoped.key.id)).rejects.toThrow(NotFoundError);
      const again = await hl.apiKeys.create({ appId: app.id });
      await hl.apps.delete(app.id);
      expect(await hl.apiKeys.verify(again.token)).toBeNull();
      expect(await hl.apiKeys.verify(admin.token)).not.toBeNull();
    });
  });
}

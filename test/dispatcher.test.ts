import { createHmac } from "node:crypto";
import { afterEach, describe, expect, test } from "vitest";
import {
  ConfigurationError,
  createWebhookDispatcher,
  createWebhookRegistry,
  type DeliveryResult,
  HTTPWebhookTransport,
  HttpTransport,
  SignatureAlgorithm,
  WebhookConfig,
  WebhookDispatcher,
  WebhookEvent,
  WebhookStatus,
  WebhookTransport,
} from "../src/index.js";
import { FakeClock } from "./support/fake-clock.js";
import { startServer, type TestServer } from "./support/http-server.js";

const event = (eventType = "created") =>
  new WebhookEvent({ eventType, payload: { id: 42 }, eventId: "evt_fixed", timestamp: new Date(0) });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function server(respond?: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const started = await startServer(respond);
  cleanups.push(() => started.close());
  return started;
}

function localTransport(): HttpTransport {
  const transport = new HttpTransport({ allowPrivateNetworks: true });
  cleanups.push(() => transport.close());
  return transport;
}

describe("WebhookDispatcher with the seed's transports", () => {
  test("the default dispatcher delivers through the no-op transport answering 200", async () => {
    const dispatcher = createWebhookDispatcher();
    dispatcher.registry.register("a", new WebhookConfig({ url: "https://example.com/a", secret: "s" }));
    dispatcher.registry.register("b", new WebhookConfig({ url: "https://example.com/b", secret: "s", events: ["x"] }));
    const results = await dispatcher.dispatch(event());
    expect(results.map((r) => [r.webhookId, r.status, r.statusCode, r.attempt])).toEqual([
      ["a", WebhookStatus.DELIVERED, 200, 1],
    ]);
    expect(dispatcher.transport).toBeInstanceOf(HTTPWebhookTransport);
  });

  test("2xx delivers, other statuses and thrown errors fail", async () => {
    const registry = createWebhookRegistry();
    const statuses: Record<string, number> = { ok: 204, gone: 410, moved: 302, broken: 500 };
    for (const id of [...Object.keys(statuses), "throws"]) {
      registry.register(id, new WebhookConfig({ url: `https://example.com/${id}`, secret: "s" }));
    }
    const transport = new HTTPWebhookTransport(async (url) => {
      const id = url.split("/").pop() ?? "";
      if (id === "throws") throw new Error("socket hang up");
      return { statusCode: statuses[id] ?? 0, body: "" };
    });
    const results = await new WebhookDispatcher(registry, transport).dispatch(event());
    const byId = Object.fromEntries(results.map((r) => [r.webhookId, r]));
    expect(byId.ok).toMatchObject({ status: "delivered", statusCode: 204, error: null });
    expect(byId.gone).toMatchObject({ status: "failed", statusCode: 410 });
    expect(byId.moved).toMatchObject({ status: "failed", statusCode: 302 });
    expect(byId.broken).toMatchObject({ status: "failed", statusCode: 500 });
    expect(byId.throws).toMatchObject({ status: "failed", statusCode: null, error: "socket hang up" });
  });

  test("a subclass of WebhookTransport works and receives the signed body", async () => {
    class Recorder extends WebhookTransport {
      readonly sent: Array<{ url: string; payload: string; headers: Record<string, string>; timeoutMs: number }> = [];
      send(url: string, payload: string, headers: Readonly<Record<string, string>>, timeoutMs: number) {
        this.sent.push({ url, payload, headers: { ...headers }, timeoutMs });
        return { statusCode: 200, body: "" };
      }
    }
    const recorder = new Recorder();
    const dispatcher = createWebhookDispatcher({ transport: recorder });
    dispatcher.registry.register(
      "a",
      new WebhookConfig({ url: "https://example.com/a", secret: "k", timeoutMs: 1234 }),
    );
    await dispatcher.dispatch(event());
    expect(recorder.sent).toHaveLength(1);
    const [sent] = recorder.sent;
    expect(sent?.payload).toBe(event().toJson());
    expect(sent?.timeoutMs).toBe(1234);
    expect(sent?.headers["x-webhook-signature"]).toBe(createHmac("sha256", "k").update(event().toJson()).digest("hex"));
  });

  test("webhooks are delivered concurrently", async () => {
    const registry = createWebhookRegistry();
    for (const id of ["a", "b", "c"]) registry.register(id, new WebhookConfig({ url: `https://x/${id}`, secret: "s" }));
    let started = 0;
    let releaseAll: () => void = () => {};
    const allStarted = new Promise<void>((resolve) => {
      releaseAll = resolve;
    });
    // Each send waits until all three have started: a sequential dispatcher would never finish.
    const transport = new HTTPWebhookTransport(async () => {
      started++;
      if (started === 3) releaseAll();
      await allStarted;
      return { statusCode: 200, body: "" };
    });
    const results = await new WebhookDispatcher(registry, transport).dispatch(event());
    expect(results.every((r) => r.status === WebhookStatus.DELIVERED)).toBe(true);
  });

  test("rejects misuse with typed errors", async () => {
    expect(() => new WebhookDispatcher({} as never, new HTTPWebhookTransport())).toThrow(ConfigurationError);
    expect(() => new WebhookDispatcher(createWebhookRegistry(), {} as never)).toThrow(ConfigurationError);
    const dispatcher = createWebhookDispatcher();
    await expect(dispatcher.dispatch({ eventType: "x" } as never)).rejects.toThrow(ConfigurationError);
    await expect(dispatcher.dispatchWithRetry(event(), -1)).rejects.toThrow(/maxRetries/);
  });
});

describe("dispatchWithRetry", () => {
  function failing(times: number) {
    let calls = 0;
    return new HTTPWebhookTransport(() => {
      calls++;
      return { statusCode: calls <= times ? 503 : 200, body: "" };
    });
  }

  test("linear backoff: retryDelayMs × n before the n-th retry, then the last result", async () => {
    const clock = new FakeClock();
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: "https://x", secret: "s", maxRetries: 3, retryDelayMs: 1000 }));
    const attempts: DeliveryResult[] = [];
    const dispatcher = new WebhookDispatcher(registry, failing(Number.POSITIVE_INFINITY), {
      clock,
      onAttempt: (r) => attempts.push(r),
    });
    const [result] = await dispatcher.dispatchWithRetry(event());
    expect(clock.sleeps).toEqual([1000, 2000, 3000]);
    expect(result).toMatchObject({ status: WebhookStatus.FAILED, statusCode: 503, attempt: 4 });
    expect(attempts.map((r) => r.status)).toEqual(["retrying", "retrying", "retrying", "failed"]);
  });

  test("stops at the first success and reports the attempts made", async () => {
    const clock = new FakeClock();
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: "https://x", secret: "s", retryDelayMs: 250 }));
    const [result] = await new WebhookDispatcher(registry, failing(2), { clock }).dispatchWithRetry(event());
    expect(result).toMatchObject({ status: WebhookStatus.DELIVERED, statusCode: 200, attempt: 3 });
    expect(clock.sleeps).toEqual([250, 500]);
  });

  test("the argument overrides each config's maxRetries", async () => {
    const clock = new FakeClock();
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: "https://x", secret: "s", maxRetries: 5, retryDelayMs: 10 }));
    const dispatcher = new WebhookDispatcher(registry, failing(Number.POSITIVE_INFINITY), { clock });
    const [once] = await dispatcher.dispatchWithRetry(event(), 0);
    expect(once?.attempt).toBe(1);
    const [twice] = await dispatcher.dispatchWithRetry(event(), 1);
    expect(twice?.attempt).toBe(2);
  });

  test("waits on timers: the event loop keeps running between attempts", async () => {
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: "https://x", secret: "s", maxRetries: 2, retryDelayMs: 40 }));
    let ticks = 0;
    const interval = setInterval(() => ticks++, 5);
    try {
      const [result] = await createWebhookDispatcher({ registry, transport: failing(2) }).dispatchWithRetry(event());
      expect(result?.attempt).toBe(3);
    } finally {
      clearInterval(interval);
    }
    // 120 ms of waiting with a 5 ms interval: a blocking sleep would leave it at 0.
    expect(ticks).toBeGreaterThan(3);
  });
});

describe("WebhookDispatcher over real HTTP", () => {
  test("sends the seed's and Standard Webhooks' headers, each signature checked with node:crypto", async () => {
    const receiver = await server();
    const registry = createWebhookRegistry();
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    registry.register(
      "w",
      new WebhookConfig({ url: `${receiver.url}/hooks`, secret, signatureAlgorithm: SignatureAlgorithm.HMAC_SHA512 }),
    );
    const sent = event();
    const before = Math.floor(Date.now() / 1000);
    const [result] = await new WebhookDispatcher(registry, localTransport()).dispatch(sent);
    expect(result).toMatchObject({ status: "delivered", statusCode: 200 });
    const [request] = receiver.requests;
    if (!request) throw new Error("no request arrived");
    const body =
      '{"event_id":"evt_fixed","event_type":"created","payload":{"id":42},"source":"","timestamp":"1970-01-01T00:00:00.000Z"}';
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/hooks");
    expect(request.body).toBe(body);
    const h = request.headers;
    expect(h["content-type"]).toBe("application/json");
    expect(h["x-webhook-event"]).toBe("created");
    expect(h["x-webhook-event-id"]).toBe("evt_fixed");
    expect(h["x-webhook-signature-algorithm"]).toBe("hmac_sha512");
    expect(h["x-webhook-signature"]).toBe(createHmac("sha512", Buffer.from(secret, "utf8")).update(body).digest("hex"));
    expect(h["webhook-id"]).toBe("evt_fixed");
    const timestamp = Number(h["webhook-timestamp"]);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(h["x-webhook-timestamp"]).toBe(h["webhook-timestamp"]);
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const v1 = createHmac("sha256", key).update(`evt_fixed.${timestamp}.${body}`).digest("base64");
    expect(h["webhook-signature"]).toBe(`v1,${v1}`);
  });

  test("retries over HTTP keep webhook-id and body, and a flaky endpoint recovers", async () => {
    const receiver = await server((_request, index) => ({ status: index < 2 ? 500 : 200 }));
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: receiver.url, secret: "plain", retryDelayMs: 10 }));
    const [result] = await new WebhookDispatcher(registry, localTransport()).dispatchWithRetry(event());
    expect(result).toMatchObject({ status: "delivered", statusCode: 200, attempt: 3 });
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set(["evt_fixed"]));
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
  });

  test("a receiver that never answers fails with a timeout error, not an exception", async () => {
    const receiver = await server(() => null);
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: receiver.url, secret: "s", timeoutMs: 200 }));
    const [result] = await new WebhookDispatcher(registry, localTransport()).dispatchWithRetry(event(), 0);
    expect(result).toMatchObject({ status: "failed", statusCode: null, attempt: 1 });
    expect(result?.error).toMatch(/200 ms/);
  });

  test("the egress guard is on by default and says how to lift it", async () => {
    const receiver = await server();
    const registry = createWebhookRegistry();
    registry.register("w", new WebhookConfig({ url: receiver.url, secret: "s" }));
    const transport = new HttpTransport();
    cleanups.push(() => transport.close());
    const [result] = await new WebhookDispatcher(registry, transport).dispatch(event());
    expect(result?.status).toBe("failed");
    expect(result?.error).toMatch(/127\.0\.0\.1.*allowPrivateNetworks/);
    expect(receiver.requests).toHaveLength(0);
  });
});

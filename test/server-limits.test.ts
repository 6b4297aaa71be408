import type { AddressInfo, Socket } from "node:net";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Svix } from "svix";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RateLimiter } from "../src/server/rate-limit.js";
import { ensureBuilt, killAll, runCli, startServe, tempDir } from "./cli-support.js";
import { type HarnessOptions, type ServerHarness, startHarness, until } from "./server-harness.js";

let harness: ServerHarness | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await harness?.close();
  harness = null;
});

/** A harness listening on 127.0.0.1, and its base URL. */
async function listening(options: HarnessOptions): Promise<{ h: ServerHarness; base: string; port: number }> {
  harness = await startHarness(options);
  await harness.server.listen({ host: "127.0.0.1", port: 0 });
  const { port } = harness.server.server.address() as AddressInfo;
  return { h: harness, base: `http://127.0.0.1:${port}`, port };
}

/** A raw connection, remembered for cleanup; resolves once connected. */
async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  sockets.push(socket);
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("close", () => reject(new Error("closed before connecting")));
  });
  return socket;
}

/** Resolves with the milliseconds until `socket` closes, or null after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number | null> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(null), limitMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

/** Everything the server writes to `socket`, as text so far. */
function recorder(socket: Socket): () => string {
  let received = "";
  socket.on("data", (chunk) => {
    received += chunk;
  });
  return () => received;
}

/** Writes one character of `text` every `everyMs` until stopped, the socket closes or the text runs out. */
function trickle(socket: Socket, text: string, everyMs: number): { sent: () => number; stop: () => void } {
  let sent = 0;
  const timer = setInterval(() => {
    if (!socket.destroyed && sent < text.length) socket.write(text[sent++] ?? "");
  }, everyMs);
  return { sent: () => sent, stop: () => clearInterval(timer) };
}

/** The status and JSON body of a raw HTTP/1.1 answer. */
function answerOf(raw: string): { status: number; body: unknown } {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), body: JSON.parse(body) };
}

async function openConnections(server: ServerHarness["server"]): Promise<number> {
  return new Promise((resolve, reject) =>
    server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

describe("slow clients over a real socket", () => {
  it("closes a connection that trickles its headers within the headers timeout, while serving others", async () => {
    const { base, port } = await listening({ server: { headersTimeoutMs: 500, requestTimeoutMs: 10_000 } });
    const slow = await rawSocket(port);
    const received = recorder(slow);
    const closed = closedWithin(slow, 5_000);
    slow.write("GET /api/v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    const header = trickle(slow, "a".repeat(25), 200);
    try {
      // Meanwhile, on another connection, a normal request is answered.
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok" });
      const afterMs = await closed;
      expect(afterMs).not.toBeNull();
      // Closed by the headers timeout (500 ms, checked every 125 ms), long before the request timeout.
      expect(afterMs).toBeLessThan(5_000);
      expect(header.sent()).toBeGreaterThan(0);
      expect(answerOf(received())).toEqual({
        status: 408,
        body: { code: "request_timeout", detail: expect.any(String) },
      });
    } finally {
      header.stop();
    }
    // And the server still serves.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("closes a connection that sends nothing within the headers timeout", async () => {
    const { base, port } = await listening({ server: { headersTimeoutMs: 500, requestTimeoutMs: 10_000 } });
    const silent = await rawSocket(port);
    // 20× the timeout: the server runs in this process, which a loaded machine may starve for seconds.
    // Nothing else closes a connection that never sent a byte (no request, so no request timeout).
    expect(await closedWithin(silent, 10_000)).not.toBeNull();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("keeps an idle keep-alive connection that has sent a request open past the headers timeout", async () => {
    const { port } = await listening({ server: { headersTimeoutMs: 300, requestTimeoutMs: 10_000 } });
    const client = await rawSocket(port);
    const received = recorder(client);
    const request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    client.write(request);
    await until(() => received().includes('{"status":"ok"}'), 5_000);
    // Three headers timeouts of silence: the connection is idle, not slow, and stays.
    expect(await closedWithin(client, 900)).toBeNull();
    client.write(request);
    await until(() => received().split('{"status":"ok"}').length === 3, 5_000);
  });

  it("answers 408 to a body that trickles past the request timeout", async () => {
    const { h, port } = await listening({ server: { headersTimeoutMs: 300, requestTimeoutMs: 800 } });
    const slow = await rawSocket(port);
    const received = recorder(slow);
    const closed = closedWithin(slow, 6_000);
    const body = JSON.stringify({ name: "trickled" });
    slow.write(
      "POST /api/v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        `Authorization: Bearer ${h.adminToken}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // All but the last byte, one every 150 ms: the 800 ms request timeout strikes first.
    const content = trickle(slow, body.slice(0, -1), 150);
    try {
      expect(await closed).not.toBeNull();
      expect(answerOf(received())).toEqual({
        status: 408,
        body: { code: "request_timeout", detail: expect.any(String) },
      });
      expect(content.sent()).toBeLessThan(body.length);
    } finally {
      content.stop();
    }
    expect((await h.call("GET", "/api/v1/app")).json().data).toEqual([]);
  });
});

describe("malformed requests over a real socket", () => {
  it("answers oversized headers with 431 and garbage with 400, as { code, detail }, and keeps serving", async () => {
    const { base, port } = await listening({});
    const oversized = await rawSocket(port);
    const oversizedAnswer = recorder(oversized);
    const closed = closedWithin(oversized, 5_000);
    oversized.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`);
    expect(await closed).not.toBeNull();
    expect(answerOf(oversizedAnswer())).toEqual({
      status: 431,
      body: { code: "headers_too_large", detail: expect.any(String) },
    });

    const garbage = await rawSocket(port);
    const garbageAnswer = recorder(garbage);
    const garbageClosed = closedWithin(garbage, 5_000);
    garbage.write("NOT HTTP AT ALL\r\n\r\n");
    expect(await garbageClosed).not.toBeNull();
    expect(answerOf(garbageAnswer())).toEqual({
      status: 400,
      body: { code: "bad_request", detail: expect.any(String) },
    });

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe("connection cap over a real socket", () => {
  it("closes connections beyond the cap, and serves again once they are gone", async () => {
    const cap = 4;
    const { h, base, port } = await listening({ server: { maxConnections: cap, headersTimeoutMs: 10_000 } });
    let dropped = 0;
    h.server.server.on("drop", () => {
      dropped++;
    });
    const held: Socket[] = [];
    for (let i = 0; i < cap; i++) held.push(await rawSocket(port));
    await until(async () => (await openConnections(h.server)) === cap, 5_000);

    // Each extra connection is accepted by the kernel, then closed by the server at once.
    const extra = 3;
    for (let i = 0; i < extra; i++) {
      const socket = connect(port, "127.0.0.1");
      sockets.push(socket);
      socket.on("error", () => {});
      expect(await closedWithin(socket, 5_000)).not.toBeNull();
    }
    let refused: unknown = null;
    try {
      await fetch(`${base}/healthz`);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(TypeError);
    expect(dropped).toBe(extra + 1);
    expect(await openConnections(h.server)).toBe(cap);
    for (const socket of held) expect(socket.destroyed).toBe(false);

    for (const socket of held) socket.destroy();
    await until(async () => (await openConnections(h.server)) === 0, 5_000);
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
  });
});

describe("rate limit per API key over a real socket", () => {
  // Burst 5, then one a second: even on a loaded machine six requests come faster than the refill.
  const small = { server: { rateLimit: { perSecond: 1, burst: 5 } } } satisfies HarnessOptions;

  it("answers the 6th quick request with 429, Retry-After and a Svix-shaped body; other keys are unaffected", async () => {
    const { h, base } = await listening(small);
    const appId = await h.hl.apps.create({ name: "acme" }).then((app) => app.id);
    const appToken = await h.appToken(appId);
    const get = (token: string) => fetch(`${base}/api/v1/app`, { headers: { authorization: `Bearer ${token}` } });

    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(h.adminToken)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);

    const limited = await get(h.adminToken);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    const answer = (await limited.json()) as { code: string; detail: string };
    expect(answer).toEqual({ code: "rate_limit_exceeded", detail: expect.any(String) });

    // A POST refused by the limit stores nothing.
    const post = await fetch(`${base}/api/v1/app`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "refused" }),
    });
    expect(post.status).toBe(429);
    expect(post.headers.get("retry-after")).not.toBeNull();

    // The app's key has a bucket of its own.
    const own = await fetch(`${base}/api/v1/app/${appId}`, { headers: { authorization: `Bearer ${appToken}` } });
    expect(own.status).toBe(200);

    // Health, metrics and the UI are not limited.
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      expect((await fetch(`${base}/ui/`)).status).not.toBe(429);
    }

    // After Retry-After seconds, the key is served again.
    await sleep(retryAfter * 1000);
    const again = await get(h.adminToken);
    expect(again.status).toBe(200);
    const names = ((await again.json()) as { data: Array<{ name: string }> }).data.map((app) => app.name);
    expect(names).toEqual(["acme"]);
  });

  it("does not count requests refused with 401 against any key", async () => {
    const { h, base } = await listening(small);
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${base}/api/v1/app`, { headers: { authorization: "Bearer not-a-key" } });
      expect(response.status).toBe(401);
      expect((await fetch(`${base}/api/v1/app`)).status).toBe(401);
    }
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await fetch(`${base}/api/v1/app`, { headers: { authorization: `Bearer ${h.adminToken}` } })).status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });

  it("gives the official svix client an error with code 429", async () => {
    const { h, base } = await listening(small);
    const svix = new Svix(h.adminToken, { serverUrl: base });
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      try {
        await svix.application.list();
        outcomes.push("ok");
      } catch (error) {
        const { code, body } = error as { code?: unknown; body?: { code?: string } };
        outcomes.push(`${String(code)} ${body?.code}`);
      }
    }
    expect(outcomes).toEqual(["ok", "ok", "ok", "ok", "ok", "429 rate_limit_exceeded", "429 rate_limit_exceeded"]);
  });

  it("is off with rateLimit: false", async () => {
    const { h, base } = await listening({ server: { rateLimit: false } });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      statuses.add(
        (await fetch(`${base}/api/v1/app`, { headers: { authorization: `Bearer ${h.adminToken}` } })).status,
      );
    }
    expect([...statuses]).toEqual([200]);
  });
});

describe("RateLimiter", () => {
  it("refills at perSecond up to burst and says how long to wait", () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([1, 2, 3].map(() => limiter.take("k").allowed)).toEqual([true, true, true]);
    expect(limiter.take("k")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now += 500;
    expect(limiter.take("k").allowed).toBe(true);
    expect(limiter.take("k").allowed).toBe(false);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => limiter.take("k").allowed)).toEqual([true, true, true, false]);
  });

  it("rounds a long wait up to whole seconds", () => {
    const limiter = new RateLimiter({ perSecond: 0.25, burst: 1 }, () => 0);
    expect(limiter.take("k").allowed).toBe(true);
    expect(limiter.take("k")).toEqual({ allowed: false, retryAfterSeconds: 4 });
  });

  it("keeps no more than maxKeys buckets, and drops the ones that have refilled", () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 10, burst: 10, maxKeys: 100 }, () => now);
    for (let i = 0; i < 10_000; i++) limiter.take(`key-${i}`);
    expect(limiter.size).toBe(100);
    // One second later every bucket is full again: they are forgotten as others arrive.
    now += 1_000;
    limiter.take("fresh");
    expect(limiter.size).toBe(1);
  });

  it("refuses a nonsensical configuration", () => {
    expect(() => new RateLimiter({ perSecond: 0 })).toThrow(/perSecond/);
    expect(() => new RateLimiter({ perSecond: 5, burst: 0.5 })).toThrow(/burst/);
    expect(() => new RateLimiter({ perSecond: 5, maxKeys: 0 })).toThrow(/maxKeys/);
  });
});

describe("hookline serve flags", () => {
  afterEach(() => killAll());
  afterAll(() => killAll({ all: true }));

  it("applies --rate-limit, --rate-limit-burst and --headers-timeout-ms to the service", async () => {
    await ensureBuilt();
    const db = `${tempDir("hookline-limits")}/h.db`;
    const serve = await startServe([
      "--db",
      db,
      "--no-workers",
      "--rate-limit",
      "1",
      "--rate-limit-burst",
      "2",
      "--headers-timeout-ms",
      "400",
      "--request-timeout-ms",
      "2000",
      "--max-connections",
      "20",
    ]);
    const headers = { authorization: `Bearer ${serve.adminToken}` };
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${serve.url}/api/v1/app`, { headers });
      statuses.push(response.status);
      retryAfter ??= response.headers.get("retry-after");
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);

    const { port } = new URL(serve.url);
    const silent = await rawSocket(Number(port));
    expect(await closedWithin(silent, 5_000)).not.toBeNull();
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it("refuses --rate-limit-burst with the limit off", async () => {
    await ensureBuilt();
    const result = await runCli(["serve", "--rate-limit", "0", "--rate-limit-burst", "5", "--no-workers"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--rate-limit-burst needs a --rate-limit above 0/);
  }, 120_000);
});

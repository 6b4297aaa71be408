import { afterEach, describe, expect, test } from "vitest";
import { RateLimiter } from "../src/delivery/worker.js";
import { createHookline, memoryStore } from "../src/index.js";
import { FakeClock } from "./support/fake-clock.js";
import { startServer, type TestServer } from "./support/http-server.js";

describe("RateLimiter", () => {
  test("a second of burst, then one slot every 1/rate seconds", () => {
    const limiter = new RateLimiter();
    const waits = Array.from({ length: 7 }, () => limiter.take("ep", 5, 0));
    expect(waits).toEqual([0, 0, 0, 0, 0, 200, 400]);
    expect(limiter.exhausted(0)).toEqual(["ep"]);
    // 400 ms later the queue of two promised slots is paid off, and no whole token is left yet.
    expect(limiter.exhausted(400)).toEqual(["ep"]);
    expect(limiter.exhausted(600)).toEqual([]);
    expect(limiter.take("ep", 5, 600)).toBe(0);
  });

  test("buckets are per endpoint", () => {
    const limiter = new RateLimiter();
    expect(limiter.take("a", 1, 0)).toBe(0);
    expect(limiter.take("a", 1, 0)).toBe(1000);
    expect(limiter.take("b", 1, 0)).toBe(0);
  });
});

describe("rate-limited endpoints", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  test("sends beyond the rate wait for their slot on the engine's clock", async () => {
    server = await startServer();
    const clock = new FakeClock();
    const hl = await createHookline({ store: memoryStore(), clock, allowPrivateNetworks: true });
    try {
      await hl.endpoints.create({ url: server.url, rateLimitPerSecond: 5 });
      for (let i = 0; i < 10; i++) await hl.send({ eventType: "a", payload: { i } });
      expect(await hl.processDue()).toBe(10);
      // Five go at once (the burst); each of the other five waits one 200 ms slot. The fake clock
      // moves forward on every sleep, so each later send finds the previous slot already spent.
      expect(clock.sleeps).toEqual([200, 200, 200, 200, 200]);
      expect(server.requests).toHaveLength(10);
    } finally {
      await hl.close();
    }
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHookline } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import { startServer, type TestServer } from "./support/http-server.js";
import { waitFor } from "./support/processes.js";

const HEALTHY = 80;
const SLOW = 10;
const REFUSING = 10;
const MESSAGES = 20;
/** Slow receivers answer this late: well past `slowAttemptMs`, well inside the attempt timeout. */
const SLOW_ANSWER_MS = 8_000;

/** A receiver that answers every request after `delayMs`, noting when it answered the first. */
async function startSlowServer(delayMs: number) {
  const state = { firstAnsweredAt: Number.POSITIVE_INFINITY, requests: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    state.requests++;
    req.resume();
    const timer = setTimeout(() => {
      timers.delete(timer);
      state.firstAnsweredAt = Math.min(state.firstAnsweredAt, performance.now());
      res.end("ok");
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("noisy neighbours: slow and refusing endpoints do not hold back healthy ones", () => {
  let dir: string;
  let healthy: TestServer;
  let slow: Awaited<ReturnType<typeof startSlowServer>>;
  let refusedPort: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "hookline-fair-"));
    healthy = await startServer();
    slow = await startSlowServer(SLOW_ANSWER_MS);
    refusedPort = await closedPort();
  });
  afterEach(async () => {
    await healthy.close();
    await slow.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Sends MESSAGES to every endpoint; returns once every healthy delivery succeeded or the first
   * slow answer came, whichever is first, with what had happened by then.
   */
  async function run(slowAttemptMs?: number) {
    const hl = await createHookline({
      store: sqliteStore({ path: join(dir, `fair-${slowAttemptMs ?? "default"}.db`) }),
      allowPrivateNetworks: true,
      ...(slowAttemptMs !== undefined && { slowAttemptMs }),
    });
    try {
      const healthyIds = new Set<string>();
      const refusingIds = new Set<string>();
      for (let i = 0; i < HEALTHY; i++) healthyIds.add((await hl.endpoints.create({ url: `${healthy.url}/h${i}` })).id);
      for (let i = 0; i < SLOW; i++) await hl.endpoints.create({ url: `${slow.url}/s${i}`, timeoutMs: 30_000 });
      for (let i = 0; i < REFUSING; i++) {
        refusingIds.add((await hl.endpoints.create({ url: `http://127.0.0.1:${refusedPort}/r${i}` })).id);
      }
      let healthyDelivered = 0;
      let lastHealthyAt = 0;
      let refusedAttempts = 0;
      hl.on("delivery:succeeded", (event) => {
        if (!healthyIds.has(event.endpointId)) return;
        healthyDelivered++;
        lastHealthyAt = performance.now();
      });
      hl.on("delivery:failed", (event) => {
        if (refusingIds.has(event.endpointId)) refusedAttempts++;
      });
      await hl.start();
      const startedAt = performance.now();
      for (let m = 0; m < MESSAGES; m++) await hl.send({ eventType: "fair.test", payload: { m } });
      const allHealthy = () => healthyDelivered === HEALTHY * MESSAGES;
      await waitFor(
        () => allHealthy() || Number.isFinite(slow.state.firstAnsweredAt),
        30_000,
        "healthy or slow answers",
      );
      return {
        healthyDelivered,
        healthyDoneMs: allHealthy() ? lastHealthyAt - startedAt : null,
        slowAnswered: Number.isFinite(slow.state.firstAnsweredAt),
        refusedAttempts,
      };
    } finally {
      await hl.close({ timeoutMs: 100 });
    }
  }

  it("healthy endpoints are all served before the first slow answer, and refusing ones are retried", async () => {
    const result = await run();
    console.log(
      `noisy neighbours: ${result.healthyDelivered} healthy deliveries done ${Math.round(result.healthyDoneMs ?? -1)} ms` +
        ` after the first send, before any slow answer (${SLOW_ANSWER_MS} ms); ${result.refusedAttempts} refused attempts;` +
        ` ${slow.state.requests} slow requests started`,
    );
    expect(result.slowAnswered).toBe(false);
    expect(result.healthyDelivered).toBe(HEALTHY * MESSAGES);
    // Every refusing endpoint's first delivery failed fast and was scheduled again.
    expect(result.refusedAttempts).toBeGreaterThanOrEqual(REFUSING);
    expect(slow.state.requests).toBeGreaterThan(0);
  }, 60_000);

  it("without the slow allowance the slow endpoints would hold every slot (the check above can fail)", async () => {
    const result = await run(600_000);
    expect(result.slowAnswered).toBe(true);
    expect(result.healthyDelivered).toBeLessThan(HEALTHY * MESSAGES);
  }, 60_000);
});

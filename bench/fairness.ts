/**
 * Noisy neighbours: 1,000 endpoints, 100 messages fanned out to every one
 * (100,000 deliveries), on SQLite, workers in the sending process with the
 * engine's defaults (64 in flight, 10 per endpoint). Run twice:
 *
 * - all healthy: every endpoint on bench/receiver.mjs (another process);
 * - noisy: 10 % of the endpoints answer after 2 s (a receiver in this
 *   process that holds each request), 10 % refuse connections (a closed
 *   port), the rest as before.
 *
 * The figure: the p99 latency, `send()` → `delivery:succeeded`, of the
 * healthy endpoints' deliveries in the noisy run against the same in the
 * all-healthy run (target ≤ 2×), with the process's peak RSS. A run ends when
 * every healthy delivery has succeeded; the slow and refusing endpoints'
 * deliveries are still being attempted then, as they would be in production.
 *
 * `npx tsx bench/run.ts fairness`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createHookline } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  quantile,
  type RatioCheck,
  scaled,
  scaleFromEnv,
} from "./common.js";
import { Receiver } from "./dispatch.js";
import { EVENT_TYPE, payloadFor, withTempDir, withTimeout } from "./engine-support.js";

const ENDPOINTS = 1_000;
const MESSAGES = 100;
const SLOW_SHARE = 0.1;
const REFUSING_SHARE = 0.1;
const SLOW_ANSWER_MS = 2_000;
const TARGET = 2;
const RSS_SAMPLE_MS = 200;

interface FairnessRun {
  healthyDeliveries: number;
  /** send() → delivery:succeeded of the healthy endpoints' deliveries, ms, sorted. */
  latencies: number[];
  elapsedMs: number;
  peakRssBytes: number;
}

/** An HTTP server in this process that answers every request after `delayMs`. */
async function startSlowReceiver(delayMs: number) {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.end("ok");
    }, delayMs);
    timers.add(timer);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function runFairness(
  path: string,
  endpoints: number,
  messages: number,
  healthyUrl: string,
  noisy: { slowUrl: string; refusingUrl: string } | null,
): Promise<FairnessRun> {
  const hl = await createHookline({ store: sqliteStore({ path }), allowPrivateNetworks: true });
  let peakRssBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  try {
    const slowCount = noisy ? Math.round(endpoints * SLOW_SHARE) : 0;
    const refusingCount = noisy ? Math.round(endpoints * REFUSING_SHARE) : 0;
    const healthy = new Set<string>();
    for (let i = 0; i < endpoints; i++) {
      const url =
        noisy && i < slowCount
          ? `${noisy.slowUrl}/slow/${i}`
          : noisy && i < slowCount + refusingCount
            ? `${noisy.refusingUrl}/refused/${i}`
            : `${healthyUrl}/hook/${i}`;
      const endpoint = await hl.endpoints.create({ url });
      if (url.startsWith(healthyUrl)) healthy.add(endpoint.id);
    }
    const healthyDeliveries = healthy.size * messages;
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let done: () => void = () => {};
    const allHealthy = new Promise<void>((resolve) => {
      done = resolve;
    });
    hl.on("delivery:succeeded", (event) => {
      if (!healthy.has(event.endpointId)) return;
      latencies.push(performance.now() - (sentAt.get(event.messageId) ?? Number.NaN));
      if (latencies.length === healthyDeliveries) done();
    });
    await hl.start();
    const started = performance.now();
    for (let m = 0; m < messages; m++) {
      const at = performance.now();
      const { messageId } = await hl.send({ eventType: EVENT_TYPE, payload: payloadFor(m) });
      sentAt.set(messageId, at);
    }
    await withTimeout(allHealthy, 60_000 + healthyDeliveries, `only ${latencies.length} healthy deliveries succeeded`);
    return {
      healthyDeliveries,
      latencies: latencies.sort((a, b) => a - b),
      elapsedMs: performance.now() - started,
      peakRssBytes,
    };
  } finally {
    clearInterval(sampler);
    // The slow endpoints' attempts are still running: cut them short.
    await hl.close({ timeoutMs: 100 });
  }
}

/** Runs the all-healthy and the noisy run and compares the healthy endpoints' latency. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const scale = options.scale ?? scaleFromEnv(process.env, options.durationMs);
  const endpoints = scaled(ENDPOINTS, Math.sqrt(scale), 50);
  const messages = scaled(MESSAGES, Math.sqrt(scale), 5);
  console.log(
    `\n## Noisy neighbours — ${formatCount(endpoints)} endpoints × ${messages} messages on SQLite; noisy run:` +
      ` ${SLOW_SHARE * 100} % answer after ${SLOW_ANSWER_MS} ms, ${REFUSING_SHARE * 100} % refuse connections`,
  );
  const receiver = await Receiver.start();
  const slow = await startSlowReceiver(SLOW_ANSWER_MS);
  const refusingUrl = await closedPortUrl();
  const healthyUrl = `http://127.0.0.1:${receiver.port}`;
  let runs: [FairnessRun, FairnessRun];
  try {
    runs = await withTempDir("hookline-fairness", async (dir) => [
      await runFairness(join(dir, "healthy.db"), endpoints, messages, healthyUrl, null),
      await runFairness(join(dir, "noisy.db"), endpoints, messages, healthyUrl, { slowUrl: slow.url, refusingUrl }),
    ]);
  } finally {
    await slow.close();
    await receiver.stop();
  }
  const [allHealthy, noisy] = runs;
  const row = (label: string, run: FairnessRun) => [
    label,
    formatCount(run.healthyDeliveries),
    ...[0.5, 0.99].map((q) => quantile(run.latencies, q).toFixed(0)),
    formatCount((run.healthyDeliveries * 1000) / run.elapsedMs),
    (run.peakRssBytes / 1024 / 1024).toFixed(0),
  ];
  console.log(
    `\n${formatTable(
      ["run", "healthy deliveries", "p50 ms", "p99 ms", "healthy/s", "peak RSS MB"],
      [row("all healthy", allHealthy), row("10 % slow, 10 % refusing", noisy)],
    )}`,
  );
  const ratio = quantile(noisy.latencies, 0.99) / quantile(allHealthy.latencies, 0.99);
  console.log(`\nhealthy endpoints' p99, noisy / all healthy: ${formatRatio(ratio)} (target ≤ ${formatRatio(TARGET)})`);
  const checks: RatioCheck[] = [
    { name: "healthy p99 with noisy neighbours / without", ratio, target: TARGET, direction: "atMost" },
  ];
  return { checks };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

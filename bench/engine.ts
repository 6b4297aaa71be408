/**
 * The durable engine on SQLite, end to end over real HTTP on loopback:
 *
 * 1. Throughput: N messages `send()` → claimed → POSTed to bench/receiver.mjs
 *    (another process) → attempt and delivery recorded, with the workers in
 *    the sending process (`hl.start()` first, then send from 32 concurrent
 *    loops, done at the N-th `delivery:succeeded` event), against the raw
 *    undici Pool loop of bench/dispatch.ts (32 in flight), alternately,
 *    A B A B. The engine runs 32 deliveries in flight as well
 *    (`concurrency` = `perEndpointConcurrency` = 32, one endpoint). Also the
 *    pure ingest rate: `send()` alone, workers off.
 * 2. Latency: a fixed-rate sender (1,000 messages/s for 10 s), each send
 *    timestamped; the first attempt's start is taken where the transport is
 *    called (a subclass of HttpTransport notes `performance.now()` by
 *    `webhook-id`), the recorded completion at `delivery:succeeded`.
 *
 * Each run gets a fresh database file in a temporary directory, removed at
 * the end. Run alone with `npx tsx bench/engine.ts`, or with
 * `npx tsx bench/run.ts engine`.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createHookline, type Hookline, HttpTransport, type TransportResponse } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  median,
  quantile,
  type RatioCheck,
  scaled,
  scaleFromEnv,
} from "./common.js";
import { IN_FLIGHT, newEvent, Receiver, type RunResult, runBaseline } from "./dispatch.js";
import { EVENT_TYPE, payloadFor, SECRET, sendMany, sleep, withTempDir, withTimeout } from "./engine-support.js";

/** Messages per end-to-end and ingest run at scale 1. */
const MESSAGES = 20_000;
/**
 * Concurrent `send()` loops, as many producers as the PostgreSQL and peer
 * benchmarks use: more sends per group commit, and a fair match for them.
 */
const SEND_LANES = 32;
/** Issue target for this release; the project's goal beyond it is 0.5×. */
const THROUGHPUT_TARGET = 0.3;
const LATENCY_RATE_PER_SECOND = 1_000;
/** Messages drained through one FIFO endpoint at scale 1. */
const FIFO_MESSAGES = 3_000;
const LATENCY_DURATION_MS = 10_000;
const LATENCY_WARMUP_MS = 1_000;
const P50_TARGET_MS = 5;
const P99_TARGET_MS = 50;
/** The engine's in-flight limits: the raw loop's 32, on the one endpoint. */
const ENGINE_SETTINGS = { concurrency: IN_FLIGHT, perEndpointConcurrency: IN_FLIGHT } as const;

interface EngineRun {
  deliveriesPerSecond: number;
  messages: number;
  elapsedMs: number;
  /** Our process's CPU time per delivery, µs (sending, claiming, HTTP, completing). */
  cpuMicrosPerDelivery: number;
  receiverCoreShare: number;
}

/** Counts `delivery:succeeded` and resolves when the count reaches a target; any failed attempt rejects. */
class DeliveryCounter {
  succeeded = 0;
  #target = Number.POSITIVE_INFINITY;
  #waiter: { resolve: () => void; reject: (error: Error) => void } | null = null;

  constructor(hl: Hookline) {
    hl.on("delivery:succeeded", () => {
      this.succeeded++;
      if (this.succeeded >= this.#target) this.#settle(null);
    });
    const failed = (event: { attempt: { statusCode: number | null; error: string | null } }) =>
      this.#settle(new Error(`an attempt failed: ${event.attempt.statusCode ?? event.attempt.error}`));
    hl.on("delivery:failed", failed);
    hl.on("delivery:exhausted", failed);
  }

  /** Resolves once `total` deliveries succeeded (counting from the last reset). */
  until(total: number, timeoutMs: number): Promise<void> {
    this.#target = total;
    const done = new Promise<void>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
    if (this.succeeded >= total) this.#settle(null);
    return withTimeout(done, timeoutMs, `only ${this.succeeded} of ${total} deliveries succeeded in ${timeoutMs} ms`);
  }

  #settle(error: Error | null): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter === null) return;
    if (error === null) waiter.resolve();
    else waiter.reject(error);
  }
}

/** Generous but bounded: 30 s plus 5 ms a message (a drain slower than 200/s is broken anyway). */
const drainTimeoutMs = (messages: number) => 30_000 + 5 * messages;

async function openEngine(path: string, receiver: Receiver, transport?: HttpTransport): Promise<Hookline> {
  const hl = await createHookline({
    store: sqliteStore({ path }),
    allowPrivateNetworks: true,
    ...(transport !== undefined && { transport }),
    ...ENGINE_SETTINGS,
  });
  await hl.endpoints.create({ url: `http://127.0.0.1:${receiver.port}/hook`, secret: SECRET });
  return hl;
}

/** send() → delivered → recorded for `messages` messages, workers in this process, after a 10 % warm-up. */
async function runEndToEnd(receiver: Receiver, path: string, messages: number): Promise<EngineRun> {
  const hl = await openEngine(path, receiver);
  try {
    const counter = new DeliveryCounter(hl);
    await hl.start();
    const warmup = scaled(messages / 10, 1, 100);
    await sendMany(hl, 0, warmup, SEND_LANES);
    await counter.until(warmup, drainTimeoutMs(warmup));

    const receiverCpuBefore = await receiver.cpuMicros();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const done = counter.until(warmup + messages, drainTimeoutMs(messages));
    await sendMany(hl, warmup, messages, SEND_LANES);
    await done;
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const receiverCpu = (await receiver.cpuMicros()) - receiverCpuBefore;

    const counts = await hl.store.countDeliveries();
    if (counts.delivered !== warmup + messages) {
      throw new Error(`expected ${warmup + messages} delivered rows, found ${JSON.stringify(counts)}`);
    }
    return {
      deliveriesPerSecond: (messages * 1000) / elapsedMs,
      messages,
      elapsedMs,
      cpuMicrosPerDelivery: (cpu.user + cpu.system) / messages,
      receiverCoreShare: receiverCpu / (elapsedMs * 1000),
    };
  } finally {
    await hl.close();
  }
}

/** send() alone: workers never started, so every message stays queued. */
async function runIngest(receiver: Receiver, path: string, messages: number): Promise<EngineRun> {
  const hl = await openEngine(path, receiver);
  try {
    const warmup = scaled(messages / 10, 1, 100);
    await sendMany(hl, 0, warmup, SEND_LANES);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await sendMany(hl, warmup, messages, SEND_LANES);
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const counts = await hl.store.countDeliveries();
    if (counts.pending !== warmup + messages) throw new Error(`expected ${warmup + messages} pending deliveries`);
    return {
      deliveriesPerSecond: (messages * 1000) / elapsedMs,
      messages,
      elapsedMs,
      cpuMicrosPerDelivery: (cpu.user + cpu.system) / messages,
      receiverCoreShare: 0,
    };
  } finally {
    await hl.close();
  }
}

async function throughput(receiver: Receiver, dir: string, durationMs: number, messages: number) {
  const warmupMs = Math.min(1_000, Math.max(100, Math.round(durationMs / 5)));
  const body = newEvent(0).toJson();
  console.log(
    `\n### SQLite end to end — ${formatCount(messages)} messages per run (+10 % warm-up), ~${Buffer.byteLength(body)} B bodies,` +
      ` ${IN_FLIGHT} in flight, ${SEND_LANES} send() loops, workers in the sending process; raw undici Pool:` +
      ` ${warmupMs} ms warm-up + ${durationMs} ms measured; A B A B\n`,
  );
  const baselines: RunResult[] = [];
  const engine: EngineRun[] = [];
  let run = 0;
  for (let pass = 0; pass < 2; pass++) {
    baselines.push(await runBaseline(receiver, body, warmupMs, durationMs));
    engine.push(await runEndToEnd(receiver, join(dir, `e2e-${run++}.db`), messages));
  }
  const ingest: EngineRun[] = [];
  for (let pass = 0; pass < 2; pass++)
    ingest.push(await runIngest(receiver, join(dir, `ingest-${run++}.db`), messages));

  const rows: string[][] = [];
  for (let pass = 0; pass < 2; pass++) {
    const baseline = baselines[pass] as RunResult;
    const e2e = engine[pass] as EngineRun;
    rows.push([
      "A raw undici Pool (req/s)",
      formatCount(baseline.requestsPerSecond),
      formatCount(baseline.completed),
      baseline.senderCpuMicrosPerRequest.toFixed(1),
      `${Math.round(baseline.receiverCoreShare * 100)}%`,
    ]);
    rows.push([
      "B send → delivered → recorded",
      formatCount(e2e.deliveriesPerSecond),
      formatCount(e2e.messages),
      e2e.cpuMicrosPerDelivery.toFixed(1),
      `${Math.round(e2e.receiverCoreShare * 100)}%`,
    ]);
  }
  for (const run of ingest) {
    rows.push([
      "C send() alone (ingest)",
      formatCount(run.deliveriesPerSecond),
      formatCount(run.messages),
      run.cpuMicrosPerDelivery.toFixed(1),
      "-",
    ]);
  }
  console.log(formatTable(["run", "per second", "count", "our CPU µs each", "receiver core"], rows));

  const baselineRate = median(baselines.map((r) => r.requestsPerSecond));
  const engineRate = median(engine.map((r) => r.deliveriesPerSecond));
  const ingestRate = median(ingest.map((r) => r.deliveriesPerSecond));
  const ratio = engineRate / baselineRate;
  console.log(
    `\nmedian: raw undici Pool ${formatCount(baselineRate)} req/s, durable end to end ${formatCount(engineRate)} deliveries/s` +
      ` → ${formatRatio(ratio)} (target ≥ ${formatRatio(THROUGHPUT_TARGET)}); send() alone ${formatCount(ingestRate)} messages/s` +
      ` (${formatRatio(ingestRate / baselineRate)} of the raw loop)`,
  );
  return {
    checks: [{ name: "SQLite send→delivered/s / raw undici Pool", ratio, target: THROUGHPUT_TARGET }] as RatioCheck[],
    engineRate,
    ingestRate,
  };
}

/** HttpTransport that notes when each attempt reaches it, by `webhook-id`. */
class TimedTransport extends HttpTransport {
  readonly startedAt = new Map<string, number>();

  override send(
    url: string,
    payload: string,
    headers: Readonly<Record<string, string>>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportResponse> {
    const id = headers["webhook-id"];
    if (id !== undefined && !this.startedAt.has(id)) this.startedAt.set(id, performance.now());
    return super.send(url, payload, headers, timeoutMs, signal);
  }
}

interface LatencyRun {
  sent: number;
  achievedRate: number;
  /** send() call → the transport called for the first attempt, ms, sorted. */
  toAttempt: number[];
  /** send() call → `delivery:succeeded` (the attempt and the delivery's new state committed), ms, sorted. */
  toRecorded: number[];
  /** send() call → its promise resolved (the message durable), ms, sorted. */
  sendDuration: number[];
}

/**
 * Sends at a fixed rate for `durationMs`, open loop (a send never waits for
 * the previous one), catching up within each ~1 ms timer tick.
 */
async function sendAtRate(
  hl: Hookline,
  prefix: string,
  ratePerSecond: number,
  durationMs: number,
  sentAt: Map<string, number>,
  resolvedAt: Map<string, number>,
  messageToEvent: Map<string, string>,
): Promise<number> {
  const total = Math.max(1, Math.round((durationMs * ratePerSecond) / 1000));
  const intervalMs = 1000 / ratePerSecond;
  const sends: Promise<unknown>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    while (sent < total && started + sent * intervalMs <= now) {
      const eventId = `${prefix}_${sent}`;
      sentAt.set(eventId, performance.now());
      sends.push(
        hl.send({ eventType: EVENT_TYPE, payload: payloadFor(sent), eventId }).then((result) => {
          resolvedAt.set(eventId, performance.now());
          messageToEvent.set(result.messageId, eventId);
        }),
      );
      sent++;
    }
    await sleep(1);
  }
  await Promise.all(sends);
  return (sent * 1000) / (performance.now() - started);
}

async function runLatency(receiver: Receiver, path: string, durationMs: number): Promise<LatencyRun> {
  const transport = new TimedTransport({ allowPrivateNetworks: true });
  const hl = await openEngine(path, receiver, transport);
  const recordedAt = new Map<string, number>();
  try {
    hl.on("delivery:succeeded", (event) => recordedAt.set(event.messageId, performance.now()));
    const counter = new DeliveryCounter(hl);
    await hl.start();
    const sentAt = new Map<string, number>();
    const resolvedAt = new Map<string, number>();
    const messageToEvent = new Map<string, string>();
    const warmupMessages = Math.round((LATENCY_WARMUP_MS * LATENCY_RATE_PER_SECOND) / 1000);
    await sendAtRate(hl, "warm", LATENCY_RATE_PER_SECOND, LATENCY_WARMUP_MS, new Map(), new Map(), new Map());
    await counter.until(warmupMessages, drainTimeoutMs(warmupMessages));
    const achievedRate = await sendAtRate(
      hl,
      "lat",
      LATENCY_RATE_PER_SECOND,
      durationMs,
      sentAt,
      resolvedAt,
      messageToEvent,
    );
    await counter.until(warmupMessages + sentAt.size, drainTimeoutMs(sentAt.size));

    const toAttempt: number[] = [];
    const toRecorded: number[] = [];
    const sendDuration: number[] = [];
    for (const [eventId, at] of sentAt) {
      toAttempt.push((transport.startedAt.get(eventId) ?? Number.NaN) - at);
      sendDuration.push((resolvedAt.get(eventId) ?? Number.NaN) - at);
    }
    for (const [messageId, at] of recordedAt) {
      const eventId = messageToEvent.get(messageId);
      const sent = eventId === undefined ? undefined : sentAt.get(eventId);
      if (sent !== undefined) toRecorded.push(at - sent);
    }
    const sorted = (values: number[]) => values.filter(Number.isFinite).sort((a, b) => a - b);
    if (sorted(toAttempt).length !== sentAt.size || toRecorded.length !== sentAt.size) {
      throw new Error("latency run: some messages have no attempt or completion time");
    }
    return {
      sent: sentAt.size,
      achievedRate,
      toAttempt: sorted(toAttempt),
      toRecorded: sorted(toRecorded),
      sendDuration: sorted(sendDuration),
    };
  } finally {
    await hl.close();
    await transport.close();
  }
}

async function latency(receiver: Receiver, dir: string, scale: number) {
  const durationMs = scaled(LATENCY_DURATION_MS, scale, 1_000);
  console.log(
    `\n### SQLite latency — a fixed ${formatCount(LATENCY_RATE_PER_SECOND)} messages/s for ${durationMs} ms` +
      ` (after ${LATENCY_WARMUP_MS} ms warm-up), workers in the sending process\n`,
  );
  const run = await runLatency(receiver, join(dir, "latency.db"), durationMs);
  const row = (name: string, values: number[]) => [
    name,
    ...[0.5, 0.9, 0.99].map((q) => quantile(values, q).toFixed(2)),
    (values[values.length - 1] ?? Number.NaN).toFixed(2),
  ];
  console.log(
    formatTable(
      ["ms from the send() call to", "p50", "p90", "p99", "max"],
      [
        row("first attempt starts", run.toAttempt),
        row("attempt recorded (succeeded)", run.toRecorded),
        row("send() resolved (durable)", run.sendDuration),
      ],
    ),
  );
  console.log(`\n${formatCount(run.sent)} messages at ${formatCount(run.achievedRate)} messages/s achieved`);
  const checks: RatioCheck[] = [
    {
      name: "SQLite send→first attempt p50 @1k/s",
      ratio: quantile(run.toAttempt, 0.5),
      target: P50_TARGET_MS,
      direction: "atMost",
      unit: "ms",
    },
    {
      name: "SQLite send→first attempt p99 @1k/s",
      ratio: quantile(run.toAttempt, 0.99),
      target: P99_TARGET_MS,
      direction: "atMost",
      unit: "ms",
    },
  ];
  return { checks };
}

/**
 * One endpoint with `ordering: "fifo"`: a backlog sent first, then drained
 * one delivery at a time, each claimed only once the one before it is
 * recorded. Printed, with no target: it is what strict order costs.
 */
async function orderedThroughput(receiver: Receiver, path: string, messages: number): Promise<void> {
  const hl = await createHookline({ store: sqliteStore({ path }), allowPrivateNetworks: true });
  try {
    await hl.endpoints.create({ url: `http://127.0.0.1:${receiver.port}/hook`, secret: SECRET, ordering: "fifo" });
    await sendMany(hl, 0, messages, 1);
    const counter = new DeliveryCounter(hl);
    const started = performance.now();
    await hl.start();
    await counter.until(messages, drainTimeoutMs(messages));
    const perSecond = (messages * 1000) / (performance.now() - started);
    console.log(
      `\n### One FIFO endpoint (ordering "fifo"), ${formatCount(messages)} queued messages drained in order:` +
        ` ${formatCount(perSecond)} deliveries/s`,
    );
  } finally {
    await hl.close();
  }
}

/** Runs the SQLite throughput and latency benchmarks; returns their checks. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const scale = options.scale ?? scaleFromEnv(process.env, options.durationMs);
  const messages = scaled(MESSAGES, scale, 500);
  console.log(`\n## Durable engine on SQLite (WAL, synchronous=NORMAL) — BENCH_SCALE=${scale}`);
  const receiver = await Receiver.start();
  try {
    return await withTempDir("hookline-bench", async (dir) => {
      const checks: RatioCheck[] = [];
      checks.push(...(await throughput(receiver, dir, options.durationMs, messages)).checks);
      checks.push(...(await latency(receiver, dir, scale)).checks);
      await orderedThroughput(receiver, join(dir, "fifo.db"), scaled(FIFO_MESSAGES, scale, 100));
      return { checks };
    });
  } finally {
    await receiver.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

/**
 * hookline against BullMQ, the queue people pick for this job in Node, doing
 * the same work end to end: 32 concurrent producers each add one message at a
 * time; a worker in the same process signs each one (the seed's hex HMAC and
 * Standard Webhooks v1, the same headers) and POSTs it to bench/receiver.mjs
 * in another process, 32 in flight; the run ends when every message is
 * delivered and recorded as done. Median of three runs each.
 *
 * - BullMQ 6 on the Redis that runs here (which keeps nothing on disk on this
 *   machine: BullMQ's durability is Redis's). One `Queue.add` per message,
 *   a `Worker` with concurrency 32 whose processor signs and sends through
 *   hookline's own delivery path (`attemptDelivery` over an `HttpTransport`),
 *   so the signing and HTTP work is the same code on both sides.
 * - hookline on SQLite (a file, WAL) and on PostgreSQL: `send()` from the
 *   producers, `hl.start()` workers in the same process, 32 in flight.
 *
 * `npx tsx bench/run.ts peers`.
 */
import { pathToFileURL } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { systemClock } from "../src/core/clock.js";
import { attemptDelivery } from "../src/delivery/deliver.js";
import { createHookline, type Hookline, HttpTransport, WebhookEvent } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { signingKeyFor } from "../src/signing/secrets.js";
import { sqliteStore } from "../src/sqlite.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  median,
  type RatioCheck,
  scaled,
  scaleFromEnv,
} from "./common.js";
import { IN_FLIGHT, Receiver } from "./dispatch.js";
import {
  dropSchema,
  EVENT_TYPE,
  PG_URL,
  payloadFor,
  postgresUnreachable,
  SECRET,
  sendMany,
  serverCpuMicros,
  serverCpuPerMessage,
  uniqueSchemaName,
  withTempDir,
  withTimeout,
} from "./engine-support.js";

/** Messages per run at scale 1. */
const MESSAGES = 10_000;
const PRODUCERS = 32;
const RUNS = 3;
const TARGET = 1;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

interface PeerRun {
  deliveredPerSecond: number;
  cpuMicrosPerMessage: number;
  /** The queue's server (Redis, PostgreSQL) per message, µs; NaN for SQLite, which runs in the process. */
  serverCpuMicrosPerMessage: number;
}

const runTimeoutMs = (messages: number) => 60_000 + 10 * messages;

/** One BullMQ run: a fresh queue, producers and worker in this process, the queue removed afterwards. */
async function runBullmq(receiver: Receiver, messages: number): Promise<PeerRun> {
  const name = `hookline-bench-${process.pid}-${Date.now()}`;
  // BullMQ wants its own connections, with maxRetriesPerRequest null for the blocking worker.
  const queueConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection: queueConnection });
  const transport = new HttpTransport({ allowPrivateNetworks: true });
  const url = `http://127.0.0.1:${receiver.port}/hook`;
  const signingKeys = [signingKeyFor(SECRET)];
  let completed = 0;
  let failure: Error | null = null;
  let done: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    done = resolve;
  });
  const worker = new Worker<{ body: string; eventId: string }>(
    name,
    async (job) => {
      const outcome = await attemptDelivery(
        transport,
        {
          url,
          body: job.data.body,
          msgId: job.data.eventId,
          eventType: EVENT_TYPE,
          secret: SECRET,
          signatureAlgorithm: "hmac_sha256",
          signingKeys,
          timeoutMs: 30_000,
        },
        systemClock,
      );
      if (!outcome.succeeded) throw new Error(`delivery failed: ${outcome.statusCode ?? outcome.error}`);
    },
    { connection: workerConnection, concurrency: IN_FLIGHT },
  );
  worker.on("completed", () => {
    if (++completed === messages) done();
  });
  worker.on("failed", (_job, error) => {
    failure ??= error;
    done();
  });
  try {
    await worker.waitUntilReady();
    const serverBefore = await serverCpuMicros("redis-server");
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    const producer = async () => {
      while (next < messages) {
        const sequence = next++;
        // The producer builds the same envelope bytes hookline's send() stores.
        const event = new WebhookEvent({ eventType: EVENT_TYPE, payload: payloadFor(sequence) });
        await queue.add("webhook", { body: event.toJson(), eventId: event.eventId });
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, producer));
    await withTimeout(allDone, runTimeoutMs(messages), `BullMQ completed only ${completed} of ${messages} jobs`);
    if (failure) throw failure;
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    return {
      deliveredPerSecond: (messages * 1000) / elapsedMs,
      cpuMicrosPerMessage: (cpu.user + cpu.system) / messages,
      serverCpuMicrosPerMessage: serverCpuPerMessage(serverBefore, await serverCpuMicros("redis-server"), messages),
    };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await transport.close();
    queueConnection.disconnect();
    workerConnection.disconnect();
  }
}

/** One hookline run on an open engine: producers call send(), the engine's workers in this process deliver. */
async function runHookline(
  hl: Hookline,
  receiver: Receiver,
  messages: number,
  server: "postgres" | null,
): Promise<PeerRun> {
  await hl.endpoints.create({ url: `http://127.0.0.1:${receiver.port}/hook`, secret: SECRET });
  let delivered = 0;
  let failure: Error | null = null;
  let done: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    done = resolve;
  });
  hl.on("delivery:succeeded", () => {
    if (++delivered === messages) done();
  });
  hl.on("delivery:failed", (event) => {
    failure ??= new Error(`an attempt failed: ${event.attempt.statusCode ?? event.attempt.error}`);
    done();
  });
  await hl.start();
  const serverCpu = async () => (server === null ? null : serverCpuMicros(server));
  const serverBefore = await serverCpu();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await sendMany(hl, 0, messages, PRODUCERS);
  await withTimeout(allDone, runTimeoutMs(messages), `hookline delivered only ${delivered} of ${messages}`);
  if (failure) throw failure;
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    deliveredPerSecond: (messages * 1000) / elapsedMs,
    cpuMicrosPerMessage: (cpu.user + cpu.system) / messages,
    serverCpuMicrosPerMessage: serverCpuPerMessage(serverBefore, await serverCpu(), messages),
  };
}

const engineSettings = { allowPrivateNetworks: true, concurrency: IN_FLIGHT, perEndpointConcurrency: IN_FLIGHT };

async function runSqlite(receiver: Receiver, messages: number): Promise<PeerRun> {
  return withTempDir("hookline-peers", async (dir) => {
    const hl = await createHookline({ store: sqliteStore({ path: `${dir}/peers.db` }), ...engineSettings });
    try {
      return await runHookline(hl, receiver, messages, null);
    } finally {
      await hl.close();
    }
  });
}

async function runPostgres(receiver: Receiver, messages: number): Promise<PeerRun> {
  const schema = uniqueSchemaName("hookline_peers");
  const hl = await createHookline({ store: postgresStore({ connectionString: PG_URL, schema }), ...engineSettings });
  try {
    return await runHookline(hl, receiver, messages, "postgres");
  } finally {
    await hl.close();
    await dropSchema(schema);
  }
}

async function redisUnreachable(): Promise<string | null> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    client.disconnect();
  }
}

/** Runs BullMQ, hookline on SQLite and hookline on PostgreSQL, alternately, three times each. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const scale = options.scale ?? scaleFromEnv(process.env, options.durationMs);
  const messages = scaled(MESSAGES, scale, 500);
  console.log(
    `\n## hookline against BullMQ 6 — ${formatCount(messages)} messages per run, ${PRODUCERS} producers,` +
      ` ${IN_FLIGHT} in flight, one endpoint, send → signed, POSTed and recorded; median of ${RUNS}`,
  );
  const redisDown = await redisUnreachable();
  const pgDown = await postgresUnreachable();
  if (redisDown !== null) console.log(`\n!!! Redis at ${REDIS_URL} is unreachable (${redisDown}): BullMQ SKIPPED`);
  if (pgDown !== null) console.log(`\n!!! PostgreSQL at ${PG_URL} is unreachable (${pgDown}): hookline on it SKIPPED`);
  const receiver = await Receiver.start();
  const runs: Record<"bullmq" | "sqlite" | "postgres", PeerRun[]> = { bullmq: [], sqlite: [], postgres: [] };
  try {
    for (let run = 0; run < RUNS; run++) {
      if (redisDown === null) runs.bullmq.push(await runBullmq(receiver, messages));
      runs.sqlite.push(await runSqlite(receiver, messages));
      if (pgDown === null) runs.postgres.push(await runPostgres(receiver, messages));
    }
  } finally {
    await receiver.stop();
  }
  const rate = (list: PeerRun[]) => median(list.map((r) => r.deliveredPerSecond));
  const cpu = (list: PeerRun[]) => median(list.map((r) => r.cpuMicrosPerMessage));
  const serverCpu = (list: PeerRun[]) => median(list.map((r) => r.serverCpuMicrosPerMessage));
  const rows = (
    [
      ["BullMQ 6.7 on Redis", runs.bullmq],
      ["hookline on SQLite", runs.sqlite],
      ["hookline on PostgreSQL", runs.postgres],
    ] as const
  )
    .filter(([, list]) => list.length > 0)
    .map(([label, list]) => [
      label,
      formatCount(rate(list)),
      list.map((r) => formatCount(r.deliveredPerSecond)).join(" / "),
      cpu(list).toFixed(0),
      Number.isNaN(serverCpu(list)) ? "—" : serverCpu(list).toFixed(0),
    ]);
  console.log(
    `\n${formatTable(
      ["run", "delivered/s (median)", "each run", "CPU µs per message", "server CPU µs per message"],
      rows,
    )}`,
  );
  const bullmq = rate(runs.bullmq);
  const sqliteRatio = rate(runs.sqlite) / bullmq;
  const postgresRatio = rate(runs.postgres) / bullmq;
  console.log(
    `\nhookline on SQLite / BullMQ: ${formatRatio(sqliteRatio)}; hookline on PostgreSQL / BullMQ:` +
      ` ${formatRatio(postgresRatio)} (target ≥ ${formatRatio(TARGET)} each)`,
  );
  const checks: RatioCheck[] = [
    { name: "SQLite send→delivered/s / BullMQ", ratio: sqliteRatio, target: TARGET },
    { name: "PostgreSQL send→delivered/s / BullMQ", ratio: postgresRatio, target: TARGET },
  ];
  return { checks };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

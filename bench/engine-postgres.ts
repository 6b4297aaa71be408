/**
 * The durable engine on PostgreSQL against pg-boss 10 doing the same job,
 * both on the same server, both delivering to bench/receiver.mjs, both timed
 * from the first send to the last delivery: sending races delivering, as in
 * production.
 *
 * hookline: this process creates the endpoint and starts one or two worker
 * processes (bench/engine-worker.ts, the default 64 deliveries in flight
 * each, the per-endpoint cap raised to match), then sends N messages through
 * `send()` from 32 concurrent loops (its own workers off) and times until the
 * N-th `delivery:succeeded` the workers report, which they emit only once the
 * attempt and the delivery's new state are committed.
 *
 * pg-boss: 10 `work()` loops in this process (batchSize 100,
 * pollingIntervalSeconds 0.5, the tuning of STACK.md), each handler POSTing
 * its jobs' bodies concurrently through an undici Pool of 32 connections and
 * returning (which completes them); then N jobs, each carrying the same
 * ~1 KiB body, sent one `send()` per message from 32 concurrent loops. The
 * run ends when N jobs are `completed` in the database, polled every 50 ms.
 * The handler does not sign anything, which favours pg-boss slightly.
 *
 * Every run uses schemas of its own, dropped at the end.
 */
import { pathToFileURL } from "node:url";
import PgBoss from "pg-boss";
import { Pool } from "undici";
import { createHookline, DEFAULTS, type Hookline, WebhookEvent } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
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
  sleep,
  uniqueSchemaName,
  untilSucceeded,
  WorkerProcess,
  type WorkerSummary,
  withPgClient,
} from "./engine-support.js";

/** Messages (and pg-boss jobs) per drain at scale 1. */
const MESSAGES = 20_000;
const SEND_LANES = 32;
/** Deliveries in flight per worker process: the engine's default (64). */
const WORKER_CONCURRENCY = DEFAULTS.concurrency;
const PG_BOSS_TARGET = 3;
const PG_BOSS_QUEUE = "webhooks";
const PG_BOSS_WORKERS = 10;
const PG_BOSS_BATCH_SIZE = 100;
const PG_BOSS_POLLING_SECONDS = 0.5;
const COMPLETED_POLL_MS = 50;

const drainTimeoutMs = (messages: number) => 60_000 + 5 * messages;

interface DrainRun {
  label: string;
  messages: number;
  ingestPerSecond: number;
  drainPerSecond: number;
  elapsedMs: number;
  /** CPU of the delivering process(es) per delivery, µs; NaN when not measured. */
  workerCpuMicrosPerDelivery: number;
  /** CPU of the sending process per message, µs, when it is not the delivering one; else 0. */
  senderCpuMicrosPerMessage: number;
  /** CPU of the PostgreSQL server per delivery, µs (sending included); NaN when not measured. */
  databaseCpuMicrosPerDelivery: number;
  receiverCoreShare: number;
}

async function stopAll(workers: readonly WorkerProcess[]): Promise<(WorkerSummary | null)[]> {
  return Promise.all(workers.map((worker) => worker.stop()));
}

interface Backlog {
  hl: Hookline;
  schema: string;
  appId: string;
  endpointId: string;
}

/** Starts `workerCount` worker processes, then sends `messages` through send() and times until all are delivered. */
async function runHooklineDrain(
  backlog: Backlog,
  receiver: Receiver,
  first: number,
  messages: number,
  workerCount: number,
): Promise<DrainRun> {
  const { hl, schema } = backlog;
  const workers = Array.from(
    { length: workerCount },
    () =>
      new WorkerProcess({
        store: "postgres",
        db: PG_URL,
        schema,
        concurrency: WORKER_CONCURRENCY,
        // The cap counts every process's leases: room for all of them on the one endpoint.
        perEndpointConcurrency: WORKER_CONCURRENCY * workerCount,
      }),
  );
  try {
    await Promise.all(workers.map((worker) => worker.ready()));
    const receiverCpuBefore = await receiver.cpuMicros();
    const databaseCpuBefore = await serverCpuMicros("postgres");
    const senderCpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const worker of workers) worker.go();
    const delivered = untilSucceeded(workers, messages, drainTimeoutMs(messages));
    await sendMany(hl, first, messages, SEND_LANES);
    const ingestPerSecond = (messages * 1000) / (performance.now() - started);
    await delivered;
    const elapsedMs = performance.now() - started;
    const senderCpu = process.cpuUsage(senderCpuBefore);
    const receiverCpu = (await receiver.cpuMicros()) - receiverCpuBefore;
    const databaseCpu = await serverCpuMicros("postgres");
    const summaries = await stopAll(workers);
    const failed = summaries.reduce((sum, s) => sum + (s?.failed ?? 0), 0);
    if (failed > 0) throw new Error(`${failed} attempts failed during the PostgreSQL drain`);
    const cpuMicros = summaries.reduce((sum, s) => sum + (s?.cpuMicros ?? Number.NaN), 0);
    return {
      label: `hookline, ${workerCount} worker process${workerCount === 1 ? "" : "es"} × ${WORKER_CONCURRENCY} in flight`,
      messages,
      ingestPerSecond,
      drainPerSecond: (messages * 1000) / elapsedMs,
      elapsedMs,
      // Includes the workers' shutdown (a few ms of it), so a slight overestimate.
      workerCpuMicrosPerDelivery: cpuMicros / messages,
      senderCpuMicrosPerMessage: (senderCpu.user + senderCpu.system) / messages,
      databaseCpuMicrosPerDelivery: serverCpuPerMessage(databaseCpuBefore, databaseCpu, messages),
      receiverCoreShare: receiverCpu / (elapsedMs * 1000),
    };
  } finally {
    await stopAll(workers);
  }
}

async function hooklineRuns(receiver: Receiver, messages: number): Promise<DrainRun[]> {
  const schema = uniqueSchemaName("hookline_bench");
  const store = postgresStore({ connectionString: PG_URL, schema });
  let hl: Hookline | null = null;
  try {
    hl = await createHookline({ store, allowPrivateNetworks: true });
    const endpoint = await hl.endpoints.create({ url: `http://127.0.0.1:${receiver.port}/hook`, secret: SECRET });
    const backlog: Backlog = { hl, schema, appId: endpoint.appId, endpointId: endpoint.id };
    const runs: DrainRun[] = [];
    let sent = 0;
    for (const workerCount of [1, 2]) {
      runs.push(await runHooklineDrain(backlog, receiver, sent, messages, workerCount));
      sent += messages;
    }
    const counts = await hl.store.countDeliveries();
    if (counts.delivered !== sent) throw new Error(`expected ${sent} delivered rows, found ${JSON.stringify(counts)}`);
    return runs;
  } finally {
    await (hl ?? store).close();
    await dropSchema(schema);
  }
}

interface BodyJob {
  body: string;
}

async function pgBossRun(receiver: Receiver, messages: number): Promise<DrainRun> {
  const schema = uniqueSchemaName("pgboss_bench");
  const boss = new PgBoss({ connectionString: PG_URL, schema, supervise: false, schedule: false, max: 10 });
  const errors: unknown[] = [];
  boss.on("error", (error) => errors.push(error));
  const pool = new Pool(`http://127.0.0.1:${receiver.port}`, { connections: IN_FLIGHT, pipelining: 1 });
  let started = false;
  try {
    await boss.start();
    started = true;
    await boss.createQueue(PG_BOSS_QUEUE);

    // The same envelope bytes hookline sends, one per job, built before the clock starts.
    const bodies = Array.from({ length: messages }, (_, i) =>
      new WebhookEvent({ eventType: EVENT_TYPE, payload: payloadFor(i) }).toJson(),
    );
    const post = async (body: string) => {
      const response = await pool.request({
        path: "/hook",
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode} ${text.slice(0, 80)}`);
    };
    const receiverCpuBefore = await receiver.cpuMicros();
    const databaseCpuBefore = await serverCpuMicros("postgres");
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    for (let w = 0; w < PG_BOSS_WORKERS; w++) {
      await boss.work<BodyJob>(
        PG_BOSS_QUEUE,
        { batchSize: PG_BOSS_BATCH_SIZE, pollingIntervalSeconds: PG_BOSS_POLLING_SECONDS },
        async (jobs) => {
          await Promise.all(jobs.map((job) => post(job.data.body)));
        },
      );
    }
    let next = 0;
    const lane = async () => {
      while (next < messages) await boss.send(PG_BOSS_QUEUE, { body: bodies[next++] as string });
    };
    await Promise.all(Array.from({ length: SEND_LANES }, lane));
    const ingestPerSecond = (messages * 1000) / (performance.now() - startedAt);
    await withPgClient(async (client) => {
      const deadline = startedAt + drainTimeoutMs(messages);
      for (;;) {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}".job WHERE name = $1 AND state = 'completed'`,
          [PG_BOSS_QUEUE],
        );
        const completed = rows[0]?.n ?? 0;
        if (completed >= messages) return;
        if (errors.length > 0) throw new Error(`pg-boss reported an error: ${String(errors[0])}`);
        if (performance.now() > deadline) throw new Error(`pg-boss completed only ${completed} of ${messages} jobs`);
        await sleep(COMPLETED_POLL_MS);
      }
    });
    const elapsedMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    const receiverCpu = (await receiver.cpuMicros()) - receiverCpuBefore;
    const databaseCpu = await serverCpuMicros("postgres");
    return {
      label: `pg-boss, ${PG_BOSS_WORKERS} work() × batch ${PG_BOSS_BATCH_SIZE}`,
      messages,
      ingestPerSecond,
      drainPerSecond: (messages * 1000) / elapsedMs,
      elapsedMs,
      // pg-boss sends from the delivering process: its sends are in this figure.
      workerCpuMicrosPerDelivery: (cpu.user + cpu.system) / messages,
      senderCpuMicrosPerMessage: 0,
      databaseCpuMicrosPerDelivery: serverCpuPerMessage(databaseCpuBefore, databaseCpu, messages),
      receiverCoreShare: receiverCpu / (elapsedMs * 1000),
    };
  } finally {
    if (started) await boss.stop({ graceful: true, wait: true, timeout: 5_000 }).catch(() => {});
    await pool.close();
    await dropSchema(schema);
  }
}

/** Runs the PostgreSQL drains (hookline with 1 and 2 worker processes, then pg-boss) and returns the checks. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const scale = options.scale ?? scaleFromEnv(process.env, options.durationMs);
  const messages = scaled(MESSAGES, scale, 500);
  console.log(
    `\n## Durable engine on PostgreSQL against pg-boss 10 — ${formatCount(messages)} messages per run,` +
      ` sent from ${SEND_LANES} concurrent loops while workers deliver them to a receiver in another process`,
  );
  const unreachable = await postgresUnreachable();
  if (unreachable !== null) {
    console.log(`\n!!! PostgreSQL at ${PG_URL} is unreachable (${unreachable}): PostgreSQL benchmarks SKIPPED`);
    return {
      checks: [
        {
          name: "PostgreSQL send→delivered/s, hookline 1 process / pg-boss",
          ratio: Number.NaN,
          target: PG_BOSS_TARGET,
        },
      ],
    };
  }
  const receiver = await Receiver.start();
  let runs: DrainRun[];
  try {
    runs = await hooklineRuns(receiver, messages);
    runs.push(await pgBossRun(receiver, messages));
  } finally {
    await receiver.stop();
  }
  console.log(
    `\n${formatTable(
      [
        "run",
        "sent/s",
        "delivered/s",
        "total s",
        "sender CPU µs each",
        "deliverer CPU µs each",
        "database CPU µs each",
        "all three",
        "receiver core",
      ],
      runs.map((run) => [
        run.label,
        formatCount(run.ingestPerSecond),
        formatCount(run.drainPerSecond),
        (run.elapsedMs / 1000).toFixed(2),
        run.senderCpuMicrosPerMessage === 0 ? "(in deliverer)" : run.senderCpuMicrosPerMessage.toFixed(1),
        run.workerCpuMicrosPerDelivery.toFixed(1),
        Number.isNaN(run.databaseCpuMicrosPerDelivery) ? "n/a" : run.databaseCpuMicrosPerDelivery.toFixed(1),
        (run.senderCpuMicrosPerMessage + run.workerCpuMicrosPerDelivery + run.databaseCpuMicrosPerDelivery).toFixed(1),
        `${Math.round(run.receiverCoreShare * 100)}%`,
      ]),
    )}`,
  );
  const [one, two, boss] = runs as [DrainRun, DrainRun, DrainRun];
  const ratio = one.drainPerSecond / boss.drainPerSecond;
  console.log(
    `\nsend → delivered, hookline 1 process / pg-boss: ${formatRatio(ratio)} (target ≥ ${formatRatio(PG_BOSS_TARGET)});` +
      ` 2 processes / 1 process: ${formatRatio(two.drainPerSecond / one.drainPerSecond)};` +
      ` 2 processes / pg-boss: ${formatRatio(two.drainPerSecond / boss.drainPerSecond)}`,
  );
  const checks: RatioCheck[] = [
    { name: "PostgreSQL send→delivered/s, hookline 1 process / pg-boss", ratio, target: PG_BOSS_TARGET },
  ];
  return { checks };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

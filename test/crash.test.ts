import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { createHookline, type Store } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { sqliteStore } from "../src/sqlite.js";
import { dropSchema, PG_URL, postgresAvailable, uniqueSchemaName } from "./support/postgres.js";
import { spawnDeliveryWorker, type WorkerProcess, waitFor } from "./support/processes.js";

const MESSAGES = 2_000;
const KILLS = 3;
const pgAvailable = await postgresAvailable();

interface Receiver {
  url: string;
  /** Requests per webhook-id. */
  received: Map<string, number>;
  /** Most requests for one webhook-id in flight at the same moment. */
  maxOverlap: number;
  close(): Promise<void>;
}

/** A receiver that takes 10 ms per request, so work is always in flight when a worker is killed. */
async function startReceiver(): Promise<Receiver> {
  const received = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const state = { maxOverlap: 0 };
  const server = http.createServer((req, res) => {
    const id = String(req.headers["webhook-id"]);
    const now = (inFlight.get(id) ?? 0) + 1;
    inFlight.set(id, now);
    state.maxOverlap = Math.max(state.maxOverlap, now);
    req.resume();
    req.on("end", () =>
      setTimeout(() => {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
        received.set(id, (received.get(id) ?? 0) + 1);
        res.end("ok");
      }, 10),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    get maxOverlap() {
      return state.maxOverlap;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Creates the endpoint and the backlog through the library, in this process; returns the event ids. */
async function seed(store: Store, url: string): Promise<string[]> {
  const hl = await createHookline({ store, allowPrivateNetworks: true });
  try {
    await hl.endpoints.create({ url, timeoutMs: 1_000 });
    const ids: string[] = [];
    for (let i = 0; i < MESSAGES; i++) ids.push((await hl.send({ eventType: "crash.test", payload: { i } })).eventId);
    return ids;
  } finally {
    await hl.close();
  }
}

const running: WorkerProcess[] = [];
afterEach(async () => {
  for (const worker of running.splice(0)) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL");
    await worker.exited;
  }
});

async function killRepeatedlyThenFinish(env: Record<string, string>, receiver: Receiver, ids: string[]) {
  const uniqueDelivered = () => ids.filter((id) => receiver.received.has(id)).length;
  for (let kill = 0; kill < KILLS; kill++) {
    const worker = spawnDeliveryWorker(env);
    running.push(worker);
    await worker.ready;
    const before = uniqueDelivered();
    // Kill mid-flight: once this worker has delivered some, while it is still busy.
    await waitFor(() => uniqueDelivered() >= Math.min(ids.length, before + 150), 30_000, "progress before a kill");
    worker.child.kill("SIGKILL");
    expect(await worker.exited).toBeNull();
  }
  expect(uniqueDelivered()).toBeLessThan(ids.length);
  const last = spawnDeliveryWorker(env);
  running.push(last);
  await last.ready;
  await waitFor(() => uniqueDelivered() === ids.length, 60_000, "every message to arrive");
  last.child.kill("SIGTERM");
  expect(await last.exited).toBe(0);
  const missing = ids.filter((id) => !receiver.received.has(id));
  const duplicates = [...receiver.received.values()].reduce((sum, n) => sum + n - 1, 0);
  console.log(
    `crash test: ${ids.length} messages, ${KILLS} SIGKILLs, ${missing.length} missing, ${duplicates} duplicates`,
  );
  expect(missing).toEqual([]);
}

describe("a worker killed with SIGKILL mid-flight loses nothing", () => {
  test("on SQLite", async () => {
    const receiver = await startReceiver();
    const dir = await mkdtemp(join(tmpdir(), "hookline-crash-"));
    try {
      const path = join(dir, "hookline.db");
      const ids = await seed(sqliteStore({ path }), receiver.url);
      await killRepeatedlyThenFinish({ HOOKLINE_STORE: "sqlite", HOOKLINE_DB: path }, receiver, ids);
    } finally {
      await receiver.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test.skipIf(!pgAvailable)(
    "on PostgreSQL",
    async () => {
      const receiver = await startReceiver();
      const schema = uniqueSchemaName();
      try {
        const ids = await seed(postgresStore({ connectionString: PG_URL, schema }), receiver.url);
        const env = { HOOKLINE_STORE: "postgres", HOOKLINE_DB: PG_URL, HOOKLINE_SCHEMA: schema };
        await killRepeatedlyThenFinish(env, receiver, ids);
      } finally {
        await receiver.close();
        await dropSchema(schema);
      }
    },
    120_000,
  );
});

describe.skipIf(!pgAvailable)("two worker processes on one PostgreSQL", () => {
  test("deliver a shared backlog, every message, never one delivery twice at once", async () => {
    const receiver = await startReceiver();
    const schema = uniqueSchemaName();
    try {
      const ids = await seed(postgresStore({ connectionString: PG_URL, schema }), receiver.url);
      const env = {
        HOOKLINE_STORE: "postgres",
        HOOKLINE_DB: PG_URL,
        HOOKLINE_SCHEMA: schema,
        HOOKLINE_LEASE_MS: "30000",
      };
      const workers = [spawnDeliveryWorker(env), spawnDeliveryWorker(env)];
      running.push(...workers);
      await Promise.all(workers.map((w) => w.ready));
      await waitFor(() => ids.every((id) => receiver.received.has(id)), 60_000, "every message to arrive");
      for (const worker of workers) worker.child.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.exited));
      const counts = workers.map((w) => Number(/succeeded (\d+)/.exec(w.output())?.[1] ?? -1));
      console.log(`two workers: ${counts.join(" + ")} deliveries`);
      expect(receiver.maxOverlap).toBe(1);
      expect(counts.every((n) => n > 0)).toBe(true);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(ids.length);
      expect([...receiver.received.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await receiver.close();
      await dropSchema(schema);
    }
  }, 120_000);
});

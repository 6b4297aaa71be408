import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, test } from "vitest";
import { createHookline, type Hookline, type Store } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { sqliteStore } from "../src/sqlite.js";
import { startHarness } from "./server-harness.js";
import { dropSchema, PG_URL, postgresAvailable, uniqueSchemaName } from "./support/postgres.js";
import { spawnDeliveryWorker, type WorkerProcess, waitFor } from "./support/processes.js";

const pgAvailable = await postgresAvailable();

/**
 * A receiver that records, per ordering group, the sequence numbers of the
 * payloads in the order they first arrive, and answers with `status(seq)`.
 */
async function startRecorder(status: (seq: number, group: string, attempt: number) => number = () => 200) {
  const firstArrivals = new Map<string, number[]>();
  const attempts = new Map<string, number>();
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests++;
      const { payload } = JSON.parse(Buffer.concat(chunks).toString()) as { payload: { seq: number; group?: string } };
      const group = payload.group ?? "";
      const key = `${group}/${payload.seq}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const arrivals = firstArrivals.get(group) ?? [];
      if (attempt === 1) arrivals.push(payload.seq);
      firstArrivals.set(group, arrivals);
      res.statusCode = status(payload.seq, group, attempt);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    firstArrivals,
    attempts,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Arrivals of a sequence number after a larger one had already arrived: each is an order violation. */
function inversions(arrivals: readonly number[]): number {
  let highest = Number.NEGATIVE_INFINITY;
  let count = 0;
  for (const seq of arrivals) {
    if (seq < highest) count++;
    highest = Math.max(highest, seq);
  }
  return count;
}

describe("ordered delivery (endpoint ordering: fifo)", () => {
  let dir: string | null = null;
  let hl: Hookline | null = null;
  afterEach(async () => {
    await hl?.close({ timeoutMs: 500 });
    hl = null;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = null;
  });

  async function engine(retrySchedule: number[]) {
    dir = await mkdtemp(join(tmpdir(), "hookline-order-"));
    hl = await createHookline({
      store: sqliteStore({ path: join(dir, "order.db") }),
      allowPrivateNetworks: true,
      retrySchedule,
      retryJitterRatio: 0,
    });
    return hl;
  }

  it("delivers in send order, one at a time; a failing message holds the rest until it succeeds", async () => {
    // Message 5 fails twice, then succeeds.
    const receiver = await startRecorder((seq, _group, attempt) => (seq === 5 && attempt <= 2 ? 500 : 200));
    try {
      const engineUnderTest = await engine([0, 50, 50, 50]);
      await engineUnderTest.endpoints.create({ url: receiver.url, ordering: "fifo" });
      await engineUnderTest.start();
      for (let seq = 0; seq < 30; seq++) await engineUnderTest.send({ eventType: "order.test", payload: { seq } });
      await waitFor(() => (receiver.firstArrivals.get("")?.length ?? 0) === 30, 20_000, "30 messages");
      await waitFor(() => receiver.requests === 32, 5_000, "message 5's retries");
      expect(receiver.firstArrivals.get("")).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(receiver.attempts.get("/5")).toBe(3);
    } finally {
      await receiver.close();
    }
  });

  it("an exhausted message lets the next one go", async () => {
    const receiver = await startRecorder((seq) => (seq === 1 ? 500 : 200));
    try {
      const engineUnderTest = await engine([0, 20]);
      await engineUnderTest.endpoints.create({ url: receiver.url, ordering: "fifo" });
      await engineUnderTest.start();
      for (let seq = 0; seq < 5; seq++) await engineUnderTest.send({ eventType: "order.test", payload: { seq } });
      await waitFor(() => (receiver.firstArrivals.get("")?.length ?? 0) === 5, 10_000, "5 messages");
      expect(receiver.firstArrivals.get("")).toEqual([0, 1, 2, 3, 4]);
      expect(receiver.attempts.get("/1")).toBe(2);
    } finally {
      await receiver.close();
    }
  });

  it("keeps order per ordering key, and a stuck key does not hold back the others", async () => {
    // Group "a" keeps failing its first message for a while; group "b" must not wait for it.
    const receiver = await startRecorder((seq, group, attempt) =>
      group === "a" && seq === 0 && attempt <= 5 ? 503 : 200,
    );
    try {
      const engineUnderTest = await engine([0, 200, 200, 200, 200, 200]);
      await engineUnderTest.endpoints.create({ url: receiver.url, ordering: "fifo" });
      await engineUnderTest.start();
      for (let seq = 0; seq < 10; seq++) {
        for (const group of ["a", "b"]) {
          await engineUnderTest.send({ eventType: "order.test", payload: { seq, group }, orderingKey: group });
        }
      }
      await waitFor(() => (receiver.firstArrivals.get("b")?.length ?? 0) === 10, 10_000, "group b");
      // Group a is still held by its first message's retries.
      expect(receiver.firstArrivals.get("a")).toEqual([0]);
      await waitFor(() => (receiver.firstArrivals.get("a")?.length ?? 0) === 10, 10_000, "group a");
      expect(receiver.firstArrivals.get("a")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(receiver.firstArrivals.get("b")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await receiver.close();
    }
  });

  it("refuses an unknown ordering", async () => {
    const engineUnderTest = await engine([0]);
    await expect(
      engineUnderTest.endpoints.create({ url: "https://example.com/hooks", ordering: "lifo" as "fifo" }),
    ).rejects.toMatchObject({ code: "HOOKLINE_CONFIGURATION_INVALID" });
  });
});

describe("ordered delivery in the API (hookline extensions)", () => {
  it("an endpoint's ordering is set, shown, kept by a Svix-style PUT, cleared by PATCH; messages carry an ordering key", async () => {
    const h = await startHarness();
    try {
      const appId = await h.createApp();
      const base = `/api/v1/app/${appId}/endpoint`;
      const created = await h.call("POST", base, { body: { url: "https://example.com/hooks", ordering: "fifo" } });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      expect(created.json().ordering).toBe("fifo");
      // Svix's clients do not know the field: their PUT leaves it alone.
      const put = await h.call("PUT", `${base}/${id}`, { body: { url: "https://example.com/other" } });
      expect(put.json()).toMatchObject({ url: "https://example.com/other", ordering: "fifo" });
      const bad = await h.call("POST", base, { body: { url: "https://example.com/hooks", ordering: "lifo" } });
      expect(bad.statusCode).toBe(422);

      const sent = await h.call("POST", `/api/v1/app/${appId}/msg`, {
        body: { eventType: "order.test", payload: { seq: 1 }, orderingKey: "customer-1" },
      });
      expect(sent.statusCode).toBe(202);
      const [delivery] = (await h.store.listDeliveries({ endpointId: id })).data;
      expect(delivery?.orderingKey).toBe("customer-1");

      const cleared = await h.call("PATCH", `${base}/${id}`, { body: { ordering: null } });
      expect(cleared.json().ordering).toBeNull();
      expect((await h.call("GET", `${base}/${id}`)).json().ordering).toBeNull();
    } finally {
      await h.close();
    }
  });
});

describe("ordered delivery through SIGKILLed workers", () => {
  const running: WorkerProcess[] = [];
  afterEach(async () => {
    for (const worker of running.splice(0)) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL");
      await worker.exited;
    }
  });

  async function seedOrdered(store: Store, url: string, messages: number): Promise<void> {
    const seeding = await createHookline({ store, allowPrivateNetworks: true });
    try {
      await seeding.endpoints.create({ url, ordering: "fifo", timeoutMs: 2_000 });
      for (let seq = 0; seq < messages; seq++) await seeding.send({ eventType: "order.test", payload: { seq } });
    } finally {
      await seeding.close();
    }
  }

  const report = (label: string, arrivals: number[], duplicates: number) => {
    console.log(
      `ordered delivery (${label}): ${arrivals.length} messages, ${inversions(arrivals)} inversions, ${duplicates} duplicates`,
    );
  };

  test("on SQLite, one worker killed and restarted three times", async () => {
    const receiver = await startRecorder();
    const directory = await mkdtemp(join(tmpdir(), "hookline-order-crash-"));
    const messages = 300;
    try {
      const path = join(directory, "order.db");
      await seedOrdered(sqliteStore({ path }), receiver.url, messages);
      const env = { HOOKLINE_STORE: "sqlite", HOOKLINE_DB: path };
      const arrived = () => receiver.firstArrivals.get("")?.length ?? 0;
      for (let kill = 0; kill < 3; kill++) {
        const worker = spawnDeliveryWorker(env);
        running.push(worker);
        await worker.ready;
        const before = arrived();
        await waitFor(() => arrived() >= Math.min(messages, before + 30), 30_000, "progress before a kill");
        worker.child.kill("SIGKILL");
        await worker.exited;
      }
      const last = spawnDeliveryWorker(env);
      running.push(last);
      await waitFor(() => arrived() === messages, 60_000, "every message");
      const arrivals = receiver.firstArrivals.get("") ?? [];
      report("SQLite, 3 SIGKILLs", arrivals, receiver.requests - messages);
      expect(inversions(arrivals)).toBe(0);
      expect([...arrivals].sort((a, b) => a - b)).toEqual(Array.from({ length: messages }, (_, i) => i));
    } finally {
      await receiver.close();
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);

  test.skipIf(!pgAvailable)(
    "on PostgreSQL, two worker processes, one killed",
    async () => {
      const receiver = await startRecorder();
      const schema = uniqueSchemaName();
      const messages = 200;
      try {
        await seedOrdered(postgresStore({ connectionString: PG_URL, schema }), receiver.url, messages);
        const env = { HOOKLINE_STORE: "postgres", HOOKLINE_DB: PG_URL, HOOKLINE_SCHEMA: schema };
        const arrived = () => receiver.firstArrivals.get("")?.length ?? 0;
        const workers = [spawnDeliveryWorker(env), spawnDeliveryWorker(env)];
        running.push(...workers);
        await Promise.all(workers.map((w) => w.ready));
        await waitFor(() => arrived() >= 50, 30_000, "progress before the kill");
        workers[0]?.child.kill("SIGKILL");
        await waitFor(() => arrived() === messages, 60_000, "every message");
        const arrivals = receiver.firstArrivals.get("") ?? [];
        report("PostgreSQL, 2 workers, 1 SIGKILL", arrivals, receiver.requests - messages);
        expect(inversions(arrivals)).toBe(0);
        expect([...arrivals].sort((a, b) => a - b)).toEqual(Array.from({ length: messages }, (_, i) => i));
      } finally {
        await receiver.close();
        await dropSchema(schema);
      }
    },
    120_000,
  );
});

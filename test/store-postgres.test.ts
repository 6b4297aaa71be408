import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ConfigurationError } from "../src/core/errors.js";
import { newId } from "../src/core/ids.js";
import { type PostgresStore, postgresStore } from "../src/postgres.js";
import { MemoryStore } from "../src/store/memory/memory-store.js";
import type {
  AppRecord,
  Completion,
  DeliveryRecord,
  EndpointRecord,
  MessageRecord,
  Store,
} from "../src/store/store.js";
import { dropSchema, PG_URL, postgresAvailable, uniqueSchemaName } from "./support/postgres.js";
import { describeStoreContract } from "./support/store-contract.js";

const available = await postgresAvailable();

for (const [name, encryption] of [
  ["postgres", {}],
  ["postgres with secrets encrypted at rest", { encryptionKey: randomBytes(32).toString("base64") }],
] as const) {
  describeStoreContract(
    name,
    async () => {
      const schema = uniqueSchemaName();
      const store = postgresStore({ connectionString: PG_URL, schema, maxConnections: 4, ...encryption });
      await store.migrate();
      return {
        store,
        async cleanup() {
          await store.close();
          await dropSchema(schema);
        },
      };
    },
    { skip: !available },
  );
}

// ---- fixtures ----------------------------------------------------------------

const T0 = Date.UTC(2026, 0, 1);

function appRecord(overrides: Partial<AppRecord> = {}): AppRecord {
  return { id: newId("app"), uid: null, name: "app", metadata: {}, createdAt: T0, updatedAt: T0, ...overrides };
}

function endpointRecord(appId: string, overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: newId("ep"),
    appId,
    uid: null,
    url: "https://example.com/hook",
    description: "",
    secrets: [{ secret: "whsec_c2VjcmV0", expiresAt: null }],
    eventTypes: [],
    channels: null,
    headers: {},
    metadata: {},
    rateLimitPerSecond: null,
    signatureAlgorithm: "hmac_sha256",
    timeoutMs: 30_000,
    disabled: false,
    disabledReason: null,
    failingSince: null,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function messageRecord(appId: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  const eventId = newId("evt");
  return {
    id: newId("msg"),
    appId,
    eventId,
    eventType: "invoice.paid",
    body: JSON.stringify({ event_id: eventId, payload: { amount: 1 } }),
    bodyFormat: "envelope",
    channels: null,
    tags: null,
    createdAt: T0,
    ...overrides,
  };
}

function deliveryRecord(message: MessageRecord, endpointId: string, nextAttemptAt = T0): DeliveryRecord {
  return {
    id: newId("dlv"),
    messageId: message.id,
    endpointId,
    appId: message.appId,
    status: "pending",
    attemptCount: 0,
    nextAttemptAt,
    leaseOwner: null,
    nextTrigger: "scheduled",
    lastStatusCode: null,
    lastError: null,
    createdAt: message.createdAt,
    updatedAt: message.createdAt,
  };
}

function completionFor(
  delivery: DeliveryRecord,
  owner: string,
  outcome: Completion["endpointOutcome"],
  startedAt: number,
): Completion {
  const succeeded = outcome === "succeeded";
  return {
    deliveryId: delivery.id,
    owner,
    status: succeeded ? "delivered" : outcome === "gone" ? "failed" : "pending",
    nextAttemptAt: succeeded || outcome === "gone" ? null : startedAt + 5_000,
    endpointOutcome: outcome,
    attempt: {
      id: newId("atm"),
      deliveryId: delivery.id,
      messageId: delivery.messageId,
      endpointId: delivery.endpointId,
      appId: delivery.appId,
      number: delivery.attemptCount + 1,
      startedAt,
      durationMs: 12,
      statusCode: succeeded ? 200 : outcome === "gone" ? 410 : 500,
      responseExcerpt: succeeded ? "ok" : "no",
      errorCode: null,
      error: succeeded ? null : "HTTP error",
      trigger: "scheduled",
      succeeded,
    },
  };
}

/** Inserts one message with a delivery to each endpoint; returns the deliveries. */
async function send(
  store: Store,
  appId: string,
  endpointIds: readonly string[],
  nextAttemptAt = T0,
  options: { client?: unknown; message?: MessageRecord } = {},
): Promise<{ message: MessageRecord; deliveries: DeliveryRecord[] }> {
  const message = options.message ?? messageRecord(appId);
  const deliveries = endpointIds.map((id) => deliveryRecord(message, id, nextAttemptAt));
  await store.insertMessage(message, deliveries, options.client === undefined ? {} : { client: options.client });
  return { message, deliveries };
}

/** Counts calls and lets a test await the n-th one (no fixed sleeps). */
class CallCounter {
  count = 0;
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  readonly fn = (): void => {
    this.count++;
    const due = this.#waiters.filter((w) => w.n <= this.count);
    this.#waiters = this.#waiters.filter((w) => w.n > this.count);
    for (const waiter of due) waiter.resolve();
  };
  reached(n: number, timeoutMs = 5_000): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`expected ${n} calls, got ${this.count}`)), timeoutMs);
      this.#waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Backends LISTENing on the channel (found by their last statement). */
async function listenerPids(channel: string): Promise<number[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()",
      [`LISTEN "${channel}"`],
    );
    return rows.map((r) => r.pid);
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await settle(20);
  }
}

// ---- tests -------------------------------------------------------------------

describe("postgresStore options", () => {
  test.each(['bad"name', "1abc", "", "has space", "a".repeat(64), "semi;colon"])("rejects schema %j", (schema) => {
    expect(() => postgresStore({ connectionString: PG_URL, schema })).toThrow(ConfigurationError);
  });

  test("rejects a non-positive maxConnections", () => {
    expect(() => postgresStore({ maxConnections: 0 })).toThrow(ConfigurationError);
  });

  test("derives a valid NOTIFY channel even from a 63-character schema name", () => {
    const store = postgresStore({ schema: "s".repeat(63) });
    expect(store.channel.length).toBeLessThanOrEqual(63);
    expect(postgresStore({ schema: "billing" }).channel).toBe("hookline_wake_billing");
  });
});

describe.skipIf(!available)("PostgresStore on PostgreSQL", () => {
  let schema: string;
  let store: PostgresStore;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    schema = uniqueSchemaName();
    store = postgresStore({ connectionString: PG_URL, schema, maxConnections: 4 });
    await store.migrate();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await store.close();
    await dropSchema(schema);
  });

  async function seedApp(endpointCount: number, target: Store = store) {
    const app = appRecord();
    await target.createApp(app);
    const endpoints = Array.from({ length: endpointCount }, () => endpointRecord(app.id));
    for (const endpoint of endpoints) await target.createEndpoint(endpoint);
    return { app, endpointIds: endpoints.map((e) => e.id) };
  }

  describe("the transactional outbox", () => {
    test("a message inserted on the caller's client rolls back with the caller's transaction", async () => {
      const { app, endpointIds } = await seedApp(2);
      const { message } = await withClient(async (client) => {
        await client.query("BEGIN");
        const sent = await send(store, app.id, endpointIds, T0, { client });
        // Not visible outside the open transaction.
        expect(await store.getMessage(sent.message.id)).toBeNull();
        await client.query("ROLLBACK");
        return sent;
      });
      expect(await store.getMessage(message.id)).toBeNull();
      expect(await store.countDeliveries({ appId: app.id })).toEqual({
        pending: 0,
        sending: 0,
        delivered: 0,
        failed: 0,
        cancelled: 0,
      });
    });

    test("and commits with it", async () => {
      const { app, endpointIds } = await seedApp(2);
      const { message, deliveries } = await withClient(async (client) => {
        await client.query("BEGIN");
        const sent = await send(store, app.id, endpointIds, T0, { client });
        await client.query("COMMIT");
        return sent;
      });
      expect(await store.getMessage(message.id)).toEqual(message);
      expect((await store.countDeliveries({ appId: app.id })).pending).toBe(2);
      for (const delivery of deliveries) expect(await store.getDelivery(delivery.id)).toEqual(delivery);
    });

    test("qualifies every table, whatever the caller's search_path", async () => {
      const { app, endpointIds } = await seedApp(1);
      const message = messageRecord(app.id);
      await withClient(async (client) => {
        await client.query("SET search_path TO nowhere_at_all");
        await client.query("BEGIN");
        const first = await store.insertMessage(message, [deliveryRecord(message, endpointIds[0] as string)], {
          client,
        });
        const again = await store.insertMessage({ ...message, id: newId("msg") }, [], { client });
        await client.query("COMMIT");
        expect(first).toMatchObject({ created: true, deliveryCount: 1 });
        expect(again).toEqual({ message, deliveryCount: 1, created: false });
      });
    });

    test("rejects a client that is not a pg client", async () => {
      const { app } = await seedApp(0);
      await expect(store.insertMessage(messageRecord(app.id), [], { client: {} })).rejects.toThrow(ConfigurationError);
    });
  });

  describe("wake-ups (LISTEN/NOTIFY)", () => {
    test("fire when an insert commits, never for one rolled back", async () => {
      const { app, endpointIds } = await seedApp(1);
      const wakes = new CallCounter();
      const unsubscribe = await store.onWake(wakes.fn);
      cleanups.push(unsubscribe);

      await withClient(async (client) => {
        await client.query("BEGIN");
        await send(store, app.id, endpointIds, T0, { client });
        await client.query("ROLLBACK");
        // Inside an open transaction nothing is signalled until it commits.
        await client.query("BEGIN");
        await send(store, app.id, endpointIds, T0, { client });
        await settle(150);
        expect(wakes.count).toBe(0);
        await client.query("COMMIT");
      });
      await wakes.reached(1);
      // Notifications arrive in commit order: a stray one from the rollback would have come first.
      await settle(100);
      expect(wakes.count).toBe(1);

      await send(store, app.id, endpointIds);
      await wakes.reached(2);
    });

    test("reconnect after the listening connection is killed", async () => {
      const { app, endpointIds } = await seedApp(1);
      const wakes = new CallCounter();
      cleanups.push(await store.onWake(wakes.fn));
      const [pid] = await listenerPids(store.channel);
      expect(pid).toBeTypeOf("number");

      await withClient((client) => client.query("SELECT pg_terminate_backend($1)", [pid]));
      // After reconnecting it wakes once, since notifications sent meanwhile were lost.
      await wakes.reached(1);
      await eventually(async () => (await listenerPids(store.channel)).length === 1);
      await send(store, app.id, endpointIds);
      await wakes.reached(2);
    });

    test("unsubscribe and close() end the listening connections", async () => {
      const unsubscribe = await store.onWake(() => {});
      await store.onWake(() => {});
      await eventually(async () => (await listenerPids(store.channel)).length === 2);
      await unsubscribe();
      await unsubscribe();
      await eventually(async () => (await listenerPids(store.channel)).length === 1);
      await store.close();
      await eventually(async () => (await listenerPids(store.channel)).length === 0);
      await expect(store.onWake(() => {})).rejects.toThrow(/closed/);
    });
  });

  describe("migrate", () => {
    test("two stores migrating the same new schema at once both succeed, each version once", async () => {
      const fresh = uniqueSchemaName();
      const stores = [1, 2, 3].map(() => postgresStore({ connectionString: PG_URL, schema: fresh, maxConnections: 2 }));
      cleanups.push(async () => {
        await Promise.all(stores.map((s) => s.close()));
        await dropSchema(fresh);
      });
      await Promise.all(stores.map((s) => s.migrate()));
      await stores[0]?.migrate();
      const { rows } = await withClient((client) =>
        client.query<{ version: number; n: number }>(
          `SELECT version, count(*)::int AS n FROM "${fresh}".schema_migrations GROUP BY version ORDER BY version`,
        ),
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(row.n).toBe(1);
      await stores[1]?.createApp(appRecord());
      expect((await stores[2]?.listApps({}))?.data).toHaveLength(1);
    });
  });

  describe("claims", () => {
    test("two stores (two pools) claiming a backlog of 500 at once get disjoint rows and all of them", async () => {
      const { app, endpointIds } = await seedApp(5);
      for (let i = 0; i < 100; i++) await send(store, app.id, endpointIds, T0 + (i % 7));
      const other = postgresStore({ connectionString: PG_URL, schema, maxConnections: 4 });
      cleanups.push(() => other.close());
      await Promise.all([store.ping(), other.ping()]);

      const worker = async (s: Store, owner: string) => {
        const got: string[] = [];
        for (;;) {
          const claimed = await s.claimDue({
            owner,
            now: T0 + 10,
            leaseMs: 60_000,
            limit: 20,
            perEndpointLimit: 1_000,
          });
          got.push(...claimed.map((c) => c.delivery.id));
          // An empty claim may only mean the other worker holds the rest locked; stop when none is pending.
          if (claimed.length === 0 && (await s.countDeliveries()).pending === 0) return got;
        }
      };
      const [a, b] = await Promise.all([worker(store, "worker-a"), worker(other, "worker-b")]);
      expect(a.length).toBeGreaterThan(0);
      expect(b.length).toBeGreaterThan(0);
      const all = [...a, ...b];
      expect(new Set(all).size).toBe(all.length);
      expect(all).toHaveLength(500);
      const sample = await store.getDelivery(b[0] as string);
      expect(sample).toMatchObject({ status: "sending", leaseOwner: "worker-b", nextAttemptAt: T0 + 10 + 60_000 });
    });

    test("look past a window filled by a capped endpoint, as the memory store does", async () => {
      const app = appRecord({ id: "app_1" });
      const endpoints = [
        endpointRecord(app.id, { id: "ep_busy" }),
        endpointRecord(app.id, { id: "ep_quiet" }),
        endpointRecord(app.id, { id: "ep_off", disabled: true, disabledReason: "manual" }),
      ];
      const sends: Array<[MessageRecord, DeliveryRecord[]]> = [];
      for (let i = 0; i < 60; i++) {
        const message = messageRecord(app.id, { id: `msg_a${String(i).padStart(3, "0")}`, eventId: `a${i}` });
        sends.push([message, [{ ...deliveryRecord(message, "ep_busy", T0 + i), id: `dlv_a${i}` }]]);
      }
      for (let i = 0; i < 5; i++) {
        const message = messageRecord(app.id, { id: `msg_b${i}`, eventId: `b${i}` });
        sends.push([
          message,
          [
            { ...deliveryRecord(message, "ep_quiet", T0 + 100 + i), id: `dlv_b${i}` },
            { ...deliveryRecord(message, "ep_off", T0 + i), id: `dlv_c${i}` },
          ],
        ]);
      }
      const results = [];
      for (const s of [new MemoryStore(), store] as Store[]) {
        await s.createApp(app);
        for (const endpoint of endpoints) await s.createEndpoint(endpoint);
        for (const [message, deliveries] of sends) await s.insertMessage(message, deliveries);
        const claim = (limit: number) =>
          s.claimDue({ owner: "w", now: T0 + 1_000, leaseMs: 30_000, limit, perEndpointLimit: 2 });
        const first = await claim(3);
        const second = await claim(10);
        results.push({ first, second });
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[1]?.first.map((c) => c.delivery.id)).toEqual(["dlv_a0", "dlv_a1", "dlv_b0"]);
      expect(results[1]?.second.map((c) => c.delivery.id)).toEqual(["dlv_b1"]);
    });
  });

  describe("complete", () => {
    test("applies a mixed batch exactly as the memory store does", async () => {
      const HOUR = 3_600_000;
      const now = T0 + 10 * HOUR;
      const memory = new MemoryStore();
      const outcomes = [];
      for (const s of [memory, store] as Store[]) {
        const app = appRecord({ id: "app_1" });
        await s.createApp(app);
        // flappy: healthy; old: failing for 9 h; gone: healthy; off: already disabled, healthy.
        await s.createEndpoint(endpointRecord(app.id, { id: "ep_flappy" }));
        await s.createEndpoint(endpointRecord(app.id, { id: "ep_old", failingSince: T0 + HOUR }));
        await s.createEndpoint(endpointRecord(app.id, { id: "ep_gone" }));
        const byEndpoint = new Map<string, DeliveryRecord[]>();
        for (let i = 0; i < 4; i++) {
          const message = messageRecord(app.id, { id: `msg_${i}`, eventId: `e${i}` });
          const deliveries = ["ep_flappy", "ep_old", "ep_gone"].map((ep) => ({
            ...deliveryRecord(message, ep),
            id: `dlv_${ep}_${i}`,
          }));
          await s.insertMessage(message, deliveries);
          for (const d of deliveries) byEndpoint.set(d.endpointId, [...(byEndpoint.get(d.endpointId) ?? []), d]);
        }
        const claimed = await s.claimDue({ owner: "w1", now, leaseMs: 60_000, limit: 100, perEndpointLimit: 100 });
        expect(claimed).toHaveLength(12);
        const d = (ep: string, i: number) => byEndpoint.get(ep)?.[i] as DeliveryRecord;
        const batch: Completion[] = [
          completionFor(d("ep_flappy", 0), "w1", "failed", now),
          completionFor(d("ep_flappy", 1), "w1", "succeeded", now),
          completionFor(d("ep_flappy", 2), "w1", "failed", now),
          completionFor(d("ep_old", 0), "w1", "succeeded", now),
          completionFor(d("ep_old", 1), "w1", "failed", now),
          completionFor(d("ep_gone", 0), "w1", "failed", now),
          completionFor(d("ep_gone", 1), "w1", "gone", now),
          completionFor(d("ep_gone", 2), "w1", "failed", now),
          // A stale owner, then the real one, then the real one again for the same delivery.
          completionFor(d("ep_old", 2), "w0", "failed", now),
          completionFor(d("ep_old", 2), "w1", "failed", now),
          completionFor(d("ep_old", 2), "w1", "failed", now),
          completionFor(d("ep_old", 3), "w1", "failed", now),
        ];
        const effects = await s.complete(batch, now, 8 * HOUR);
        const later = await s.complete(
          [completionFor(d("ep_flappy", 3), "w1", "failed", now + 9 * HOUR)],
          now + 9 * HOUR,
          8 * HOUR,
        );
        const endpoints = await s.listEndpoints({ appId: app.id });
        const deliveries = await s.listDeliveries({ appId: app.id, limit: 250 });
        const attempts = await s.listAttempts({ appId: app.id, limit: 250 });
        outcomes.push({ effects, later, endpoints, deliveries, attemptCount: attempts.data.length });
      }
      expect(outcomes[1]).toEqual(outcomes[0]);
      expect(outcomes[1]?.effects.disabledEndpoints).toEqual([{ endpointId: "ep_gone", reason: "gone" }]);
      expect(outcomes[1]?.later.disabledEndpoints).toEqual([{ endpointId: "ep_flappy", reason: "failing" }]);
    });

    test("matches the memory store over a random sequence of claims, completions and releases", async () => {
      const memory = new MemoryStore();
      const random = mulberry32(20260101);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      for (const s of [memory, store] as Store[]) {
        await s.createApp(appRecord({ id: "app_1" }));
        for (const ep of ["ep_a", "ep_b", "ep_c", "ep_d"]) await s.createEndpoint(endpointRecord("app_1", { id: ep }));
      }
      let now = T0;
      for (let i = 0; i < 40; i++) {
        const message = messageRecord("app_1", { id: `msg_${String(i).padStart(3, "0")}`, eventId: `e${i}` });
        const deliveries = ["ep_a", "ep_b", "ep_c", "ep_d"].map((ep) => ({
          ...deliveryRecord(message, ep, T0 + Math.floor(random() * 50_000)),
          id: `dlv_${ep}_${String(i).padStart(3, "0")}`,
        }));
        for (const s of [memory, store]) await s.insertMessage(message, deliveries);
      }
      const owners = ["w1", "w2", "w3"];
      for (let step = 0; step < 60; step++) {
        now += Math.floor(random() * 20_000);
        const owner = pick(owners);
        const claimOptions = {
          owner,
          now,
          leaseMs: 30_000,
          limit: 1 + Math.floor(random() * 12),
          perEndpointLimit: 1 + Math.floor(random() * 4),
          excludeEndpointIds: random() < 0.2 ? [pick(["ep_a", "ep_b", "ep_c", "ep_d"])] : [],
        };
        const claimed = await memory.claimDue(claimOptions);
        expect(await store.claimDue(claimOptions), `claim at step ${step}`).toEqual(claimed);
        const action = random();
        if (action < 0.2 && claimed.length > 0) {
          const ids = claimed.filter(() => random() < 0.5).map((c) => c.delivery.id);
          const releasedBy = random() < 0.8 ? owner : "nobody";
          for (const s of [memory, store]) await s.release(releasedBy, ids, now);
        } else if (claimed.length > 0) {
          const batch = claimed.map((c) =>
            completionFor(
              c.delivery,
              random() < 0.9 ? owner : pick(owners),
              pick(["succeeded", "failed", "failed", "gone"] as const),
              now,
            ),
          );
          if (random() < 0.3 && batch[0])
            batch.push({ ...batch[0], attempt: { ...batch[0].attempt, id: newId("atm") } });
          const disableAfterMs = 60_000 + Math.floor(random() * 120_000);
          const expected = await memory.complete(batch, now, disableAfterMs);
          expect(await store.complete(batch, now, disableAfterMs), `complete at step ${step}`).toEqual(expected);
        }
        if (random() < 0.1) {
          const endpoint = pick(["ep_a", "ep_b", "ep_c", "ep_d"]);
          for (const s of [memory, store]) {
            await s.updateEndpoint(endpoint, { disabled: false, disabledReason: null }, now);
            await s.recoverEndpoint(endpoint, T0, now + 1, now);
          }
        }
      }
      for (const query of [
        (s: Store) => s.listEndpoints({ limit: 250 }),
        (s: Store) => s.listDeliveries({ limit: 250 }),
        (s: Store) => s.countDeliveries(),
        (s: Store) => s.nextDueAt(),
      ]) {
        expect(await query(store)).toEqual(await query(memory));
      }
      const attemptIds = async (s: Store) => (await s.listAttempts({ limit: 250 })).data.map((a) => a.id).sort();
      expect(await attemptIds(store)).toEqual(await attemptIds(memory));
    });
  });

  describe("pools", () => {
    test("a pool passed in is used as is and left open by close()", async () => {
      const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
      cleanups.push(() => pool.end());
      const shared = postgresStore({ pool, schema });
      const app = appRecord({ createdAt: 1_767_225_600_123 });
      await shared.createApp(app);
      // The caller's pool parses BIGINT as strings; records still carry numbers.
      expect(await shared.getApp(app.id)).toEqual(app);
      const wakes = new CallCounter();
      await shared.onWake(wakes.fn);
      await shared.close();
      await shared.close();
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await expect(shared.ping()).rejects.toThrow(/closed/);
    });

    test("parses BIGINT per pool and leaves pg's global parsers alone", async () => {
      const app = appRecord({ createdAt: 1_767_225_600_123 });
      await store.createApp(app);
      expect((await store.getApp(app.id))?.createdAt).toBe(1_767_225_600_123);
      expect(pg.types.getTypeParser(20, "text")("9007199254740993")).toBe("9007199254740993");
    });
  });
});

/** A small seeded PRNG, so a failing random sequence can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

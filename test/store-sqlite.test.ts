import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ConfigurationError } from "../src/core/errors.js";
import { newId } from "../src/core/ids.js";
import { type SqliteStore, sqliteStore } from "../src/sqlite.js";
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "../src/store/sql/schema.js";
import type {
  AppRecord,
  AttemptRecord,
  Completion,
  DeliveryRecord,
  EndpointRecord,
  MessageRecord,
} from "../src/store/store.js";
import { describeStoreContract } from "./support/store-contract.js";

const root = resolve(import.meta.dirname, "..");
const T0 = Date.UTC(2026, 0, 1);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "hookline-sqlite-"));
}

for (const [name, encryption] of [
  ["sqlite", {}],
  ["sqlite with secrets encrypted at rest", { encryptionKey: randomBytes(32).toString("base64") }],
] as const) {
  describeStoreContract(name, async () => {
    const dir = await tempDir();
    const store = sqliteStore({ path: join(dir, "hookline.db"), ...encryption });
    await store.migrate();
    return {
      store,
      async cleanup() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

// --- records ------------------------------------------------------------------

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
    headers: { "x-extra": "1" },
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
  const id = newId("msg");
  return {
    id,
    appId,
    eventId: id,
    eventType: "invoice.paid",
    body: '{"a":1}',
    bodyFormat: "envelope",
    channels: null,
    tags: null,
    createdAt: T0,
    ...overrides,
  };
}

function deliveryRecord(message: MessageRecord, endpointId: string, dueAt = T0): DeliveryRecord {
  return {
    id: newId("dlv"),
    messageId: message.id,
    endpointId,
    appId: message.appId,
    status: "pending",
    attemptCount: 0,
    nextAttemptAt: dueAt,
    leaseOwner: null,
    nextTrigger: "scheduled",
    lastStatusCode: null,
    lastError: null,
    createdAt: T0,
    updatedAt: T0,
  };
}

function attemptRecord(delivery: DeliveryRecord, statusCode: number): AttemptRecord {
  return {
    id: newId("atmpt"),
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    appId: delivery.appId,
    number: delivery.attemptCount + 1,
    startedAt: T0,
    durationMs: 12,
    statusCode,
    responseExcerpt: "ok",
    errorCode: null,
    error: null,
    trigger: "scheduled",
    succeeded: statusCode < 300,
  };
}

/** An app, `endpointCount` endpoints and one message fanned out to `perEndpoint` deliveries per endpoint. */
async function seed(
  store: SqliteStore,
  { endpointCount = 1, messages = 1, dueAt = T0 }: { endpointCount?: number; messages?: number; dueAt?: number } = {},
) {
  const app = appRecord();
  await store.createApp(app);
  const endpoints = Array.from({ length: endpointCount }, () => endpointRecord(app.id));
  for (const endpoint of endpoints) await store.createEndpoint(endpoint);
  const deliveries: DeliveryRecord[] = [];
  for (let i = 0; i < messages; i++) {
    const message = messageRecord(app.id);
    const fanOut = endpoints.map((e) => deliveryRecord(message, e.id, dueAt));
    await store.insertMessage(message, fanOut);
    deliveries.push(...fanOut);
  }
  return { app, endpoints, deliveries };
}

// --- child processes ------------------------------------------------------------

interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  result: Promise<Record<string, unknown>>;
}

/** Starts test/fixtures/sqlite-child.ts; it waits for `go` after printing `ready`. */
function startChild(args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/sqlite-child.ts", ...args], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolveReady) => {
    markReady = resolveReady;
  });
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    if (stdout.includes("ready\n")) markReady();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const result = new Promise<Record<string, unknown>>((resolveResult, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0) reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolveResult(JSON.parse(last) as Record<string, unknown>);
    });
  });
  // A child that dies before `ready` must not leave the test waiting for it.
  return { process: child, ready: Promise.race([ready, result.then(() => {})]), result };
}

/** Starts every child, waits until all are ready, then lets them go at once. */
async function race(argsList: string[][]): Promise<Array<Record<string, unknown>>> {
  const children = argsList.map(startChild);
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.process.stdin?.end("go\n");
  return Promise.all(children.map((c) => c.result));
}

// --- SQLite specifics -----------------------------------------------------------

describe("SqliteStore", () => {
  let dir: string;
  let path: string;
  const opened: SqliteStore[] = [];
  const open = (options: { synchronous?: "normal" | "full" } = {}): SqliteStore => {
    const store = sqliteStore({ path, ...options });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await tempDir();
    path = join(dir, "hookline.db");
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("is a Store of kind sqlite that opens its file only on first use", async () => {
    const store = open();
    expect(store.kind).toBe("sqlite");
    expect(existsSync(path)).toBe(false);
    await store.migrate();
    expect(existsSync(path)).toBe(true);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  test("rejects bad options with a ConfigurationError", () => {
    expect(() => sqliteStore({ path: "" })).toThrow(ConfigurationError);
    expect(() => sqliteStore({ path, synchronous: "off" as never })).toThrow(/synchronous/);
  });

  test("close is idempotent, and a closed store refuses work", async () => {
    const store = open();
    await store.migrate();
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toThrow(/closed/);
    // Closing a store that never opened is fine too.
    await open().close();
  });

  test("sends queued in one turn commit together, and one bad message fails only its own send", async () => {
    const store = open();
    await store.migrate();
    const { app, endpoints } = await seed(store, { endpointCount: 1 });
    const endpointId = endpoints[0]?.id ?? "";
    const good = [messageRecord(app.id), messageRecord(app.id)];
    const orphan = messageRecord("app_that_does_not_exist");
    const results = await Promise.allSettled([
      store.insertMessage(good[0] as MessageRecord, [deliveryRecord(good[0] as MessageRecord, endpointId)]),
      store.insertMessage(orphan, [deliveryRecord(orphan, endpointId)]),
      store.insertMessage(good[1] as MessageRecord, [deliveryRecord(good[1] as MessageRecord, endpointId)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await store.getMessage(good[0]?.id ?? "")).not.toBeNull();
    expect(await store.getMessage(good[1]?.id ?? "")).not.toBeNull();
    expect(await store.getMessage(orphan.id)).toBeNull();
    expect((await store.countDeliveries({ appId: "app_that_does_not_exist" })).pending).toBe(0);
  });

  test("a send racing close() is either written or refused as closed, never lost in between", async () => {
    const store = open();
    await store.migrate();
    const { app, endpoints } = await seed(store, { endpointCount: 1 });
    const messages = Array.from({ length: 20 }, () => messageRecord(app.id));
    const sends = messages.map((m, i) => {
      const sent = store.insertMessage(m, [deliveryRecord(m, endpoints[0]?.id ?? "")]);
      return i === 10 ? store.close().then(() => sent) : sent;
    });
    const results = await Promise.allSettled(sends);
    const reopened = open();
    for (const [i, result] of results.entries()) {
      const stored = await reopened.getMessage(messages[i]?.id ?? "");
      if (result.status === "fulfilled") expect(stored).not.toBeNull();
      else {
        expect(result.reason).toBeInstanceOf(ConfigurationError);
        expect(stored).toBeNull();
      }
    }
  });

  test("data survives close and reopen", async () => {
    const first = open({ synchronous: "full" });
    await first.migrate();
    const { app, endpoints, deliveries } = await seed(first, { endpointCount: 2 });
    const [claimed] = await first.claimDue({ owner: "w1", now: T0, leaseMs: 1000, limit: 1, perEndpointLimit: 5 });
    if (!claimed) throw new Error("nothing claimed");
    const attempt = attemptRecord(claimed.delivery, 200);
    await first.complete(
      [
        {
          deliveryId: claimed.delivery.id,
          owner: "w1",
          attempt,
          status: "delivered",
          nextAttemptAt: null,
          endpointOutcome: "succeeded",
        },
      ],
      T0 + 5,
      60_000,
    );
    const before = {
      app: await first.getApp(app.id),
      endpoint: await first.getEndpoint(endpoints[0]?.id ?? ""),
      message: await first.getMessage(deliveries[0]?.messageId ?? ""),
      deliveries: await first.listDeliveries({ appId: app.id }),
      attempts: await first.listAttempts({ deliveryId: claimed.delivery.id }),
    };
    await first.close();

    const second = open();
    await second.migrate();
    expect(await second.getApp(app.id)).toEqual(before.app);
    expect(await second.getEndpoint(endpoints[0]?.id ?? "")).toEqual(before.endpoint);
    expect(await second.getMessage(deliveries[0]?.messageId ?? "")).toEqual(before.message);
    expect(await second.listDeliveries({ appId: app.id })).toEqual(before.deliveries);
    expect((await second.listAttempts({ deliveryId: claimed.delivery.id })).data).toEqual([attempt]);
    expect(await second.countDeliveries({ appId: app.id })).toMatchObject({ delivered: 1, pending: 1 });
  });

  test("migrate twice, and from a second connection, is a no-op", async () => {
    const store = open();
    await store.migrate();
    const read = () => {
      const db = new Database(path, { readonly: true });
      try {
        return {
          versions: db.prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version").all(),
          objects: db.prepare("SELECT type, name FROM sqlite_master ORDER BY name").all(),
        };
      } finally {
        db.close();
      }
    };
    const once = read();
    expect(once.versions.map((v) => (v as { version: number }).version)).toEqual(MIGRATIONS.map((m) => m.version));
    await store.migrate();
    await open().migrate();
    expect(read()).toEqual(once);
  });

  test("two processes migrating one new file at once both succeed, each version recorded once", async () => {
    const results = await race([
      ["migrate", path],
      ["migrate", path],
      ["migrate", path],
    ]);
    expect(results).toEqual([{ migrated: true }, { migrated: true }, { migrated: true }]);
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare("SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version").all();
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
      expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)?.version);
    } finally {
      db.close();
    }
    // The schema the children made works.
    const store = open();
    await store.migrate();
    await seed(store);
    expect((await store.countDeliveries()).pending).toBe(1);
  }, 60_000);

  test("uses WAL and enforces foreign keys", async () => {
    const store = open();
    await store.migrate();
    const { app, endpoints, deliveries } = await seed(store, { endpointCount: 2 });
    // WAL is a property of the file: a second connection sees it, and the -wal file exists while open.
    const db = new Database(path);
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      db.close();
    }
    expect(existsSync(`${path}-wal`)).toBe(true);
    // Foreign keys are per connection: the store's refuses an orphan delivery…
    const orphan = messageRecord(app.id);
    await expect(store.insertMessage(orphan, [deliveryRecord(orphan, "ep_missing")])).rejects.toThrow(/FOREIGN KEY/);
    expect(await store.getMessage(orphan.id)).toBeNull(); // …and the whole transaction rolled back.
    // …and cascades deletes.
    const [first, second] = endpoints;
    if (!first || !second) throw new Error("seed");
    expect(await store.deleteEndpoint(first.id)).toBe(true);
    expect((await store.listDeliveries({ appId: app.id })).data.map((d) => d.endpointId)).toEqual([second.id]);
    expect(await store.deleteApp(app.id)).toBe(true);
    expect(await store.getDelivery(deliveries[1]?.id ?? "")).toBeNull();
    expect(await store.getMessage(deliveries[1]?.messageId ?? "")).toBeNull();
  });

  test("claims through two connections to one file never overlap", async () => {
    const a = open();
    const b = open();
    await a.migrate();
    await b.migrate();
    const { deliveries } = await seed(a, { endpointCount: 4, messages: 50 });
    const claim = (store: SqliteStore, owner: string) =>
      store.claimDue({ owner, now: T0, leaseMs: 60_000, limit: 7, perEndpointLimit: 1000 });
    const seen = new Map<string, string>();
    for (;;) {
      const [fromA, fromB] = await Promise.all([claim(a, "a"), claim(b, "b")]);
      for (const c of [...fromA, ...fromB]) {
        expect(seen.has(c.delivery.id), `claimed twice: ${c.delivery.id}`).toBe(false);
        seen.set(c.delivery.id, c.delivery.leaseOwner ?? "");
      }
      if (fromA.length === 0 && fromB.length === 0) break;
    }
    expect(seen.size).toBe(deliveries.length);
    expect(new Set(seen.values())).toEqual(new Set(["a", "b"]));
    // Each row is leased to whoever claimed it.
    for (const [id, owner] of seen) expect((await b.getDelivery(id))?.leaseOwner).toBe(owner);
  });

  test("claims from two processes at once never overlap", async () => {
    const store = open();
    await store.migrate();
    const { deliveries } = await seed(store, { endpointCount: 5, messages: 100 });
    const results = await race([
      ["claim", path, "p1", String(T0), "10"],
      ["claim", path, "p2", String(T0), "10"],
    ]);
    const ids = results.flatMap((r) => r.ids as string[]);
    expect(ids.length).toBe(deliveries.length);
    expect(new Set(ids).size).toBe(deliveries.length);
    expect((await store.countDeliveries()).sending).toBe(deliveries.length);
  }, 60_000);

  test("an endpoint at its cap does not hide other endpoints' due rows behind it", async () => {
    const store = open();
    await store.migrate();
    const app = appRecord();
    await store.createApp(app);
    const busy = endpointRecord(app.id);
    const quiet = endpointRecord(app.id);
    await store.createEndpoint(busy);
    await store.createEndpoint(quiet);
    // 60 older rows of one endpoint, then 3 of another: more than limit × 4 rows before the second.
    for (let i = 0; i < 60; i++) {
      const m = messageRecord(app.id);
      await store.insertMessage(m, [deliveryRecord(m, busy.id, T0 + i)]);
    }
    for (let i = 0; i < 3; i++) {
      const m = messageRecord(app.id);
      await store.insertMessage(m, [deliveryRecord(m, quiet.id, T0 + 100 + i)]);
    }
    const claimed = await store.claimDue({ owner: "w", now: T0 + 1000, leaseMs: 1000, limit: 10, perEndpointLimit: 2 });
    const perEndpoint = (id: string) => claimed.filter((c) => c.delivery.endpointId === id).length;
    expect(perEndpoint(busy.id)).toBe(2);
    expect(perEndpoint(quiet.id)).toBe(2);
    // Oldest first.
    expect(claimed.map((c) => c.delivery.endpointId)).toEqual([busy.id, busy.id, quiet.id, quiet.id]);
    // Leases of another worker count against the cap too.
    const more = await store.claimDue({ owner: "w2", now: T0 + 1000, leaseMs: 1000, limit: 10, perEndpointLimit: 3 });
    expect(more.map((c) => c.delivery.endpointId).sort()).toEqual([busy.id, quiet.id].sort());
  });

  test("a batch of 100 deliveries and 100 completions each commit in one call", async () => {
    const store = open();
    await store.migrate();
    const app = appRecord();
    await store.createApp(app);
    const endpoints = Array.from({ length: 100 }, () => endpointRecord(app.id));
    for (const e of endpoints) await store.createEndpoint(e);
    const message = messageRecord(app.id);
    const fanOut = endpoints.map((e) => deliveryRecord(message, e.id));
    expect(await store.insertMessage(message, fanOut)).toEqual({ message, deliveryCount: 100, created: true });
    // Idempotent on (app, event id): a second send with a new message id writes nothing.
    const again = await store.insertMessage({ ...message, id: newId("msg") }, [
      deliveryRecord(message, endpoints[0]?.id ?? ""),
    ]);
    expect(again).toEqual({ message, deliveryCount: 100, created: false });

    const claimed = await store.claimDue({ owner: "w", now: T0, leaseMs: 1000, limit: 100, perEndpointLimit: 1 });
    expect(claimed).toHaveLength(100);
    const completions: Completion[] = claimed.map((c, i) => ({
      deliveryId: c.delivery.id,
      owner: "w",
      attempt: attemptRecord(c.delivery, i % 2 === 0 ? 200 : 500),
      status: i % 2 === 0 ? "delivered" : "pending",
      nextAttemptAt: i % 2 === 0 ? null : T0 + 5000,
      endpointOutcome: i % 2 === 0 ? "succeeded" : "failed",
    }));
    const effects = await store.complete(completions, T0 + 10, 60_000);
    expect(effects.lostLeases).toEqual([]);
    expect(effects.failingEndpoints).toHaveLength(50);
    expect(await store.countDeliveries()).toMatchObject({ delivered: 50, pending: 50, sending: 0 });
    expect((await store.listAttempts({ appId: app.id, limit: 250 })).data).toHaveLength(100);
  });

  test("a completion whose delivery was deleted meanwhile is a lost lease, not an error", async () => {
    const store = open();
    await store.migrate();
    const { endpoints } = await seed(store, { endpointCount: 2 });
    const claimed = await store.claimDue({ owner: "w", now: T0, leaseMs: 1000, limit: 10, perEndpointLimit: 10 });
    expect(claimed).toHaveLength(2);
    const gone = claimed.find((c) => c.delivery.endpointId === endpoints[0]?.id);
    const kept = claimed.find((c) => c.delivery.endpointId === endpoints[1]?.id);
    if (!gone || !kept) throw new Error("claim");
    await store.deleteEndpoint(gone.delivery.endpointId);
    const completion = (c: typeof gone): Completion => ({
      deliveryId: c.delivery.id,
      owner: "w",
      attempt: attemptRecord(c.delivery, 200),
      status: "delivered",
      nextAttemptAt: null,
      endpointOutcome: "succeeded",
    });
    const effects = await store.complete([completion(gone), completion(kept)], T0 + 1, 60_000);
    expect(effects.lostLeases).toEqual([gone.delivery.id]);
    expect((await store.getDelivery(kept.delivery.id))?.status).toBe("delivered");
  });
});

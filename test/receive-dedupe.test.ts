import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeduper, type DedupeDocumentStore, type Deduper } from "../src/receive.js";
import { type SqliteStore, sqliteStore } from "../src/sqlite.js";

let dir: string;
let store: SqliteStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hookline-dedupe-"));
  store = sqliteStore({ path: join(dir, "receive.db") });
  await store.migrate();
});

afterAll(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Backend = { name: string; make(now: () => number, namespace: string): Deduper };
const backends: Backend[] = [
  { name: "memory", make: (now) => createDeduper({ ttlMs: 60_000, now }) },
  { name: "sqlite", make: (now, namespace) => createDeduper({ ttlMs: 60_000, now, store, namespace }) },
];

describe.each(backends)("createDeduper ($name)", (backend) => {
  let run = 0;
  const fresh = () => {
    let nowMs = 1_000_000;
    const clock = { advance: (ms: number) => (nowMs += ms) };
    const dedupe = backend.make(() => nowMs, `receive.dedupe.test.${run++}`);
    return { dedupe, clock };
  };

  it("is true the first time and false for a repeat within the ttl", async () => {
    const { dedupe, clock } = fresh();
    expect(await dedupe.check("evt_1")).toBe(true);
    expect(await dedupe.check("evt_1")).toBe(false);
    expect(await dedupe.check("evt_2")).toBe(true);
    clock.advance(59_999);
    expect(await dedupe.check("evt_1")).toBe(false);
  });

  it("accepts an id again once its ttl has passed, and remembers it anew", async () => {
    const { dedupe, clock } = fresh();
    expect(await dedupe.check("evt_1")).toBe(true);
    clock.advance(60_000);
    expect(await dedupe.check("evt_1")).toBe(true);
    expect(await dedupe.check("evt_1")).toBe(false);
    clock.advance(30_000);
    expect(await dedupe.check("evt_1")).toBe(false);
  });

  it("forget lets a redelivery through (the handler failed)", async () => {
    const { dedupe } = fresh();
    expect(await dedupe.check("evt_1")).toBe(true);
    await dedupe.forget("evt_1");
    expect(await dedupe.check("evt_1")).toBe(true);
    expect(await dedupe.check("evt_1")).toBe(false);
  });

  it("prunes expired ids and keeps live ones", async () => {
    const { dedupe, clock } = fresh();
    for (let i = 0; i < 450; i++) expect(await dedupe.check(`old_${String(i).padStart(3, "0")}`)).toBe(true);
    clock.advance(30_000);
    expect(await dedupe.check("young")).toBe(true);
    clock.advance(30_000);
    expect(await dedupe.prune()).toBe(450);
    expect(await dedupe.prune()).toBe(0);
    expect(await dedupe.check("young")).toBe(false);
  });

  it("of concurrent checks of one id exactly one is first", async () => {
    const { dedupe } = fresh();
    const results = await Promise.all(Array.from({ length: 20 }, () => dedupe.check("evt_race")));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("refuses an empty or absurd id as misuse", async () => {
    const { dedupe } = fresh();
    await expect(dedupe.check("")).rejects.toThrow(/dedupe id/);
    await expect(dedupe.check("x".repeat(1025))).rejects.toThrow(/dedupe id/);
  });
});

describe("createDeduper: details", () => {
  it("memory: bounded by maxEntries, evicting the oldest first", async () => {
    const dedupe = createDeduper({ ttlMs: 60_000, maxEntries: 3 });
    for (const id of ["a", "b", "c", "d"]) expect(await dedupe.check(id)).toBe(true);
    expect(await dedupe.check("d")).toBe(false);
    expect(await dedupe.check("c")).toBe(false);
    expect(await dedupe.check("a")).toBe(true); // evicted to make room for d
  });

  it("sqlite: ids live in the store's documents, so a second deduper (another process) sees them", async () => {
    const namespace = "receive.dedupe.shared";
    const first = createDeduper({ ttlMs: 60_000, store, namespace });
    const second = createDeduper({ ttlMs: 60_000, store, namespace });
    expect(await first.check("evt_shared")).toBe(true);
    expect(await second.check("evt_shared")).toBe(false);
    const document = await store.getDocument(namespace, "evt_shared");
    expect(JSON.parse(document?.value ?? "{}").expiresAt).toBeGreaterThan(Date.now());
  });

  it("sqlite: the default namespace is receive.dedupe and pruning runs by itself once per ttl", async () => {
    let nowMs = 5_000_000;
    const dedupe = createDeduper({ ttlMs: 10_000, store, now: () => nowMs });
    expect(await dedupe.check("evt_default")).toBe(true);
    expect(await store.getDocument("receive.dedupe", "evt_default")).not.toBeNull();
    nowMs += 10_000;
    expect(await dedupe.check("evt_other")).toBe(true);
    expect(await store.getDocument("receive.dedupe", "evt_default")).toBeNull();
  });

  it("sqlite: an expired id left in the store (not pruned yet) is taken over by the next check", async () => {
    let nowMs = 9_000_000;
    const options = { ttlMs: 60_000, store, namespace: "receive.dedupe.takeover", now: () => nowMs };
    expect(await createDeduper(options).check("evt_stale")).toBe(true);
    nowMs += 50_000;
    const later = createDeduper(options); // its first prune is a ttl away
    nowMs += 10_000;
    expect(await store.getDocument("receive.dedupe.takeover", "evt_stale")).not.toBeNull();
    expect(await later.check("evt_stale")).toBe(true);
    expect(await later.check("evt_stale")).toBe(false);
  });

  it("fits the Store contract structurally", () => {
    const fits: DedupeDocumentStore = store;
    expect(typeof fits.putDocument).toBe("function");
  });

  it("refuses a missing or non-positive ttl and a bad maxEntries", () => {
    expect(() => createDeduper({ ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => createDeduper({} as never)).toThrow(/ttlMs/);
    expect(() => createDeduper({ ttlMs: 1, maxEntries: 0 })).toThrow(/maxEntries/);
  });
});

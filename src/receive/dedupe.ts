import { systemClock } from "../core/clock.js";
import { ConfigurationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";

/**
 * The part of hookline's Store a deduper needs: its small-documents API.
 * `SqliteStore`, `PostgresStore` and the memory store all fit; declared here
 * so receive/ does not depend on the store layer.
 */
export interface DedupeDocumentStore {
  putDocument(
    document: { namespace: string; key: string; value: string; createdAt: number; updatedAt: number },
    options?: { onlyIfAbsent?: boolean },
  ): Promise<boolean>;
  getDocument(namespace: string, key: string): Promise<{ key: string; value: string } | null>;
  deleteDocument(namespace: string, key: string): Promise<boolean>;
  listDocuments(
    namespace: string,
    options: { limit?: number; cursor?: string },
  ): Promise<{ data: Array<{ key: string; value: string }>; nextCursor: string | null }>;
}

export interface DeduperOptions {
  /** How long an id is remembered; a repeat within this window is a duplicate. */
  ttlMs: number;
  /** Remember ids in this store (shared by processes on the same database) instead of in memory. */
  store?: DedupeDocumentStore;
  /** The store's document namespace. Default "receive.dedupe". */
  namespace?: string;
  /** Memory only: ids kept before the oldest are evicted early. Default 100,000. */
  maxEntries?: number;
  /** Source of "now" in milliseconds; `Date.now` by default. */
  now?: () => number;
}

/** A replay guard keyed by webhook id. */
export interface Deduper {
  /** True the first time `id` is seen within the ttl (process it), false for a repeat (skip it). */
  check(id: string): Promise<boolean>;
  /** Forgets `id`, so that a redelivery is processed again (call it when handling failed). */
  forget(id: string): Promise<void>;
  /** Deletes expired ids now; returns how many. Also runs by itself, at most once per ttl. */
  prune(): Promise<number>;
}

const PRUNE_PAGE = 200;

function validId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0 || id.length > 1024) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "a dedupe id must be a string of 1–1024 characters");
  }
  return id;
}

function expiresAt(value: string): number {
  try {
    const parsed = JSON.parse(value) as { expiresAt?: unknown };
    return typeof parsed.expiresAt === "number" ? parsed.expiresAt : 0;
  } catch {
    return 0;
  }
}

class MemoryDeduper implements Deduper {
  // Insertion order is expiry order (one ttl for all), so the oldest entry is first.
  readonly #expiries = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(ttlMs: number, maxEntries: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  async check(id: string): Promise<boolean> {
    validId(id);
    const now = this.#now();
    this.#pruneUntil(now);
    const expiry = this.#expiries.get(id);
    if (expiry !== undefined && expiry > now) return false;
    this.#expiries.delete(id);
    while (this.#expiries.size >= this.#maxEntries) {
      const oldest = this.#expiries.keys().next().value;
      if (oldest === undefined) break;
      this.#expiries.delete(oldest);
    }
    this.#expiries.set(id, now + this.#ttlMs);
    return true;
  }

  async forget(id: string): Promise<void> {
    this.#expiries.delete(id);
  }

  async prune(): Promise<number> {
    return this.#pruneUntil(this.#now());
  }

  #pruneUntil(now: number): number {
    let pruned = 0;
    for (const [id, expiry] of this.#expiries) {
      if (expiry > now) break;
      this.#expiries.delete(id);
      pruned++;
    }
    return pruned;
  }
}

class StoreDeduper implements Deduper {
  readonly #store: DedupeDocumentStore;
  readonly #namespace: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #nextPruneAt: number;

  constructor(store: DedupeDocumentStore, namespace: string, ttlMs: number, now: () => number) {
    this.#store = store;
    this.#namespace = namespace;
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#nextPruneAt = now() + ttlMs;
  }

  async check(id: string): Promise<boolean> {
    validId(id);
    const now = this.#now();
    if (now >= this.#nextPruneAt) {
      this.#nextPruneAt = now + Math.max(this.#ttlMs, 1000);
      await this.prune();
    }
    const document = {
      namespace: this.#namespace,
      key: id,
      value: JSON.stringify({ expiresAt: now + this.#ttlMs }),
      createdAt: now,
      updatedAt: now,
    };
    // The insert is the atomic claim: of two concurrent first deliveries one wins.
    if (await this.#store.putDocument(document, { onlyIfAbsent: true })) return true;
    const existing = await this.#store.getDocument(this.#namespace, id);
    if (existing !== null && expiresAt(existing.value) > now) return false;
    // Expired: take it over. Two racers both delete, but only one insert succeeds.
    await this.#store.deleteDocument(this.#namespace, id);
    return this.#store.putDocument(document, { onlyIfAbsent: true });
  }

  async forget(id: string): Promise<void> {
    await this.#store.deleteDocument(this.#namespace, validId(id));
  }

  async prune(): Promise<number> {
    const now = this.#now();
    let pruned = 0;
    let cursor: string | undefined;
    do {
      const page = await this.#store.listDocuments(this.#namespace, { limit: PRUNE_PAGE, cursor });
      for (const document of page.data) {
        if (expiresAt(document.value) <= now && (await this.#store.deleteDocument(this.#namespace, document.key))) {
          pruned++;
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return pruned;
  }
}

/**
 * A replay guard for verified webhooks, keyed by their id: `check(id)` is
 * true the first time and false for a repeat within `ttlMs`. In memory by
 * default (bounded by `maxEntries`, oldest evicted first); with `store`, the
 * ids live in the Store's documents (namespace "receive.dedupe"), so several
 * processes on one SQLite file or PostgreSQL database share them. Expired ids
 * are pruned as it goes. Pick a ttl longer than the sender's retry window
 * and the signature tolerance.
 *
 * @example
 * const dedupe = createDeduper({ ttlMs: 24 * 3_600_000, store: sqliteStore({ path: "./inbox.db" }) });
 * const event = verifyWebhook("github", { secret, body, headers });
 * if (event.id !== null && !(await dedupe.check(event.id))) return; // already handled
 */
export function createDeduper(options: DeduperOptions): Deduper {
  const ttlMs = options?.ttlMs;
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "ttlMs must be a number > 0");
  }
  const now = options.now ?? systemClock.now;
  if (options.store !== undefined) {
    const namespace = options.namespace ?? "receive.dedupe";
    if (typeof namespace !== "string" || namespace.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "namespace must be a non-empty string");
    }
    return new StoreDeduper(options.store, namespace, ttlMs, now);
  }
  const maxEntries = options.maxEntries ?? DEFAULTS.dedupeMaxEntries;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "maxEntries must be an integer ≥ 1");
  }
  return new MemoryDeduper(ttlMs, maxEntries, now);
}

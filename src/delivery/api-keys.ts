import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { NotFoundError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Page, PageOptions, Store } from "../store/store.js";
import { ReadCache } from "./read-cache.js";

const NAMESPACE = "api_key";
const TOKEN_PREFIX = "hl_";

/** A stored API key: never the token itself, only its SHA-256. */
export interface ApiKey {
  id: string;
  /** Null for an admin key (every app); else the one app it may see. */
  appId: string | null;
  name: string;
  createdAt: number;
  /** When the key stops working (epoch ms); absent for a key that never expires. */
  expiresAt?: number;
  /** A key that may only read (customer portal links opened read-only). */
  readOnly?: boolean;
}

const hashOf = (token: string): string => createHash("sha256").update(token).digest("hex");

/**
 * API keys for the HTTP service, kept as SHA-256 hashes in the store. A
 * token is shown once, when it is created; verification hashes the presented
 * token, looks the hash up, and compares it in constant time.
 */
export class ApiKeys {
  readonly #store: Store;
  readonly #clock: Clock;
  /**
   * Known keys by token hash, so a request costs no read (see ReadCache): a key deleted through
   * this process stops working at once, through another process within `readCacheTtlMs`. Tokens
   * that match no key are not kept.
   */
  readonly #known: ReadCache<ApiKey | null>;

  constructor(store: Store, clock: Clock, readCacheTtlMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#known = new ReadCache(readCacheTtlMs, { keep: (key) => key !== null });
  }

  /** Creates a key (admin when `appId` is null) and returns its token: store it, it is not kept. */
  async create(options: {
    appId: string | null;
    name?: string;
    token?: string;
    /** The key stops working this long after it is created; absent: never. */
    expiresInMs?: number;
    readOnly?: boolean;
  }): Promise<{ key: ApiKey; token: string }> {
    const now = this.#clock.now();
    const token = options.token ?? TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const key: ApiKey = {
      id: newId("key", now),
      appId: options.appId,
      name: options.name ?? "",
      createdAt: now,
      ...(options.expiresInMs !== undefined && { expiresAt: now + options.expiresInMs }),
      ...(options.readOnly === true && { readOnly: true }),
    };
    await this.#store.putDocument({
      namespace: NAMESPACE,
      key: hashOf(token),
      value: JSON.stringify(key),
      createdAt: now,
      updatedAt: now,
    });
    // A token given by the caller may replace the key it named before.
    this.#known.clear();
    return { key, token };
  }

  /** Whether `key` has expired (it is still returned by verify(), so callers can say so). */
  isExpired(key: ApiKey): boolean {
    return key.expiresAt !== undefined && key.expiresAt <= this.#clock.now();
  }

  /** The key a bearer token belongs to, or null. */
  async verify(token: string): Promise<ApiKey | null> {
    if (typeof token !== "string" || token.length === 0 || token.length > 512) return null;
    const hash = hashOf(token);
    const key = await this.#known.get(hash, async () => {
      const document = await this.#store.getDocument(NAMESPACE, hash);
      if (!document || !timingSafeEqual(Buffer.from(document.key, "hex"), Buffer.from(hash, "hex"))) return null;
      return JSON.parse(document.value) as ApiKey;
    });
    return key === null ? null : { ...key };
  }

  /** Every key (without tokens), in hash order. */
  async list(options: PageOptions = {}): Promise<Page<ApiKey>> {
    const page = await this.#store.listDocuments(NAMESPACE, options);
    return { data: page.data.map((d) => JSON.parse(d.value) as ApiKey), nextCursor: page.nextCursor };
  }

  /** Whether any admin key exists (a first start creates one). */
  async hasAdminKey(): Promise<boolean> {
    for await (const { key } of this.#all()) if (key.appId === null) return true;
    return false;
  }

  async delete(id: string): Promise<void> {
    const removed = await this.#deleteWhere((key) => key.id === id);
    if (removed === 0) throw new NotFoundError(`API key ${JSON.stringify(id)} not found`);
  }

  /** Revokes every key of an app (when the app is deleted); resolves with how many. */
  deleteForApp(appId: string): Promise<number> {
    return this.#deleteWhere((key) => key.appId === appId);
  }

  async #deleteWhere(matches: (key: ApiKey) => boolean): Promise<number> {
    const doomed: string[] = [];
    for await (const { hash, key } of this.#all()) if (matches(key)) doomed.push(hash);
    try {
      for (const hash of doomed) await this.#store.deleteDocument(NAMESPACE, hash);
    } finally {
      this.#known.clear();
    }
    return doomed.length;
  }

  /** Every stored key with the hash it is filed under, page by page. */
  async *#all(): AsyncGenerator<{ hash: string; key: ApiKey }> {
    let cursor: string | undefined;
    do {
      const page = await this.#store.listDocuments(NAMESPACE, { limit: 250, ...(cursor && { cursor }) });
      for (const d of page.data) yield { hash: d.key, key: JSON.parse(d.value) as ApiKey };
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }
}

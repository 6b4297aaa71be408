/**
 * Reads the engine repeats for every request or message — an app, an API
 * key, an app's enabled endpoints, an event type's schema — kept per process
 * for a short while. Writes made through this process clear it at once;
 * writes made by another process (a second `serve` on the same database, the
 * CLI) are seen within `ttlMs`. A TTL of 0 keeps nothing. Concurrent reads of
 * one key share one load, and a failed load is not kept. `keep` decides which
 * loaded values stay (e.g. only found rows, so made-up keys in requests fill
 * nothing), and at most `maxEntries` stay: past that the cache starts over.
 */
export class ReadCache<T> {
  readonly #ttlMs: number;
  readonly #keep: (value: T) => boolean;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { value: Promise<T>; expiresAt: number }>();

  constructor(ttlMs: number, options: { keep?: (value: T) => boolean; maxEntries?: number } = {}) {
    this.#ttlMs = ttlMs;
    this.#keep = options.keep ?? (() => true);
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.#ttlMs <= 0) return load();
    const now = performance.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > now) return entry.value;
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    const value = load();
    this.#entries.set(key, { value, expiresAt: now + this.#ttlMs });
    const forget = () => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    };
    value.then((loaded) => {
      if (!this.#keep(loaded)) forget();
    }, forget);
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}

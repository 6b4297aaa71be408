/**
 * Reads that `send()` repeats for every message — an app's enabled endpoints,
 * an event type's schema — kept per process for a short while. Writes made
 * through this process clear it at once; writes made by another process (a
 * second `serve` on the same PostgreSQL) are seen within `ttlMs`. A TTL of 0
 * keeps nothing. Concurrent reads of one key share one load, and a failed
 * load is not kept.
 */
export class ReadCache<T> {
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { value: Promise<T>; expiresAt: number }>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.#ttlMs <= 0) return load();
    const now = performance.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > now) return entry.value;
    const value = load();
    this.#entries.set(key, { value, expiresAt: now + this.#ttlMs });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}

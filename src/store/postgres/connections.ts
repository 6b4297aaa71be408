import type { ClientConfig, Pool, PoolClient, QueryResult, QueryResultRow } from "pg";
import { closedError, MAX_TRANSACTION_TRIES, type Row } from "./sql.js";

export type PgModule = typeof import("pg").default;

/** Deadlock and serialization failures: the transaction was rolled back and may simply run again. */
const RETRYABLE_CODES = new Set(["40P01", "40001"]);

// The driver is loaded on first use, so importing hookline never loads pg for apps that do not use it.
let pgModule: Promise<PgModule> | undefined;
export function loadPg(): Promise<PgModule> {
  pgModule ??= import("pg").then((m) => m.default);
  return pgModule;
}

/** BIGINT columns are millisecond times and counts, far below 2^53: numbers, not strings. Per pool, never global. */
function bigintAsNumberTypes(pg: PgModule): NonNullable<ClientConfig["types"]> {
  const parseBigint = (value: string): number => Number(value);
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === 20 && (format ?? "text") === "text"
        ? parseBigint
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
}

/**
 * The PostgreSQL store's connections: its pool (created on first use, or the
 * caller's), queries, transactions, and the settings of the LISTEN client,
 * which must not come from the pool. Every call fails once the store is
 * closing.
 */
export class PgConnections {
  readonly #options: { connectionString?: string; pool?: Pool; maxConnections: number };
  readonly #isClosing: () => boolean;
  #pool: Promise<Pool> | undefined;

  constructor(options: { connectionString?: string; pool?: Pool; maxConnections: number }, isClosing: () => boolean) {
    this.#options = options;
    this.#isClosing = isClosing;
  }

  get closing(): boolean {
    return this.#isClosing();
  }

  pool(): Promise<Pool> {
    if (this.#isClosing()) return Promise.reject(closedError());
    this.#pool ??= this.#options.pool
      ? Promise.resolve(this.#options.pool)
      : loadPg().then((pg) => {
          const pool = new pg.Pool({
            connectionString: this.#options.connectionString,
            max: this.#options.maxConnections,
            application_name: "hookline",
            types: bigintAsNumberTypes(pg),
          });
          // An idle client that loses its connection is dropped by the pool; without a listener the error would crash the app.
          pool.on("error", () => {});
          return pool;
        });
    return this.#pool;
  }

  async query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    const pool = await this.pool();
    return pool.query<R>(text, values);
  }

  /**
   * Runs `fn` inside BEGIN … COMMIT on one pooled client; `begin` may add
   * SET LOCAL statements, sent in the same round trip. Runs it again after a
   * deadlock when `retry` is set.
   */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>, { retry = false, begin = "BEGIN" } = {}): Promise<T> {
    const pool = await this.pool();
    for (let tries = 1; ; tries++) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query(begin);
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        if (retry && tries < MAX_TRANSACTION_TRIES && RETRYABLE_CODES.has(errorCode(error))) continue;
        throw error;
      } finally {
        client.release(broken);
      }
    }
  }

  /** Connection settings for the LISTEN client. */
  listenConfig(pg: PgModule): ClientConfig {
    const base: ClientConfig =
      this.#options.connectionString !== undefined
        ? { connectionString: this.#options.connectionString }
        : this.#options.pool
          ? // pg-pool keeps the password non-enumerable: copy it by name.
            { ...this.#options.pool.options, password: this.#options.pool.options.password }
          : {};
    return { ...base, application_name: "hookline-listen", types: bigintAsNumberTypes(pg) };
  }

  /** Ends the pool this created; a pool passed in stays open. */
  async end(): Promise<void> {
    const pool = this.#pool;
    if (pool && !this.#options.pool) await (await pool.catch(() => undefined))?.end();
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

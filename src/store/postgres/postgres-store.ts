import { createHash } from "node:crypto";
import type { ClientConfig, Pool, PoolClient, QueryResult, QueryResultRow } from "pg";
import { ConfigurationError } from "../../core/errors.js";
import {
  assertKeysKnown,
  type ColumnCodec,
  columnCodec,
  type EncryptionKeyOptions,
  encryptionKeyIdsSql,
  reencrypted,
  sealedDocumentsSql,
} from "../codec.js";
import { LeaseOnInsert } from "../lease-on-insert.js";
import { pageLimit, pageOrder, toPage } from "../paging.js";
import { hasPayloadSql, retentionSql } from "../sql/retention.js";
import {
  APP_COLUMNS,
  ATTEMPT_COLUMNS,
  appToRow,
  attemptToRow,
  DELIVERY_COLUMNS,
  deliveryToRow,
  ENDPOINT_COLUMNS,
  endpointPatchColumns,
  endpointToRow,
  MESSAGE_COLUMNS,
  messageToRow,
  rowToApp,
  rowToAttempt,
  rowToDelivery,
  rowToDocument,
  rowToEndpoint,
  rowToMessage,
  rowToWorker,
} from "../sql/rows.js";
import { MIGRATIONS } from "../sql/schema.js";
import type {
  AppRecord,
  AttemptFilter,
  AttemptRecord,
  ClaimedDelivery,
  ClaimOptions,
  Completion,
  CompletionEffects,
  DeliveryCountFilter,
  DeliveryFilter,
  DeliveryRecord,
  DeliveryStatus,
  DocumentRecord,
  EndpointPatch,
  EndpointRecord,
  InsertMessageResult,
  InsertOptions,
  MessageFilter,
  MessageRecord,
  Page,
  PageOptions,
  Store,
  WorkerRecord,
} from "../store.js";
import { ATTEMPT_SQL_TYPES, DELIVERY_SQL_TYPES, placeholders, Where } from "./sql.js";
import { WakeSubscription } from "./wake-subscription.js";

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions extends EncryptionKeyOptions {
  /** `postgres://user@host:5432/db`; ignored for queries when `pool` is given (still used by `onWake` if set). */
  connectionString?: string;
  /** A pool the caller owns: the store uses it and never closes it. */
  pool?: Pool;
  /** Schema that holds every table; created by `migrate()`. Letters, digits and `_` only. */
  schema?: string;
  /** Size of the pool the store creates (not used with `pool`). */
  maxConnections?: number;
}

type PgModule = typeof import("pg").default;
type Row = Record<string, unknown>;
/** What the store needs of a connection: the pool, one of its clients, or the caller's client. */
interface Queryable {
  query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

const DEFAULT_SCHEMA = "hookline";
const DEFAULT_MAX_CONNECTIONS = 10;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** PostgreSQL identifiers (and so NOTIFY channels) are at most 63 bytes. */
const MAX_IDENTIFIER_LENGTH = 63;
/** Candidate rows fetched per claimed row, so the per-endpoint cap can skip some without another query. */
const CLAIM_WINDOW_FACTOR = 4;
/** Deadlock and serialization failures: the transaction was rolled back and may simply run again. */
const RETRYABLE_CODES = new Set(["40P01", "40001"]);
const MAX_TRANSACTION_TRIES = 3;
/** Most sends written by one group insert (each message takes one parameter per column). */
const MAX_GROUP_INSERT = 200;

interface QueuedInsert {
  message: MessageRecord;
  deliveries: DeliveryRecord[];
  claim: ClaimOptions | undefined;
  resolve(result: InsertMessageResult): void;
  reject(error: unknown): void;
}
/**
 * Planner settings for the two hot transactions, for them only (SET LOCAL).
 * The queue's rows change status constantly, so its indexes hold many entries
 * of dead row versions until vacuum runs. Plain index scans mark those entries
 * dead as they pass and skip them next time; bitmap scans never do, and
 * revisit them all on every claim (measured: 16 ms for the live-lease counts
 * of 100 endpoints with bitmap scans, 1.1 ms with index scans). The claim must
 * also walk the due index in order and stop after the window: with stale or
 * missing statistics (a table filled in a burst, or autovacuum off) the
 * planner fetched every due row and sorted them instead, 115 ms for 90 k due
 * rows instead of 2 ms. Forbidding the sort leaves only the ordered scan.
 * The claim still sorts its few candidates (per endpoint, to fit the cap),
 * and a forbidden sort's cost estimate is huge: enough to make PostgreSQL
 * compile the statement with JIT, 575 ms every time. JIT never pays off on
 * these small statements, so it is off for both.
 */
const CLAIM_BEGIN = "BEGIN; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL jit = off";
const COMPLETE_BEGIN = "BEGIN; SET LOCAL enable_bitmapscan = off";

// The driver is loaded on first use, so importing hookline never loads pg for apps that do not use it.
let pgModule: Promise<PgModule> | undefined;
function loadPg(): Promise<PgModule> {
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

const list = (columns: readonly string[]) => columns.join(", ");

/**
 * The PostgreSQL store: several worker processes on several machines share
 * one database. Workers claim due deliveries with `FOR UPDATE SKIP LOCKED`
 * under a lease, completions are written in batches, and `insertMessage` can
 * join the caller's transaction (the transactional outbox) and wakes workers
 * with `NOTIFY` when it commits. Every table lives in one schema, named in
 * every statement, so the caller's `search_path` never matters. Create it with
 * {@link postgresStore}.
 */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  /** The schema that holds the tables. */
  readonly schema: string;
  /** The NOTIFY channel `insertMessage` signals and `onWake` listens on. */
  readonly channel: string;

  readonly #options: PostgresStoreOptions;
  readonly #maxConnections: number;
  readonly #codec: ColumnCodec;
  readonly #t: Record<
    "apps" | "endpoints" | "messages" | "deliveries" | "attempts" | "documents" | "workers" | "migrations",
    string
  >;
  readonly #wakeSubscriptions = new Set<WakeSubscription>();
  /** Sends waiting for the next group insert (see `insertMessage`). */
  #insertQueue: QueuedInsert[] = [];
  #insertFlushes = new Set<Promise<void>>();
  /** Inserts of messages with ordered deliveries, chained so they commit in send order. */
  #orderedInserts: Promise<void> = Promise.resolve();
  #pool: Promise<Pool> | undefined;
  #closing: Promise<void> | undefined;
  #retentionSql: ReturnType<typeof retentionSql> | undefined;
  #claimText: string | undefined;

  constructor(options: PostgresStoreOptions = {}) {
    const schema = options.schema ?? DEFAULT_SCHEMA;
    if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        `schema must be 1–63 letters, digits or underscores, not starting with a digit; got ${JSON.stringify(schema)}`,
      );
    }
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "maxConnections must be a positive integer");
    }
    this.schema = schema;
    this.#options = options;
    this.#maxConnections = maxConnections;
    this.#codec = columnCodec(options);
    const s = `"${schema}"`;
    this.#t = {
      apps: `${s}.apps`,
      endpoints: `${s}.endpoints`,
      messages: `${s}.messages`,
      deliveries: `${s}.deliveries`,
      attempts: `${s}.attempts`,
      documents: `${s}.documents`,
      workers: `${s}.workers`,
      migrations: `${s}.schema_migrations`,
    };
    const channel = `hookline_wake_${schema}`;
    this.channel =
      channel.length <= MAX_IDENTIFIER_LENGTH
        ? channel
        : `hookline_wake_${createHash("sha256").update(schema).digest("hex").slice(0, 40)}`;
  }

  // ---- connections -------------------------------------------------------

  #getPool(): Promise<Pool> {
    if (this.#closing) return Promise.reject(closedError());
    this.#pool ??= this.#options.pool
      ? Promise.resolve(this.#options.pool)
      : loadPg().then((pg) => {
          const pool = new pg.Pool({
            connectionString: this.#options.connectionString,
            max: this.#maxConnections,
            application_name: "hookline",
            types: bigintAsNumberTypes(pg),
          });
          // An idle client that loses its connection is dropped by the pool; without a listener the error would crash the app.
          pool.on("error", () => {});
          return pool;
        });
    return this.#pool;
  }

  async #query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    const pool = await this.#getPool();
    return pool.query<R>(text, values);
  }

  /**
   * Runs `fn` inside BEGIN … COMMIT on one pooled client; `begin` may add
   * SET LOCAL statements, sent in the same round trip. Runs it again after a
   * deadlock when `retry` is set.
   */
  async #transaction<T>(fn: (client: PoolClient) => Promise<T>, { retry = false, begin = "BEGIN" } = {}): Promise<T> {
    const pool = await this.#getPool();
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

  /** Connection settings for the LISTEN client, which must not come from the pool. */
  #listenConfig(pg: PgModule): ClientConfig {
    const base: ClientConfig =
      this.#options.connectionString !== undefined
        ? { connectionString: this.#options.connectionString }
        : this.#options.pool
          ? // pg-pool keeps the password non-enumerable: copy it by name.
            { ...this.#options.pool.options, password: this.#options.pool.options.password }
          : {};
    return { ...base, application_name: "hookline-listen", types: bigintAsNumberTypes(pg) };
  }

  // ---- lifecycle ---------------------------------------------------------

  async migrate(): Promise<void> {
    const lockKey = createHash("sha256")
      .update(`hookline.migrate:${this.schema}`)
      .digest()
      .readBigInt64BE(0)
      .toString();
    await this.#transaction(async (client) => {
      // Serialises concurrent migrations of this schema across processes; released at COMMIT.
      await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      // The shared migrations name tables unqualified; SET LOCAL ends with this transaction.
      await client.query(`SET LOCAL search_path TO "${this.schema}"`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#t.migrations} (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
      );
      const applied = await client.query<{ version: number }>(`SELECT version FROM ${this.#t.migrations}`);
      const done = new Set(applied.rows.map((r) => Number(r.version)));
      for (const migration of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
        if (done.has(migration.version)) continue;
        for (const statement of migration.statements) await client.query(statement);
        await client.query(`INSERT INTO ${this.#t.migrations} (version, applied_at) VALUES ($1, $2)`, [
          migration.version,
          Date.now(),
        ]);
      }
    });
    const keyIds = await this.#query<{ key_id: string }>(encryptionKeyIdsSql(this.#t.endpoints, this.#t.documents));
    assertKeysKnown(
      this.#codec,
      keyIds.rows.map((r) => r.key_id),
    );
  }

  /** The id of the key secrets are encrypted with; null when they are stored in clear. */
  get encryptionKeyId(): string | null {
    return this.#codec.mainKeyId;
  }

  async reencryptSecrets(batchSize = 100): Promise<number> {
    let changed = 0;
    let after = "";
    for (;;) {
      const { rows } = await this.#query<{ id: string; secrets: string; headers: string }>(
        `SELECT id, secrets, headers FROM ${this.#t.endpoints} WHERE id > $1 ORDER BY id LIMIT $2`,
        [after, batchSize],
      );
      for (const row of rows) {
        const secrets = reencrypted(this.#codec, row.secrets);
        const headers = reencrypted(this.#codec, row.headers);
        if (secrets === null && headers === null) continue;
        // Compare-and-set: a row another process changed meanwhile was written under its own main key; leave it.
        const updated = await this.#query(
          `UPDATE ${this.#t.endpoints} SET secrets = $2, headers = $3 WHERE id = $1 AND secrets = $4 AND headers = $5`,
          [row.id, secrets ?? row.secrets, headers ?? row.headers, row.secrets, row.headers],
        );
        changed += updated.rowCount ?? 0;
      }
      if (rows.length < batchSize) break;
      after = rows[rows.length - 1]?.id ?? after;
    }
    const sealed = await this.#query<{ namespace: string; key: string; value: string }>(
      sealedDocumentsSql(this.#t.documents),
    );
    for (const row of sealed.rows) {
      const value = reencrypted(this.#codec, row.value);
      if (value === null) continue;
      const updated = await this.#query(
        `UPDATE ${this.#t.documents} SET value = $3 WHERE namespace = $1 AND key = $2 AND value = $4`,
        [row.namespace, row.key, value, row.value],
      );
      changed += updated.rowCount ?? 0;
    }
    return changed;
  }

  seal(plain: string): string {
    return this.#codec.encode(plain);
  }

  unseal(stored: string): string {
    return this.#codec.decode(stored);
  }

  async ping(): Promise<void> {
    await this.#query("SELECT 1");
  }

  /** Ends the wake-up listeners and the pool the store created; a pool passed in stays open. Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#insertQueue.length > 0) this.#flushInserts();
      await Promise.all(this.#insertFlushes);
      await this.#orderedInserts;
      await Promise.all([...this.#wakeSubscriptions].map((s) => s.stop()));
      const pool = this.#pool;
      if (pool && !this.#options.pool) await (await pool.catch(() => undefined))?.end();
    })();
    return this.#closing;
  }

  async onWake(listener: () => void): Promise<() => Promise<void>> {
    if (this.#closing) throw closedError();
    const pg = await loadPg();
    const subscription = new WakeSubscription(pg, this.#listenConfig(pg), this.channel, listener, () =>
      this.#wakeSubscriptions.delete(subscription),
    );
    this.#wakeSubscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.stop();
      throw error;
    }
    if (this.#closing) {
      await subscription.stop();
      throw closedError();
    }
    return () => subscription.stop();
  }

  // ---- apps --------------------------------------------------------------

  async createApp(app: AppRecord): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#t.apps} (${list(APP_COLUMNS)}) VALUES (${placeholders(APP_COLUMNS.length)})`,
      appToRow(app),
    );
  }

  async getApp(idOrUid: string): Promise<AppRecord | null> {
    // An id match wins over a uid match, as in the memory store.
    const { rows } = await this.#query(
      `SELECT * FROM ${this.#t.apps} WHERE id = $1 OR uid = $1 ORDER BY (id = $1) DESC LIMIT 1`,
      [idOrUid],
    );
    return rows[0] ? rowToApp(rows[0]) : null;
  }

  async listApps(options: PageOptions): Promise<Page<AppRecord>> {
    return this.#page(this.#t.apps, new Where(), options, rowToApp);
  }

  async updateApp(
    id: string,
    patch: Partial<Pick<AppRecord, "uid" | "name" | "metadata">>,
    now: number,
  ): Promise<AppRecord | null> {
    const sets: Array<{ column: string; value: unknown }> = [];
    if (patch.uid !== undefined) sets.push({ column: "uid", value: patch.uid });
    if (patch.name !== undefined) sets.push({ column: "name", value: patch.name });
    if (patch.metadata !== undefined) sets.push({ column: "metadata", value: JSON.stringify(patch.metadata) });
    const row = await this.#update(this.#t.apps, id, sets, now);
    return row ? rowToApp(row) : null;
  }

  async deleteApp(id: string): Promise<boolean> {
    // Endpoints and messages cascade, and their deliveries and attempts with them.
    const result = await this.#query(`DELETE FROM ${this.#t.apps} WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  // ---- endpoints ---------------------------------------------------------

  async createEndpoint(endpoint: EndpointRecord): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#t.endpoints} (${list(ENDPOINT_COLUMNS)}) VALUES (${placeholders(ENDPOINT_COLUMNS.length)})`,
      endpointToRow(endpoint, this.#codec),
    );
  }

  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const { rows } = await this.#query(`SELECT * FROM ${this.#t.endpoints} WHERE id = $1`, [id]);
    return rows[0] ? rowToEndpoint(rows[0], this.#codec) : null;
  }

  async listEndpoints(options: PageOptions & { appId?: string }): Promise<Page<EndpointRecord>> {
    return this.#page(this.#t.endpoints, new Where().eq("app_id", options.appId), options, (r) =>
      rowToEndpoint(r, this.#codec),
    );
  }

  async updateEndpoint(id: string, patch: EndpointPatch, now: number): Promise<EndpointRecord | null> {
    const row = await this.#update(this.#t.endpoints, id, endpointPatchColumns(patch, this.#codec), now);
    return row ? rowToEndpoint(row, this.#codec) : null;
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    // Deliveries cascade, and their attempts with them.
    const result = await this.#query(`DELETE FROM ${this.#t.endpoints} WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async enabledEndpoints(appId: string): Promise<EndpointRecord[]> {
    // Ids sort by creation time, so this is creation order, as the memory store returns them.
    const { rows } = await this.#query(
      `SELECT * FROM ${this.#t.endpoints} WHERE app_id = $1 AND disabled = 0 ORDER BY id`,
      [appId],
    );
    return rows.map((r) => rowToEndpoint(r, this.#codec));
  }

  // ---- messages ----------------------------------------------------------

  /**
   * With `options.client`: one statement — the message (unless its event id
   * exists), its deliveries and a NOTIFY — that commits or rolls back with
   * the caller's transaction; listeners hear the NOTIFY only when it commits.
   * Otherwise a group commit: the sends made while the event loop was busy
   * are written by one statement, and each resolves once it is durable; when
   * that statement fails, each send is written on its own, so one bad
   * message fails alone.
   */
  async insertMessage(
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    options: InsertOptions = {},
  ): Promise<InsertMessageResult> {
    if (options.client !== undefined) return this.#insertOne(asQueryable(options.client), message, deliveries);
    if (this.#closing) throw closedError();
    return new Promise<InsertMessageResult>((resolve, reject) => {
      this.#insertQueue.push({ message, deliveries, claim: options.claim, resolve, reject });
      if (this.#insertQueue.length >= MAX_GROUP_INSERT) this.#flushInserts();
      else if (this.#insertQueue.length === 1) setImmediate(() => this.#flushInserts());
    });
  }

  #flushInserts(): void {
    const batch = this.#insertQueue.splice(0, MAX_GROUP_INSERT);
    if (batch.length === 0) return;
    const flush = this.#groupInsert(batch).finally(() => this.#insertFlushes.delete(flush));
    this.#insertFlushes.add(flush);
  }

  async #groupInsert(all: QueuedInsert[]): Promise<void> {
    let pool: Pool;
    try {
      pool = await this.#getPool();
    } catch (error) {
      for (const item of all) item.reject(error);
      return;
    }
    // Messages with ordered deliveries go one at a time, in send order (see #insertOrdered).
    const isOrdered = (item: QueuedInsert) => item.deliveries.some((d) => d.orderingKey !== undefined);
    for (const item of all.filter(isOrdered)) {
      this.#orderedInserts = this.#orderedInserts.then(() =>
        this.#insertOrdered(pool, item).then(
          (result) => item.resolve(item.claim ? { ...result, leased: [] } : result),
          item.reject,
        ),
      );
    }
    const batch = all.filter((item) => !isOrdered(item));
    if (batch.length === 0) return;
    let leases: LeaseOnInsert | null = null;
    try {
      leases = await this.#leasesFor(pool, batch);
      const created = await this.#insertMany(pool, batch);
      for (const item of batch) {
        if (created.has(item.message.id)) {
          const leased = item.claim ? item.deliveries.filter((d) => d.status === "sending").map((d) => d.id) : null;
          item.resolve({
            message: structuredClone(item.message),
            deliveryCount: item.deliveries.length,
            created: true,
            ...(leased && { leased }),
          });
        } else {
          // Its event id was taken (before, or by another message of this batch): this reports that
          // message, or writes this one after all if the other was deleted meanwhile.
          leases?.undo(item.deliveries);
          this.#insertOne(pool, item.message, item.deliveries).then(
            (result) => item.resolve(item.claim ? { ...result, leased: [] } : result),
            item.reject,
          );
        }
      }
    } catch {
      leases?.undo();
      // One by one, without leasing, so a bad message fails alone.
      for (const item of batch) {
        this.#insertOne(pool, item.message, item.deliveries).then(
          (result) => item.resolve(item.claim ? { ...result, leased: [] } : result),
          item.reject,
        );
      }
    }
  }

  /**
   * One message with deliveries to ordered endpoints, in a transaction of its
   * own: under its groups' locks, a delivery whose group has an unfinished one
   * is written parked (no due time) until that one is done with.
   */
  async #insertOrdered(pool: Pool, item: QueuedInsert): Promise<InsertMessageResult> {
    const ordered = item.deliveries.filter((d) => d.orderingKey !== undefined);
    const groups = ordered.map((d) => ({ e: d.endpointId, k: d.orderingKey ?? "" }));
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      await this.#lockGroups(client, groups);
      const { rows } = await client.query<{ e: string; k: string }>(
        `SELECT g.e, g.k FROM unnest($1::text[], $2::text[]) AS g(e, k)
         WHERE EXISTS (SELECT 1 FROM ${this.#t.deliveries} d WHERE d.endpoint_id = g.e AND d.ordering_key = g.k
                       AND d.status IN ('pending', 'sending'))`,
        [groups.map((g) => g.e), groups.map((g) => g.k)],
      );
      const busy = new Set(rows.map((r) => `${r.e}\n${r.k}`));
      for (const d of ordered) if (busy.has(`${d.endpointId}\n${d.orderingKey}`)) d.nextAttemptAt = null;
      const result = await this.#insertOne(client, item.message, item.deliveries);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Applies the batch's claims (`InsertOptions.claim`) to its deliveries, after one look at their endpoints' queues. */
  async #leasesFor(pool: Pool, batch: QueuedInsert[]): Promise<LeaseOnInsert | null> {
    const claims = batch.filter((item) => item.claim !== undefined);
    const first = claims[0]?.claim;
    if (first === undefined) return null;
    const endpointIds = [...new Set(claims.flatMap((item) => item.deliveries.map((d) => d.endpointId)))];
    const { rows } = await pool.query<{ id: string; waiting: boolean; live: number }>(
      `SELECT v.id,
         EXISTS (SELECT 1 FROM ${this.#t.deliveries} d WHERE d.endpoint_id = v.id
                 AND d.status IN ('pending', 'sending') AND d.next_attempt_at <= $2) AS waiting,
         (SELECT count(*) FROM ${this.#t.deliveries} s WHERE s.endpoint_id = v.id AND s.status = 'sending'
                 AND s.next_attempt_at + 0 > $2)::int AS live
       FROM unnest($1::text[]) AS v(id)`,
      [endpointIds, first.now],
    );
    const states = new Map(rows.map((r) => [r.id, { waiting: r.waiting, live: Number(r.live) }]));
    const leases = new LeaseOnInsert((endpointId) => states.get(endpointId) ?? { waiting: true, live: 0 });
    for (const item of claims) if (item.claim) leases.lease(item.deliveries, item.claim);
    return leases;
  }

  /** One statement for the whole batch; returns the ids of the messages it created. */
  async #insertMany(pool: Pool, batch: QueuedInsert[]): Promise<Set<string>> {
    const values: unknown[] = [];
    const messageRows = batch.map((item) => {
      const row = messageToRow(item.message);
      const first = values.length + 1;
      values.push(...row);
      return `(${placeholders(row.length, first)})`;
    });
    const deliveries = batch.flatMap((item) => item.deliveries.map(deliveryToRow));
    const first = values.length + 1;
    DELIVERY_COLUMNS.forEach((_, i) => {
      values.push(deliveries.map((r) => r[i]));
    });
    const arrays = DELIVERY_COLUMNS.map((c, i) => `$${first + i}::${DELIVERY_SQL_TYPES[c]}[]`).join(", ");
    values.push(this.channel);
    const { rows } = await pool.query<{ id: string }>(
      `WITH m AS (
         INSERT INTO ${this.#t.messages} (${list(MESSAGE_COLUMNS)}) VALUES ${messageRows.join(", ")}
         ON CONFLICT (app_id, event_id) DO NOTHING
         RETURNING id
       ), d AS (
         INSERT INTO ${this.#t.deliveries} (${list(DELIVERY_COLUMNS)})
         SELECT * FROM unnest(${arrays}) AS u(${list(DELIVERY_COLUMNS)})
         WHERE u.message_id IN (SELECT id FROM m)
       )
       SELECT m.id, pg_notify($${values.length}, '') FROM m`,
      values,
    );
    return new Set(rows.map((r) => r.id));
  }

  async #insertOne(
    target: Queryable,
    message: MessageRecord,
    deliveries: DeliveryRecord[],
  ): Promise<InsertMessageResult> {
    const values: unknown[] = messageToRow(message);
    const messageParams = placeholders(MESSAGE_COLUMNS.length);
    let deliveriesCte = "";
    if (deliveries.length > 0) {
      const rows = deliveries.map(deliveryToRow);
      const first = values.length + 1;
      DELIVERY_COLUMNS.forEach((_, i) => {
        values.push(rows.map((r) => r[i]));
      });
      const arrays = DELIVERY_COLUMNS.map((c, i) => `$${first + i}::${DELIVERY_SQL_TYPES[c]}[]`).join(", ");
      deliveriesCte = `, d AS (
        INSERT INTO ${this.#t.deliveries} (${list(DELIVERY_COLUMNS)})
        SELECT * FROM unnest(${arrays})
        WHERE EXISTS (SELECT 1 FROM m)
      )`;
    }
    values.push(this.channel);
    const insert = `WITH m AS (
        INSERT INTO ${this.#t.messages} (${list(MESSAGE_COLUMNS)}) VALUES (${messageParams})
        ON CONFLICT (app_id, event_id) DO NOTHING
        RETURNING id
      )${deliveriesCte}
      SELECT m.id, pg_notify($${values.length}, '') FROM m`;
    // A conflicting message deleted between the two statements makes the second find nothing: try again.
    for (let tries = 1; ; tries++) {
      const { rows } = await target.query<{ id: string }>(insert, values);
      if (rows.length > 0)
        return { message: structuredClone(message), deliveryCount: deliveries.length, created: true };
      const existing = await target.query(
        `SELECT m.*, (SELECT count(*) FROM ${this.#t.deliveries} d WHERE d.message_id = m.id)::int AS delivery_count
         FROM ${this.#t.messages} m WHERE m.app_id = $1 AND m.event_id = $2`,
        [message.appId, message.eventId],
      );
      const row = existing.rows[0];
      if (row) return { message: rowToMessage(row), deliveryCount: Number(row.delivery_count), created: false };
      if (tries >= MAX_TRANSACTION_TRIES) {
        throw new Error(`message ${message.appId}/${message.eventId} kept conflicting with one being deleted`);
      }
    }
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const { rows } = await this.#query(`SELECT * FROM ${this.#t.messages} WHERE id = $1`, [id]);
    return rows[0] ? rowToMessage(rows[0]) : null;
  }

  async listMessages(filter: MessageFilter): Promise<Page<MessageRecord>> {
    const where = new Where().eq("app_id", filter.appId);
    if (filter.eventTypes !== undefined && filter.eventTypes.length > 0) where.any("event_type", filter.eventTypes);
    if (filter.before !== undefined) where.raw("created_at <", filter.before);
    if (filter.after !== undefined) where.raw("created_at >", filter.after);
    return this.#page(this.#t.messages, where, filter, (r) => rowToMessage(r));
  }

  // ---- the work queue ----------------------------------------------------

  async claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit < 1 || options.perEndpointLimit < 1) return [];
    return this.#transaction((client) => this.#claim(client, options), { begin: CLAIM_BEGIN });
  }

  async #claim(client: PoolClient, options: ClaimOptions): Promise<ClaimedDelivery[]> {
    const { now, owner, leaseMs, limit, perEndpointLimit } = options;
    const excluded = new Set(options.excludeEndpointIds ?? []);
    const claimed: ClaimedDelivery[] = [];
    // The first window holds just enough rows when no cap skips any (the common case), so a claim
    // locks no more rows than it takes, in one round trip. If caps skip rows, later windows are
    // several times what is still wanted, looking further past capped endpoints, as the memory
    // store's full scan would. Rows leased by an earlier window are no longer due, and count as
    // live leases in the next window's counts (the transaction sees its own updates).
    let window = limit;
    for (;;) {
      const { rows } = await client.query(this.#claimSql, [
        now,
        [...excluded],
        window,
        perEndpointLimit,
        limit - claimed.length,
        owner,
        now + leaseMs,
      ]);
      const summary = rows[0] as { candidates: number; capped: string[] };
      for (const row of rows) {
        if (row.id === null) continue;
        claimed.push({
          delivery: rowToDelivery(row),
          message: rowToMessage(row, "m_"),
          endpoint: rowToEndpoint(row, this.#codec, "e_"),
        });
      }
      for (const id of summary.capped) excluded.add(id);
      if (claimed.length >= limit || Number(summary.candidates) < window) return claimed;
      window = (limit - claimed.length) * CLAIM_WINDOW_FACTOR;
    }
  }

  /**
   * One claim window as one statement: lock the oldest due rows (skipping
   * other workers' locks), count each of their endpoints' live leases, take
   * the rows that fit under the per-endpoint cap, oldest first, lease them,
   * and return them with their message and endpoint. The first row also
   * carries how many candidates the window found and which endpoints it
   * found at their cap; with nothing leased it is the only row.
   *
   * The endpoint check is a subquery, not a join: one primary-key lookup per
   * candidate, whatever the number of endpoints and whatever the planner
   * knows of them. The live-lease count goes per endpoint through the
   * (endpoint_id, status) index, so its cost follows the rows in flight;
   * `+ 0` keeps the planner off the due index, where `next_attempt_at > now`
   * would walk every lease and every retry scheduled for later.
   */
  get #claimSql(): string {
    if (this.#claimText !== undefined) return this.#claimText;
    const d = this.#t.deliveries;
    const endpointColumns = ENDPOINT_COLUMNS.map((c) => `e.${c} AS e_${c}`).join(", ");
    const messageColumns = MESSAGE_COLUMNS.map((c) => `m.${c} AS m_${c}`).join(", ");
    this.#claimText = `WITH cand AS MATERIALIZED (
         SELECT c.id, c.endpoint_id, c.next_attempt_at FROM ${d} c
         WHERE c.status IN ('pending', 'sending') AND c.next_attempt_at <= $1
           AND NOT (c.endpoint_id = ANY($2::text[]))
           AND (SELECT e.disabled FROM ${this.#t.endpoints} e WHERE e.id = c.endpoint_id) = 0
         ORDER BY c.next_attempt_at, c.id
         LIMIT $3
         FOR UPDATE OF c SKIP LOCKED
       ), busy AS MATERIALIZED (
         SELECT v.endpoint_id,
                (SELECT count(*) FROM ${d} s
                 WHERE s.endpoint_id = v.endpoint_id AND s.status = 'sending' AND s.next_attempt_at + 0 > $1)::int AS n
         FROM (SELECT DISTINCT endpoint_id FROM cand) v
       ), ranked AS MATERIALIZED (
         SELECT c.id, c.endpoint_id, c.next_attempt_at,
                b.n + row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at, c.id) AS slot
         FROM cand c JOIN busy b ON b.endpoint_id = c.endpoint_id
       ), pick AS MATERIALIZED (
         SELECT r.id, row_number() OVER (ORDER BY r.next_attempt_at, r.id) AS ord
         FROM ranked r WHERE r.slot <= $4
         ORDER BY r.next_attempt_at, r.id
         LIMIT $5
       ), u AS (
         UPDATE ${d} t SET status = 'sending', lease_owner = $6, next_attempt_at = $7, updated_at = $1
         FROM pick p WHERE t.id = p.id
         RETURNING t.*, p.ord
       )
       SELECT s.candidates, s.capped, x.* FROM (
         SELECT (SELECT count(*) FROM cand)::int AS candidates,
                ARRAY(SELECT DISTINCT endpoint_id FROM ranked WHERE slot > $4) AS capped
       ) s LEFT JOIN (
         SELECT u.*, ${endpointColumns}, ${messageColumns} FROM u
         JOIN ${this.#t.endpoints} e ON e.id = u.endpoint_id
         JOIN ${this.#t.messages} m ON m.id = u.message_id
       ) x ON true
       ORDER BY x.ord`;
    return this.#claimText;
  }

  async complete(
    completions: Completion[],
    now: number,
    disableAfterMs: number,
    claim?: ClaimOptions,
  ): Promise<CompletionEffects> {
    const claimToo = claim !== undefined && claim.limit >= 1 && claim.perEndpointLimit >= 1;
    if (completions.length === 0) {
      const effects: CompletionEffects = { failingEndpoints: [], disabledEndpoints: [], lostLeases: [] };
      return claimToo ? { ...effects, claimed: await this.claimDue(claim) } : effects;
    }
    return this.#transaction(
      async (client) => {
        const effects = await this.#complete(client, completions, now, disableAfterMs);
        if (claimToo) effects.claimed = await this.#claim(client, claim);
        return effects;
      },
      // The claim's planner settings are the stricter: they suit the completion's statements as well.
      { retry: true, begin: claimToo ? CLAIM_BEGIN : COMPLETE_BEGIN },
    );
  }

  async #complete(
    client: PoolClient,
    completions: Completion[],
    now: number,
    disableAfterMs: number,
  ): Promise<CompletionEffects> {
    // A delivery is leased to one owner, so of several completions for it only the first from that
    // owner can apply; every other one finds the lease gone, as in the memory store. Keeping one per
    // (delivery, owner) lets at most one row of the batch match each delivery.
    const seen = new Set<string>();
    const updates: Array<{ index: number; completion: Completion }> = [];
    completions.forEach((completion, index) => {
      const key = `${completion.deliveryId}\u0000${completion.owner}`;
      if (seen.has(key)) return;
      seen.add(key);
      updates.push({ index, completion });
    });
    const attemptRows = completions.map((c) => attemptToRow(c.attempt));
    const values: unknown[] = [
      now,
      updates.map((u) => u.index),
      updates.map((u) => u.completion.deliveryId),
      updates.map((u) => u.completion.owner),
      updates.map((u) => u.completion.status),
      updates.map((u) => u.completion.nextAttemptAt),
      updates.map((u) => u.completion.attempt.statusCode),
      updates.map((u) => u.completion.attempt.error),
      [...new Set(completions.map((c) => c.attempt.endpointId))],
    ];
    const firstAttemptParam = values.length + 1;
    ATTEMPT_COLUMNS.forEach((_, i) => {
      values.push(attemptRows.map((r) => r[i]));
    });
    const attemptArrays = ATTEMPT_COLUMNS.map((c, i) => `$${firstAttemptParam + i}::${ATTEMPT_SQL_TYPES[c]}[]`);
    // One statement: update the deliveries still leased to their owners, record every attempt (it
    // happened whatever became of the lease; skipped only if its delivery was deleted meanwhile,
    // which the foreign key demands), and read the endpoints' health.
    const { rows } = await client.query<{
      applied: number[];
      ordered: Array<{ e: string; k: string }>;
      endpoints: EndpointHealthJson[];
    }>(
      `WITH u AS (
         UPDATE ${this.#t.deliveries} d
         SET status = v.status, attempt_count = d.attempt_count + 1, next_attempt_at = v.next_attempt_at,
             lease_owner = NULL, next_trigger = 'scheduled', last_status_code = v.status_code,
             last_error = v.error, updated_at = $1
         FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::text[])
           AS v(ordinal, id, owner, status, next_attempt_at, status_code, error)
         WHERE d.id = v.id AND d.status = 'sending' AND d.lease_owner = v.owner
         RETURNING v.ordinal, d.endpoint_id, d.ordering_key, v.status
       ), a AS (
         INSERT INTO ${this.#t.attempts} (${list(ATTEMPT_COLUMNS)})
         SELECT * FROM unnest(${attemptArrays.join(", ")}) AS v(${list(ATTEMPT_COLUMNS)})
         WHERE EXISTS (SELECT 1 FROM ${this.#t.deliveries} x WHERE x.id = v.delivery_id)
         ON CONFLICT (id) DO NOTHING
       )
       SELECT
         ARRAY(SELECT ordinal FROM u) AS applied,
         (SELECT coalesce(json_agg(DISTINCT jsonb_build_object('e', endpoint_id, 'k', ordering_key)), '[]'::json)
          FROM u WHERE ordering_key IS NOT NULL AND status <> 'pending') AS ordered,
         (SELECT coalesce(json_agg(json_build_object('id', e.id, 'disabled', e.disabled,
                   'disabled_reason', e.disabled_reason, 'failing_since', e.failing_since)), '[]'::json)
          FROM ${this.#t.endpoints} e WHERE e.id = ANY($9::text[])) AS endpoints`,
      values,
    );
    const result = rows[0] ?? { applied: [], ordered: [], endpoints: [] };
    const applied = new Set(result.applied.map(Number));
    // Before any endpoint row is locked (an insert of the same group holds its group lock and waits
    // for no endpoint lock but its foreign key's), so the two lock orders cannot deadlock.
    if (result.ordered.length > 0) await this.#activateNext(client, result.ordered, now);
    const health = new Map(result.endpoints.map((e) => [e.id, healthFromJson(e)]));

    // Most batches change no endpoint, and then no endpoint row is locked. Otherwise lock the rows
    // that will change, in id order so concurrent batches cannot deadlock, and decide again on them.
    const toLock = applyHealth(completions, health, now, disableAfterMs).changed.map((h) => h.id);
    if (toLock.length > 0) {
      const locked = await client.query<EndpointHealthJson>(
        `SELECT id, disabled, disabled_reason, failing_since FROM ${this.#t.endpoints}
         WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
        [toLock.sort()],
      );
      for (const id of toLock) health.delete(id);
      for (const row of locked.rows) health.set(row.id, healthFromJson(row));
    }
    const { effects, changed } = applyHealth(completions, health, now, disableAfterMs);
    effects.lostLeases = completions.filter((_, index) => !applied.has(index)).map((c) => c.deliveryId);
    if (changed.length > 0) {
      await client.query(
        `UPDATE ${this.#t.endpoints} e
         SET disabled = v.disabled, disabled_reason = v.disabled_reason, failing_since = v.failing_since,
             updated_at = $1
         FROM unnest($2::text[], $3::int[], $4::text[], $5::bigint[]) AS v(id, disabled, disabled_reason, failing_since)
         WHERE e.id = v.id`,
        [
          now,
          changed.map((h) => h.id),
          changed.map((h) => (h.disabled ? 1 : 0)),
          changed.map((h) => h.disabledReason),
          changed.map((h) => h.failingSince),
        ],
      );
    }
    return effects;
  }

  async heartbeat(worker: WorkerRecord, deliveryIds: readonly string[], leaseUntil: number): Promise<void> {
    // One statement, so the registration and the extension commit together in one round trip.
    await this.#query(
      `WITH w AS (
         INSERT INTO ${this.#t.workers} (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
       )
       UPDATE ${this.#t.deliveries} SET next_attempt_at = $6
       WHERE id = ANY($7::text[]) AND status = 'sending' AND lease_owner = $1`,
      [worker.id, worker.host, worker.pid, worker.startedAt, worker.heartbeatAt, leaseUntil, [...deliveryIds]],
    );
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const { rows } = await this.#query(`SELECT * FROM ${this.#t.workers} ORDER BY started_at, id`);
    return rows.map(rowToWorker);
  }

  async releaseWorker(workerId: string, now: number): Promise<number> {
    const { rows } = await this.#query<{ n: number }>(
      `WITH w AS (DELETE FROM ${this.#t.workers} WHERE id = $1),
       r AS (
         UPDATE ${this.#t.deliveries}
         SET status = 'pending', lease_owner = NULL, next_attempt_at = created_at, updated_at = $2
         WHERE status = 'sending' AND lease_owner = $1
         RETURNING 1
       )
       SELECT count(*)::int AS n FROM r`,
      [workerId, now],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * The oldest delivery parked in each finished delivery's ordered group
   * becomes due. Under the groups' locks, taken in a fixed order, so an
   * insert into the same group either sees the finished one gone or is seen.
   */
  async #activateNext(client: Queryable, groups: Array<{ e: string; k: string }>, now: number): Promise<void> {
    await this.#lockGroups(client, groups);
    await client.query(
      `UPDATE ${this.#t.deliveries} d SET next_attempt_at = $1, updated_at = $1
       WHERE d.id IN (
         SELECT (SELECT p.id FROM ${this.#t.deliveries} p
                 WHERE p.endpoint_id = g.e AND p.ordering_key = g.k AND p.status IN ('pending', 'sending')
                   AND p.status = 'pending' AND p.next_attempt_at IS NULL
                 ORDER BY p.id LIMIT 1)
         FROM unnest($2::text[], $3::text[]) AS g(e, k))`,
      [now, groups.map((g) => g.e), groups.map((g) => g.k)],
    );
  }

  /** Transaction-scoped advisory locks on ordered groups, in one fixed order. */
  async #lockGroups(client: Queryable, groups: Array<{ e: string; k: string }>): Promise<void> {
    const keys = [...new Set(groups.map((g) => `${this.schema}\n${g.e}\n${g.k}`))].sort();
    await client.query(
      "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS t(key, n) ORDER BY n",
      [keys],
    );
  }

  async release(owner: string, deliveryIds: readonly string[], now: number): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.#query(
      `UPDATE ${this.#t.deliveries}
       SET status = 'pending', lease_owner = NULL, next_attempt_at = created_at, updated_at = $1
       WHERE id = ANY($2::text[]) AND status = 'sending' AND lease_owner = $3`,
      [now, [...deliveryIds], owner],
    );
  }

  async addDelivery(delivery: DeliveryRecord): Promise<void> {
    const values = [...deliveryToRow(delivery), this.channel];
    await this.#query(
      `WITH d AS (INSERT INTO ${this.#t.deliveries} (${list(DELIVERY_COLUMNS)})
         VALUES (${placeholders(DELIVERY_COLUMNS.length)}) RETURNING 1)
       SELECT pg_notify($${values.length}, '') FROM d`,
      values,
    );
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    const { rows } = await this.#query(`SELECT * FROM ${this.#t.deliveries} WHERE id = $1`, [id]);
    return rows[0] ? rowToDelivery(rows[0]) : null;
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Page<DeliveryRecord>> {
    const where = new Where()
      .eq("app_id", filter.appId)
      .eq("status", filter.status)
      .eq("endpoint_id", filter.endpointId)
      .eq("message_id", filter.messageId);
    return this.#page(this.#t.deliveries, where, filter, (r) => rowToDelivery(r));
  }

  async requeueDelivery(id: string, now: number): Promise<DeliveryRecord | null> {
    const { rows } = await this.#query(
      `UPDATE ${this.#t.deliveries}
       SET status = 'pending', next_attempt_at = $2, next_trigger = 'manual', updated_at = $2
       WHERE id = $1 AND status <> 'sending' AND ${hasPayloadSql(this.#t.messages, "deliveries")}
       RETURNING *`,
      [id, now],
    );
    return rows[0] ? rowToDelivery(rows[0]) : null;
  }

  async recoverEndpoint(endpointId: string, since: number, until: number, now: number): Promise<number> {
    const result = await this.#query(
      `UPDATE ${this.#t.deliveries}
       SET status = 'pending', next_attempt_at = $4, next_trigger = 'manual', updated_at = $4
       WHERE endpoint_id = $1 AND status = 'failed' AND updated_at >= $2 AND updated_at < $3
       AND ${hasPayloadSql(this.#t.messages, "deliveries")}`,
      [endpointId, since, until, now],
    );
    return result.rowCount ?? 0;
  }

  /** Retention statements with numbered placeholders. */
  get #retention(): ReturnType<typeof retentionSql> {
    this.#retentionSql ??= Object.fromEntries(
      Object.entries(retentionSql(this.#t, "postgres")).map(([key, sql]) => {
        let n = 0;
        return [key, sql.replace(/\?/g, () => `$${++n}`)];
      }),
    ) as ReturnType<typeof retentionSql>;
    return this.#retentionSql;
  }

  async expirePayloads(options: { before: number; now: number; limit: number }): Promise<number> {
    const own = await this.#query(this.#retention.expireOwn, [options.now, options.now, options.limit]);
    const expired = own.rowCount ?? 0;
    if (expired >= options.limit) return expired;
    const before = await this.#query(this.#retention.expireBefore, [
      options.now,
      options.before,
      options.limit - expired,
    ]);
    return expired + (before.rowCount ?? 0);
  }

  async deleteHistory(options: { before: number; limit: number }): Promise<number> {
    const result = await this.#query(this.#retention.deleteBefore, [options.before, options.limit]);
    return result.rowCount ?? 0;
  }

  async expungeMessage(id: string, now: number): Promise<"expunged" | "in_progress" | "not_found"> {
    const result = await this.#query(this.#retention.expungeOne, [now, id]);
    if (result.rowCount === 1) return "expunged";
    const exists = await this.#query(this.#retention.messageExists, [id]);
    return exists.rowCount === 0 ? "not_found" : "in_progress";
  }

  async listAttempts(filter: AttemptFilter): Promise<Page<AttemptRecord>> {
    const where = new Where()
      .eq("app_id", filter.appId)
      .eq("delivery_id", filter.deliveryId)
      .eq("message_id", filter.messageId)
      .eq("endpoint_id", filter.endpointId);
    return this.#page(this.#t.attempts, where, filter, rowToAttempt);
  }

  async nextDueAt(): Promise<number | null> {
    const { rows } = await this.#query<{ due: unknown }>(
      `SELECT min(next_attempt_at) AS due FROM ${this.#t.deliveries} WHERE status IN ('pending', 'sending')`,
    );
    const due = rows[0]?.due;
    return due === null || due === undefined ? null : Number(due);
  }

  // ---- documents ---------------------------------------------------------

  async putDocument(document: DocumentRecord, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    // A replaced document keeps its createdAt, as in the memory store.
    const onConflict = options.onlyIfAbsent
      ? "DO NOTHING"
      : "DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at";
    const result = await this.#query(
      `INSERT INTO ${this.#t.documents} (namespace, key, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (namespace, key) ${onConflict}`,
      [document.namespace, document.key, document.value, document.createdAt, document.updatedAt],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async getDocument(namespace: string, key: string): Promise<DocumentRecord | null> {
    const { rows } = await this.#query(`SELECT * FROM ${this.#t.documents} WHERE namespace = $1 AND key = $2`, [
      namespace,
      key,
    ]);
    return rows[0] ? rowToDocument(rows[0]) : null;
  }

  async deleteDocument(namespace: string, key: string): Promise<boolean> {
    const result = await this.#query(`DELETE FROM ${this.#t.documents} WHERE namespace = $1 AND key = $2`, [
      namespace,
      key,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async listDocuments(namespace: string, options: PageOptions): Promise<Page<DocumentRecord>> {
    const limit = pageLimit(options);
    // Keys are free text (`invoice.paid`): order them by code point, as the memory store does,
    // whatever the database's collation. A namespace holds few documents; the sort is cheap.
    const { rows } = await this.#query(
      `SELECT * FROM ${this.#t.documents}
       WHERE namespace = $1 AND ($2::text IS NULL OR key COLLATE "C" > $2)
       ORDER BY key COLLATE "C" LIMIT $3`,
      [namespace, options.cursor ?? null, limit + 1],
    );
    return toPage(rows.map(rowToDocument), limit, (d) => d.key);
  }

  async countDeliveries(filter: DeliveryCountFilter = {}): Promise<Record<DeliveryStatus, number>> {
    const where = new Where().eq("endpoint_id", filter.endpointId).eq("app_id", filter.appId);
    if (filter.since !== undefined) where.raw("created_at >=", filter.since);
    if (filter.until !== undefined) where.raw("created_at <", filter.until);
    const { rows } = await this.#query<{ status: DeliveryStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM ${this.#t.deliveries} ${where.sql()} GROUP BY status`,
      where.values,
    );
    const counts: Record<DeliveryStatus, number> = { pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 };
    for (const row of rows) if (row.status in counts) counts[row.status] = Number(row.n);
    return counts;
  }

  // ---- helpers -----------------------------------------------------------

  /** Newest first by id, after the cursor, with one extra row to tell whether another page exists. */
  async #page<T extends { id: string }>(
    table: string,
    where: Where,
    options: PageOptions,
    map: (row: Row) => T,
  ): Promise<Page<T>> {
    const limit = pageLimit(options);
    const { after, direction } = pageOrder(options);
    if (options.cursor !== undefined) where.raw(`id ${after}`, options.cursor);
    const values = [...where.values, limit + 1];
    const { rows } = await this.#query(
      `SELECT * FROM ${table} ${where.sql()} ORDER BY id ${direction} LIMIT $${values.length}`,
      values,
    );
    return toPage(rows.map(map), limit);
  }

  async #update(
    table: string,
    id: string,
    sets: Array<{ column: string; value: unknown }>,
    now: number,
  ): Promise<Row | null> {
    const assignments = sets.map((s, i) => `${s.column} = $${i + 3}`);
    assignments.push("updated_at = $2");
    const { rows } = await this.#query(`UPDATE ${table} SET ${assignments.join(", ")} WHERE id = $1 RETURNING *`, [
      id,
      now,
      ...sets.map((s) => s.value),
    ]);
    return rows[0] ?? null;
  }
}

/**
 * A PostgreSQL store. Call `migrate()` once at start-up (safe from several
 * processes at once). The store creates and owns its pool unless you pass
 * `pool`; `close()` ends only what it created.
 *
 * @example
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL, schema: "hookline" });
 * await store.migrate();
 * // The transactional outbox: the message commits or rolls back with your transaction.
 * await client.query("BEGIN");
 * await client.query("UPDATE orders SET paid = true WHERE id = $1", [orderId]);
 * await store.insertMessage(message, deliveries, { client });
 * await client.query("COMMIT");
 */
export function postgresStore(options: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore(options);
}

// ---- endpoint health -------------------------------------------------------

interface EndpointHealth {
  id: string;
  disabled: boolean;
  disabledReason: string | null;
  failingSince: number | null;
}

interface EndpointHealthJson {
  id: string;
  disabled: number | string;
  disabled_reason: string | null;
  failing_since: number | string | null;
}

function healthFromJson(row: EndpointHealthJson): EndpointHealth {
  return {
    id: row.id,
    disabled: Number(row.disabled) === 1,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since === null ? null : Number(row.failing_since),
  };
}

/**
 * Endpoint health after the batch, completion by completion in order,
 * exactly as the memory store applies it: a success ends a failing run; a
 * failure starts one (reported) if none is running; 410 disables the
 * endpoint, and so does a run older than `disableAfterMs` (reported once).
 */
function applyHealth(
  completions: readonly Completion[],
  before: ReadonlyMap<string, EndpointHealth>,
  now: number,
  disableAfterMs: number,
): { effects: CompletionEffects; changed: EndpointHealth[] } {
  const effects: CompletionEffects = { failingEndpoints: [], disabledEndpoints: [], lostLeases: [] };
  const state = new Map<string, EndpointHealth>();
  const changed = new Set<string>();
  for (const completion of completions) {
    const id = completion.attempt.endpointId;
    const known = state.get(id) ?? before.get(id);
    if (!known) continue;
    const endpoint = { ...known };
    state.set(id, endpoint);
    if (completion.endpointOutcome === "succeeded") {
      if (endpoint.failingSince !== null) {
        endpoint.failingSince = null;
        changed.add(id);
      }
      continue;
    }
    if (endpoint.failingSince === null) {
      endpoint.failingSince = now;
      changed.add(id);
      effects.failingEndpoints.push({ endpointId: id, failingSince: now });
    }
    if (endpoint.disabled) continue;
    const reason =
      completion.endpointOutcome === "gone" ? "gone" : now - endpoint.failingSince >= disableAfterMs ? "failing" : null;
    if (reason !== null) {
      endpoint.disabled = true;
      endpoint.disabledReason = reason;
      changed.add(id);
      effects.disabledEndpoints.push({ endpointId: id, reason });
    }
  }
  return { effects, changed: [...changed].map((id) => state.get(id) as EndpointHealth) };
}

function asQueryable(client: unknown): Queryable {
  if (typeof client !== "object" || client === null || typeof (client as Queryable).query !== "function") {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      "insertMessage: options.client must be a pg client (pg.Client or a pool's client) inside an open transaction",
    );
  }
  return client as Queryable;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

function closedError(): ConfigurationError {
  return new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "the PostgreSQL store is closed");
}

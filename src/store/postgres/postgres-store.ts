import { createHash } from "node:crypto";
import type { Pool } from "pg";
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
import { pageLimit, pageOrder, toPage } from "../paging.js";
import { hasPayloadSql, retentionSql } from "../sql/retention.js";
import {
  APP_COLUMNS,
  appToRow,
  DELIVERY_COLUMNS,
  deliveryToRow,
  ENDPOINT_COLUMNS,
  endpointPatchColumns,
  endpointToRow,
  rowToApp,
  rowToAttempt,
  rowToDelivery,
  rowToDocument,
  rowToEndpoint,
  rowToMessage,
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
import { loadPg, PgConnections } from "./connections.js";
import { PostgresQueue } from "./queue.js";
import { closedError, list, placeholders, type Row, type Tables, Where } from "./sql.js";
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

const DEFAULT_SCHEMA = "hookline";
const DEFAULT_MAX_CONNECTIONS = 10;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** PostgreSQL identifiers (and so NOTIFY channels) are at most 63 bytes. */
const MAX_IDENTIFIER_LENGTH = 63;
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

  readonly #codec: ColumnCodec;
  readonly #t: Tables;
  /** Sends, claims, completions and leases (the hot path): see queue.ts. */
  readonly #queue: PostgresQueue;
  readonly #wakeSubscriptions = new Set<WakeSubscription>();
  /** The pool (its own or the caller's), queries and transactions: see connections.ts. */
  readonly #db: PgConnections;
  #closing: Promise<void> | undefined;
  #retentionSql: ReturnType<typeof retentionSql> | undefined;

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
    this.#db = new PgConnections({ ...options, maxConnections }, () => this.#closing !== undefined);
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
    this.#queue = new PostgresQueue({
      tables: this.#t,
      codec: this.#codec,
      channel: this.channel,
      schema,
      db: this.#db,
    });
  }

  // ---- lifecycle ---------------------------------------------------------

  async migrate(): Promise<void> {
    const lockKey = createHash("sha256")
      .update(`hookline.migrate:${this.schema}`)
      .digest()
      .readBigInt64BE(0)
      .toString();
    await this.#db.transaction(async (client) => {
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
    const keyIds = await this.#db.query<{ key_id: string }>(encryptionKeyIdsSql(this.#t.endpoints, this.#t.documents));
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
      const { rows } = await this.#db.query<{ id: string; secrets: string; headers: string }>(
        `SELECT id, secrets, headers FROM ${this.#t.endpoints} WHERE id > $1 ORDER BY id LIMIT $2`,
        [after, batchSize],
      );
      for (const row of rows) {
        const secrets = reencrypted(this.#codec, row.secrets);
        const headers = reencrypted(this.#codec, row.headers);
        if (secrets === null && headers === null) continue;
        // Compare-and-set: a row another process changed meanwhile was written under its own main key; leave it.
        const updated = await this.#db.query(
          `UPDATE ${this.#t.endpoints} SET secrets = $2, headers = $3 WHERE id = $1 AND secrets = $4 AND headers = $5`,
          [row.id, secrets ?? row.secrets, headers ?? row.headers, row.secrets, row.headers],
        );
        changed += updated.rowCount ?? 0;
      }
      if (rows.length < batchSize) break;
      after = rows[rows.length - 1]?.id ?? after;
    }
    const sealed = await this.#db.query<{ namespace: string; key: string; value: string }>(
      sealedDocumentsSql(this.#t.documents),
    );
    for (const row of sealed.rows) {
      const value = reencrypted(this.#codec, row.value);
      if (value === null) continue;
      const updated = await this.#db.query(
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
    await this.#db.query("SELECT 1");
  }

  /** Ends the wake-up listeners and the pool the store created; a pool passed in stays open. Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#queue.drain();
      await Promise.all([...this.#wakeSubscriptions].map((s) => s.stop()));
      await this.#db.end();
    })();
    return this.#closing;
  }

  async onWake(listener: () => void): Promise<() => Promise<void>> {
    if (this.#closing) throw closedError();
    const pg = await loadPg();
    const subscription = new WakeSubscription(pg, this.#db.listenConfig(pg), this.channel, listener, () =>
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
    await this.#db.query(
      `INSERT INTO ${this.#t.apps} (${list(APP_COLUMNS)}) VALUES (${placeholders(APP_COLUMNS.length)})`,
      appToRow(app),
    );
  }

  async getApp(idOrUid: string): Promise<AppRecord | null> {
    // An id match wins over a uid match, as in the memory store.
    const { rows } = await this.#db.query(
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
    const result = await this.#db.query(`DELETE FROM ${this.#t.apps} WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  // ---- endpoints ---------------------------------------------------------

  async createEndpoint(endpoint: EndpointRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO ${this.#t.endpoints} (${list(ENDPOINT_COLUMNS)}) VALUES (${placeholders(ENDPOINT_COLUMNS.length)})`,
      endpointToRow(endpoint, this.#codec),
    );
  }

  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.endpoints} WHERE id = $1`, [id]);
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
    const result = await this.#db.query(`DELETE FROM ${this.#t.endpoints} WHERE id = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async enabledEndpoints(appId: string): Promise<EndpointRecord[]> {
    // Ids sort by creation time, so this is creation order, as the memory store returns them.
    const { rows } = await this.#db.query(
      `SELECT * FROM ${this.#t.endpoints} WHERE app_id = $1 AND disabled = 0 ORDER BY id`,
      [appId],
    );
    return rows.map((r) => rowToEndpoint(r, this.#codec));
  }

  // ---- messages ----------------------------------------------------------

  /**
   * With `options.client`: one statement that commits or rolls back with the
   * caller's transaction (the outbox); otherwise a group commit of the sends
   * made while the event loop was busy (see queue.ts).
   */
  insertMessage(
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    options?: InsertOptions,
  ): Promise<InsertMessageResult> {
    return this.#queue.insertMessage(message, deliveries, options);
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.messages} WHERE id = $1`, [id]);
    return rows[0] ? rowToMessage(rows[0]) : null;
  }

  async listMessages(filter: MessageFilter): Promise<Page<MessageRecord>> {
    const where = new Where().eq("app_id", filter.appId);
    if (filter.eventTypes !== undefined && filter.eventTypes.length > 0) where.any("event_type", filter.eventTypes);
    if (filter.before !== undefined) where.raw("created_at <", filter.before);
    if (filter.after !== undefined) where.raw("created_at >", filter.after);
    return this.#page(this.#t.messages, where, filter, (r) => rowToMessage(r));
  }

  // ---- the work queue (queue.ts) ------------------------------------------

  claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    return this.#queue.claimDue(options);
  }

  complete(
    completions: Completion[],
    now: number,
    disableAfterMs: number,
    claim?: ClaimOptions,
  ): Promise<CompletionEffects> {
    return this.#queue.complete(completions, now, disableAfterMs, claim);
  }

  heartbeat(worker: WorkerRecord, deliveryIds: readonly string[], leaseUntil: number): Promise<void> {
    return this.#queue.heartbeat(worker, deliveryIds, leaseUntil);
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.#queue.listWorkers();
  }

  releaseWorker(workerId: string, now: number): Promise<number> {
    return this.#queue.releaseWorker(workerId, now);
  }

  release(owner: string, deliveryIds: readonly string[], now: number): Promise<void> {
    return this.#queue.release(owner, deliveryIds, now);
  }

  async addDelivery(delivery: DeliveryRecord): Promise<void> {
    const values = [...deliveryToRow(delivery), this.channel];
    await this.#db.query(
      `WITH d AS (INSERT INTO ${this.#t.deliveries} (${list(DELIVERY_COLUMNS)})
         VALUES (${placeholders(DELIVERY_COLUMNS.length)}) RETURNING 1)
       SELECT pg_notify($${values.length}, '') FROM d`,
      values,
    );
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.deliveries} WHERE id = $1`, [id]);
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
    const { rows } = await this.#db.query(
      `UPDATE ${this.#t.deliveries}
       SET status = 'pending', next_attempt_at = $2, next_trigger = 'manual', updated_at = $2
       WHERE id = $1 AND status <> 'sending' AND ${hasPayloadSql(this.#t.messages, "deliveries")}
       RETURNING *`,
      [id, now],
    );
    return rows[0] ? rowToDelivery(rows[0]) : null;
  }

  async recoverEndpoint(endpointId: string, since: number, until: number, now: number): Promise<number> {
    const result = await this.#db.query(
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
    const own = await this.#db.query(this.#retention.expireOwn, [options.now, options.now, options.limit]);
    const expired = own.rowCount ?? 0;
    if (expired >= options.limit) return expired;
    const before = await this.#db.query(this.#retention.expireBefore, [
      options.now,
      options.before,
      options.limit - expired,
    ]);
    return expired + (before.rowCount ?? 0);
  }

  async deleteHistory(options: { before: number; limit: number }): Promise<number> {
    const result = await this.#db.query(this.#retention.deleteBefore, [options.before, options.limit]);
    return result.rowCount ?? 0;
  }

  async expungeMessage(id: string, now: number): Promise<"expunged" | "in_progress" | "not_found"> {
    const result = await this.#db.query(this.#retention.expungeOne, [now, id]);
    if (result.rowCount === 1) return "expunged";
    const exists = await this.#db.query(this.#retention.messageExists, [id]);
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
    const { rows } = await this.#db.query<{ due: unknown }>(
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
    const result = await this.#db.query(
      `INSERT INTO ${this.#t.documents} (namespace, key, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (namespace, key) ${onConflict}`,
      [document.namespace, document.key, document.value, document.createdAt, document.updatedAt],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async getDocument(namespace: string, key: string): Promise<DocumentRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.documents} WHERE namespace = $1 AND key = $2`, [
      namespace,
      key,
    ]);
    return rows[0] ? rowToDocument(rows[0]) : null;
  }

  async deleteDocument(namespace: string, key: string): Promise<boolean> {
    const result = await this.#db.query(`DELETE FROM ${this.#t.documents} WHERE namespace = $1 AND key = $2`, [
      namespace,
      key,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async listDocuments(namespace: string, options: PageOptions): Promise<Page<DocumentRecord>> {
    const limit = pageLimit(options);
    // Keys are free text (`invoice.paid`): order them by code point, as the memory store does,
    // whatever the database's collation. A namespace holds few documents; the sort is cheap.
    const { rows } = await this.#db.query(
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
    const { rows } = await this.#db.query<{ status: DeliveryStatus; n: number }>(
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
    const { rows } = await this.#db.query(
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
    const { rows } = await this.#db.query(`UPDATE ${table} SET ${assignments.join(", ")} WHERE id = $1 RETURNING *`, [
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

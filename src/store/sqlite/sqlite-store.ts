import { setTimeout as sleep } from "node:timers/promises";
import type BetterSqlite3 from "better-sqlite3";
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
import {
  appToRow,
  deliveryToRow,
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
import { SqliteQueue } from "./queue.js";
import { RETENTION, SQL } from "./statements.js";

type Database = BetterSqlite3.Database;
type Row = Record<string, unknown>;
type Statement = BetterSqlite3.Statement<unknown[], Row>;

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions extends EncryptionKeyOptions {
  /** The database file; created with its schema on `migrate()` when missing. */
  path: string;
  /**
   * `normal` (the default): in WAL mode a commit survives a crash of the
   * process, and the last commits before a power loss may roll back. `full`:
   * every commit is synced to disk before it returns, at roughly a third of
   * the single-row write rate (batched writes lose much less).
   */
  synchronous?: "normal" | "full";
}

/** How long a connection waits for another connection's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;
/**
 * Due rows read per query while claiming, as a multiple of the claim limit:
 * room for rows skipped by the per-endpoint cap without reading the whole
 * queue. When a batch is used up the claim reads the next one.
 */

/** SQL fragments with their values, keeping only those whose value is not undefined (an absent filter or patch field). */
function clauses(pairs: ReadonlyArray<readonly [sql: string, value: unknown]>): { sql: string[]; values: unknown[] } {
  const present = pairs.filter(([, value]) => value !== undefined);
  return { sql: present.map(([sql]) => sql), values: present.map(([, value]) => value) };
}

const isBusy = (error: unknown): boolean =>
  typeof (error as { code?: unknown })?.code === "string" && (error as { code: string }).code.startsWith("SQLITE_BUSY");

/**
 * Switches the file to WAL. While another process is switching the same new
 * file, SQLite answers SQLITE_BUSY at once instead of calling the busy
 * handler (it would otherwise risk a deadlock), so this retries until the
 * busy timeout.
 */
async function enableWal(db: Database): Promise<void> {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let delayMs = 2; ; delayMs = Math.min(delayMs * 2, 50)) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
    await sleep(delayMs * (0.5 + Math.random()));
  }
}

const MIGRATIONS_TABLE =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

/**
 * The SQLite store: the durable engine in one file, with no server to run.
 * One writer at a time (WAL mode lets readers go on meanwhile), so every
 * write is a short `BEGIN IMMEDIATE` transaction; throughput comes from
 * batching (a message with its deliveries, a batch of claims, a batch of
 * completions: one commit each). Several processes may share the file on one
 * machine; claims never overlap. The driver (better-sqlite3) is synchronous
 * and loaded on first use; each call holds the event loop for the length of
 * its statements, or up to the busy timeout (5 s) while another process
 * writes.
 *
 * @example
 * const store = sqliteStore({ path: "./hookline.db" });
 * await store.migrate();
 * const hl = await createHookline({ store });
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  /** The database file. */
  readonly path: string;
  readonly #synchronous: "NORMAL" | "FULL";
  readonly #codec: ColumnCodec;
  #db: Database | null = null;
  #opening: Promise<Database> | null = null;
  #closed = false;
  readonly #statements = new Map<string, Statement>();
  /** Sends, claims, completions and leases (the hot path): see queue.ts. */
  readonly #queue: SqliteQueue;

  constructor(options: SqliteStoreOptions) {
    if (typeof options?.path !== "string" || options.path === "") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "sqliteStore: path must be a non-empty string");
    }
    const synchronous = options.synchronous ?? "normal";
    if (synchronous !== "normal" && synchronous !== "full") {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        `sqliteStore: synchronous must be "normal" or "full", not ${JSON.stringify(synchronous)}`,
      );
    }
    this.path = options.path;
    this.#synchronous = synchronous === "full" ? "FULL" : "NORMAL";
    this.#codec = columnCodec(options);
    this.#queue = new SqliteQueue({
      codec: this.#codec,
      connection: () => this.#connection(),
      stmt: (db, sql) => this.#stmt(db, sql),
      write: (db, fn) => this.#write(db, fn),
      isClosed: () => this.#closed,
    });
  }

  /** The id of the key secrets are encrypted with; null when they are stored in clear. */
  get encryptionKeyId(): string | null {
    return this.#codec.mainKeyId;
  }

  /** The open connection, opening it on first use. */
  #connection(): Database | Promise<Database> {
    if (this.#closed) {
      return Promise.reject(new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "the SQLite store is closed"));
    }
    if (this.#db !== null) return this.#db;
    this.#opening ??= this.#open().catch((error: unknown) => {
      this.#opening = null;
      throw error;
    });
    return this.#opening;
  }

  async #open(): Promise<Database> {
    // Loaded here, not at module load, so importing hookline never loads native code it does not use.
    const { default: Driver } = await import("better-sqlite3");
    if (this.#closed) throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "the SQLite store is closed");
    const db = new Driver(this.path, { timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      await enableWal(db);
      db.pragma(`synchronous = ${this.#synchronous}`);
      db.pragma("foreign_keys = ON");
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    return db;
  }

  /** A prepared statement, prepared once per SQL text. */
  #stmt(db: Database, sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare<unknown[], Row>(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction: the write lock is taken first, so no deadlock or stale snapshot later. */
  #write<T>(db: Database, fn: () => T): T {
    return db.transaction(fn).immediate();
  }

  async migrate(): Promise<void> {
    const db = await this.#connection();
    const applied = (): Set<number> => {
      const exists = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        .get();
      if (exists === undefined) return new Set();
      return new Set(
        db
          .prepare<[], { version: number }>("SELECT version FROM schema_migrations")
          .all()
          .map((r) => r.version),
      );
    };
    let done = applied();
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      // Another process may be migrating the same file: the write lock serialises us, and the
      // version is checked again under it.
      this.#write(db, () => {
        db.exec(MIGRATIONS_TABLE);
        done = applied();
        if (done.has(migration.version)) return;
        for (const statement of migration.statements) db.exec(statement);
        db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(
          migration.version,
          Date.now(),
        );
      });
    }
    const keyIds = db.prepare<[], { key_id: string }>(encryptionKeyIdsSql("endpoints", "documents")).all();
    assertKeysKnown(
      this.#codec,
      keyIds.map((r) => r.key_id),
    );
  }

  async reencryptSecrets(batchSize = 100): Promise<number> {
    const db = await this.#connection();
    let changed = 0;
    let after = "";
    for (;;) {
      const rows = this.#write(db, () => {
        const batch = this.#stmt(db, "SELECT id, secrets, headers FROM endpoints WHERE id > ? ORDER BY id LIMIT ?").all(
          after,
          batchSize,
        ) as Array<{ id: string; secrets: string; headers: string }>;
        for (const row of batch) {
          const secrets = reencrypted(this.#codec, row.secrets);
          const headers = reencrypted(this.#codec, row.headers);
          if (secrets === null && headers === null) continue;
          this.#stmt(db, "UPDATE endpoints SET secrets = ?, headers = ? WHERE id = ?").run(
            secrets ?? row.secrets,
            headers ?? row.headers,
            row.id,
          );
          changed++;
        }
        return batch;
      });
      if (rows.length < batchSize) break;
      after = rows[rows.length - 1]?.id ?? after;
      // Between batches the write lock is free for deliveries.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Sealed documents are few (inbound sources): one transaction.
    return (
      changed +
      this.#write(db, () => {
        let sealed = 0;
        const rows = this.#stmt(db, sealedDocumentsSql("documents")).all() as Array<{
          namespace: string;
          key: string;
          value: string;
        }>;
        for (const row of rows) {
          const value = reencrypted(this.#codec, row.value);
          if (value === null) continue;
          db.prepare("UPDATE documents SET value = ? WHERE namespace = ? AND key = ?").run(
            value,
            row.namespace,
            row.key,
          );
          sealed++;
        }
        return sealed;
      })
    );
  }

  seal(plain: string): string {
    return this.#codec.encode(plain);
  }

  unseal(stored: string): string {
    return this.#codec.decode(stored);
  }

  async ping(): Promise<void> {
    const db = await this.#connection();
    this.#stmt(db, "SELECT 1 AS ok").get();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Sends already accepted are written before the file closes.
    if (this.#db !== null) this.#queue.drain(this.#db);
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = null;
    this.#db = null;
    this.#statements.clear();
    if (opening === null) return;
    try {
      (await opening).close();
    } catch {
      // It never opened: nothing to close.
    }
  }

  // --- apps -----------------------------------------------------------------

  async createApp(app: AppRecord): Promise<void> {
    const db = await this.#connection();
    this.#stmt(db, SQL.insertApp).run(...appToRow(app));
  }

  async getApp(idOrUid: string): Promise<AppRecord | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.appById).get(idOrUid) ?? this.#stmt(db, SQL.appByUid).get(idOrUid);
    return row === undefined ? null : rowToApp(row);
  }

  async listApps(options: PageOptions): Promise<Page<AppRecord>> {
    const db = await this.#connection();
    return this.#page(db, "apps", clauses([]), options, rowToApp);
  }

  async updateApp(
    id: string,
    patch: Partial<Pick<AppRecord, "uid" | "name" | "metadata">>,
    now: number,
  ): Promise<AppRecord | null> {
    const db = await this.#connection();
    const sets = clauses([
      ["uid = ?", patch.uid],
      ["name = ?", patch.name],
      ["metadata = ?", patch.metadata === undefined ? undefined : JSON.stringify(patch.metadata)],
      ["updated_at = ?", now],
    ]);
    const sql = `UPDATE apps SET ${sets.sql.join(", ")} WHERE id = ? RETURNING *`;
    const row = this.#stmt(db, sql).get(...sets.values, id);
    return row === undefined ? null : rowToApp(row);
  }

  async deleteApp(id: string): Promise<boolean> {
    const db = await this.#connection();
    // ON DELETE CASCADE takes its endpoints, messages, deliveries and attempts in the same statement.
    return this.#stmt(db, SQL.deleteApp).run(id).changes > 0;
  }

  // --- endpoints ------------------------------------------------------------

  async createEndpoint(endpoint: EndpointRecord): Promise<void> {
    const db = await this.#connection();
    this.#stmt(db, SQL.insertEndpoint).run(...endpointToRow(endpoint, this.#codec));
  }

  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.endpointById).get(id);
    return row === undefined ? null : rowToEndpoint(row, this.#codec);
  }

  async listEndpoints(options: PageOptions & { appId?: string }): Promise<Page<EndpointRecord>> {
    const db = await this.#connection();
    const where = clauses([["app_id = ?", options.appId]]);
    return this.#page(db, "endpoints", where, options, (row) => rowToEndpoint(row, this.#codec));
  }

  async updateEndpoint(id: string, patch: EndpointPatch, now: number): Promise<EndpointRecord | null> {
    const db = await this.#connection();
    const sets = clauses([
      ...endpointPatchColumns(patch, this.#codec).map(({ column, value }) => [`${column} = ?`, value] as const),
      ["updated_at = ?", now],
    ]);
    const sql = `UPDATE endpoints SET ${sets.sql.join(", ")} WHERE id = ? RETURNING *`;
    const row = this.#stmt(db, sql).get(...sets.values, id);
    return row === undefined ? null : rowToEndpoint(row, this.#codec);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    const db = await this.#connection();
    return this.#stmt(db, SQL.deleteEndpoint).run(id).changes > 0;
  }

  async enabledEndpoints(appId: string): Promise<EndpointRecord[]> {
    const db = await this.#connection();
    return this.#stmt(db, SQL.enabledEndpoints)
      .all(appId)
      .map((row) => rowToEndpoint(row, this.#codec));
  }

  // --- messages -------------------------------------------------------------

  /**
   * Group commit: the messages sent while the event loop was busy are written
   * in one transaction, and every send resolves once that commit is durable
   * (see queue.ts).
   */
  insertMessage(
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    options?: InsertOptions,
  ): Promise<InsertMessageResult> {
    return this.#queue.insertMessage(message, deliveries, options);
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.messageById).get(id);
    return row === undefined ? null : rowToMessage(row);
  }

  async listMessages(filter: MessageFilter): Promise<Page<MessageRecord>> {
    const db = await this.#connection();
    const eventTypes = filter.eventTypes?.length ? JSON.stringify(filter.eventTypes) : undefined;
    const where = clauses([
      ["app_id = ?", filter.appId],
      ["event_type IN (SELECT value FROM json_each(?))", eventTypes],
      ["created_at < ?", filter.before],
      ["created_at > ?", filter.after],
    ]);
    return this.#page(db, "messages", where, filter, (row) => rowToMessage(row));
  }

  // --- deliveries -----------------------------------------------------------

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
    const db = await this.#connection();
    this.#stmt(db, SQL.insertDelivery).run(...deliveryToRow(delivery));
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.deliveryById).get(id);
    return row === undefined ? null : rowToDelivery(row);
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Page<DeliveryRecord>> {
    const db = await this.#connection();
    const where = clauses([
      ["app_id = ?", filter.appId],
      ["status = ?", filter.status],
      ["endpoint_id = ?", filter.endpointId],
      ["message_id = ?", filter.messageId],
    ]);
    return this.#page(db, "deliveries", where, filter, (row) => rowToDelivery(row));
  }

  async requeueDelivery(id: string, now: number): Promise<DeliveryRecord | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.requeue).get(now, now, id);
    return row === undefined ? null : rowToDelivery(row);
  }

  async recoverEndpoint(endpointId: string, since: number, until: number, now: number): Promise<number> {
    const db = await this.#connection();
    return this.#stmt(db, SQL.recover).run(now, now, endpointId, since, until).changes;
  }

  async expirePayloads(options: { before: number; now: number; limit: number }): Promise<number> {
    const db = await this.#connection();
    return this.#write(db, () => {
      const own = this.#stmt(db, RETENTION.expireOwn).run(options.now, options.now, options.limit).changes;
      if (own >= options.limit) return own;
      return own + this.#stmt(db, RETENTION.expireBefore).run(options.now, options.before, options.limit - own).changes;
    });
  }

  async deleteHistory(options: { before: number; limit: number }): Promise<number> {
    const db = await this.#connection();
    return this.#write(db, () => this.#stmt(db, RETENTION.deleteBefore).run(options.before, options.limit).changes);
  }

  async expungeMessage(id: string, now: number): Promise<"expunged" | "in_progress" | "not_found"> {
    const db = await this.#connection();
    return this.#write(db, () => {
      if (this.#stmt(db, RETENTION.expungeOne).run(now, id).changes === 1) return "expunged";
      return this.#stmt(db, RETENTION.messageExists).get(id) === undefined ? "not_found" : "in_progress";
    });
  }

  async listAttempts(filter: AttemptFilter): Promise<Page<AttemptRecord>> {
    const db = await this.#connection();
    const where = clauses([
      ["app_id = ?", filter.appId],
      ["delivery_id = ?", filter.deliveryId],
      ["message_id = ?", filter.messageId],
      ["endpoint_id = ?", filter.endpointId],
    ]);
    return this.#page(db, "attempts", where, filter, rowToAttempt);
  }

  async nextDueAt(): Promise<number | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.nextDueAt).get();
    return row === undefined ? null : Number(row.at);
  }

  async putDocument(document: DocumentRecord, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    const db = await this.#connection();
    const { namespace, key, value, createdAt, updatedAt } = document;
    const sql = options.onlyIfAbsent ? SQL.insertDocument : SQL.upsertDocument;
    return this.#stmt(db, sql).run(namespace, key, value, createdAt, updatedAt).changes > 0;
  }

  async getDocument(namespace: string, key: string): Promise<DocumentRecord | null> {
    const db = await this.#connection();
    const row = this.#stmt(db, SQL.documentByKey).get(namespace, key);
    return row === undefined ? null : rowToDocument(row);
  }

  async deleteDocument(namespace: string, key: string): Promise<boolean> {
    const db = await this.#connection();
    return this.#stmt(db, SQL.deleteDocument).run(namespace, key).changes > 0;
  }

  async listDocuments(namespace: string, options: PageOptions): Promise<Page<DocumentRecord>> {
    const db = await this.#connection();
    const limit = pageLimit(options);
    const rows = this.#stmt(db, SQL.documentsAfter).all(namespace, options.cursor ?? "", limit + 1);
    return toPage(rows.map(rowToDocument), limit, (d) => d.key);
  }

  async countDeliveries(filter: DeliveryCountFilter = {}): Promise<Record<DeliveryStatus, number>> {
    const db = await this.#connection();
    const where = clauses([
      ["endpoint_id = ?", filter.endpointId],
      ["app_id = ?", filter.appId],
      ["created_at >= ?", filter.since],
      ["created_at < ?", filter.until],
    ]);
    const clause = where.sql.length > 0 ? ` WHERE ${where.sql.join(" AND ")}` : "";
    const sql = `SELECT status, COUNT(*) AS n FROM deliveries${clause} GROUP BY status`;
    const counts: Record<DeliveryStatus, number> = { pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 };
    for (const row of this.#stmt(db, sql).all(...where.values))
      counts[String(row.status) as DeliveryStatus] = Number(row.n);
    return counts;
  }

  /** Newest first after the cursor, with one row more than the page to tell whether another page exists. */
  #page<T extends { id: string }>(
    db: Database,
    table: string,
    where: { sql: string[]; values: unknown[] },
    options: PageOptions,
    map: (row: Row) => T,
  ): Page<T> {
    const limit = pageLimit(options);
    const { after, direction } = pageOrder(options);
    const conditions = [...where.sql];
    const params = [...where.values];
    if (options.cursor !== undefined) {
      conditions.push(`id ${after} ?`);
      params.push(options.cursor);
    }
    const clause = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
    const sql = `SELECT * FROM ${table}${clause} ORDER BY id ${direction} LIMIT ?`;
    const rows = this.#stmt(db, sql).all(...params, limit + 1);
    return toPage(rows.map(map), limit);
  }
}

/**
 * A SQLite store on the file at `path` (created when missing). The database
 * opens on first use, in WAL mode with `synchronous=NORMAL` unless
 * `synchronous: "full"` is asked for; call `migrate()` before anything else.
 *
 * @example
 * const store = sqliteStore({ path: "./hookline.db", synchronous: "full" });
 * await store.migrate();
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

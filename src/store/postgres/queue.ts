import type { Pool, PoolClient } from "pg";
import { ConfigurationError } from "../../core/errors.js";
import type { ColumnCodec } from "../codec.js";
import { LeaseOnInsert } from "../lease-on-insert.js";
import {
  ATTEMPT_COLUMNS,
  attemptToRow,
  DELIVERY_COLUMNS,
  deliveryToRow,
  ENDPOINT_COLUMNS,
  MESSAGE_COLUMNS,
  messageToRow,
  rowToDelivery,
  rowToEndpoint,
  rowToMessage,
  rowToWorker,
} from "../sql/rows.js";
import type {
  ClaimedDelivery,
  ClaimOptions,
  Completion,
  CompletionEffects,
  DeliveryRecord,
  InsertMessageResult,
  InsertOptions,
  MessageRecord,
  WorkerRecord,
} from "../store.js";
import type { PgConnections } from "./connections.js";
import { applyHealth, type EndpointHealthJson, healthFromJson } from "./endpoint-health.js";
import {
  ATTEMPT_SQL_TYPES,
  closedError,
  DELIVERY_SQL_TYPES,
  list,
  MAX_TRANSACTION_TRIES,
  placeholders,
  type Queryable,
  type Tables,
} from "./sql.js";

/** Candidate rows fetched per claimed row, so the per-endpoint cap can skip some without another query. */
const CLAIM_WINDOW_FACTOR = 4;
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
const COMPLETE_BEGIN = "BEGIN; SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off";

/** What the queue uses of its store: the tables, the codec and the connections. */
export interface QueueContext {
  readonly tables: Tables;
  readonly codec: ColumnCodec;
  /** The NOTIFY channel sends signal. */
  readonly channel: string;
  readonly schema: string;
  readonly db: PgConnections;
}

/**
 * The PostgreSQL store's work queue: sends (group inserts, the outbox's
 * single insert, ordered groups), claims, completions, leases and worker
 * liveness — the hot path, apart from the store's CRUD.
 */
export class PostgresQueue {
  readonly #c: QueueContext;
  readonly #t: Tables;
  /** Sends waiting for the next group insert (see `insertMessage`). */
  #insertQueue: QueuedInsert[] = [];
  #insertFlushes = new Set<Promise<void>>();
  /** Inserts of messages with ordered deliveries, chained so they commit in send order. */
  #orderedInserts: Promise<void> = Promise.resolve();
  #claimText: string | undefined;

  constructor(context: QueueContext) {
    this.#c = context;
    this.#t = context.tables;
  }

  /** Writes the sends still waiting and waits for every insert in progress (before the pool closes). */
  async drain(): Promise<void> {
    if (this.#insertQueue.length > 0) this.#flushInserts();
    await Promise.all(this.#insertFlushes);
    await this.#orderedInserts;
  }

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
    if (this.#c.db.closing) throw closedError();
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
      pool = await this.#c.db.pool();
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
    values.push(this.#c.channel);
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
    values.push(this.#c.channel);
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

  // ---- claims, completions, leases --------------------------------------

  async claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit < 1 || options.perEndpointLimit < 1) return [];
    return this.#c.db.transaction((client) => this.#claim(client, options), { begin: CLAIM_BEGIN });
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
          endpoint: rowToEndpoint(row, this.#c.codec, "e_"),
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
    return this.#c.db.transaction(
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
    await this.#c.db.query(
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
    const { rows } = await this.#c.db.query(`SELECT * FROM ${this.#t.workers} ORDER BY started_at, id`);
    return rows.map(rowToWorker);
  }

  async releaseWorker(workerId: string, now: number): Promise<number> {
    const { rows } = await this.#c.db.query<{ n: number }>(
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
    const keys = [...new Set(groups.map((g) => `${this.#c.schema}\n${g.e}\n${g.k}`))].sort();
    await client.query(
      "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS t(key, n) ORDER BY n",
      [keys],
    );
  }

  async release(owner: string, deliveryIds: readonly string[], now: number): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.#c.db.query(
      `UPDATE ${this.#t.deliveries}
       SET status = 'pending', lease_owner = NULL, next_attempt_at = created_at, updated_at = $1
       WHERE id = ANY($2::text[]) AND status = 'sending' AND lease_owner = $3`,
      [now, [...deliveryIds], owner],
    );
  }
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

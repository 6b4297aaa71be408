import type BetterSqlite3 from "better-sqlite3";
import { ConfigurationError } from "../../core/errors.js";
import type { ColumnCodec } from "../codec.js";
import { type EndpointQueueState, LeaseOnInsert } from "../lease-on-insert.js";
import {
  attemptToRow,
  deliveryToRow,
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
import { SQL } from "./statements.js";

type Database = BetterSqlite3.Database;
type Row = Record<string, unknown>;
type Statement = BetterSqlite3.Statement<unknown[], Row>;

/** Candidate rows read per row still wanted once per-endpoint caps have skipped some. */
const CANDIDATE_FACTOR = 4;

/** What the queue uses of its store: the codec, the connection, its statements and its write transactions. */
export interface SqliteQueueContext {
  readonly codec: ColumnCodec;
  connection(): Database | Promise<Database>;
  /** A prepared statement, prepared once per SQL text. */
  stmt(db: Database, sql: string): Statement;
  /** `fn` in a `BEGIN IMMEDIATE` transaction. */
  write<T>(db: Database, fn: () => T): T;
  isClosed(): boolean;
}

/**
 * The SQLite store's work queue: group-committed sends (leasing to this
 * process's worker as they are written), claims, completions, leases and
 * worker liveness — the hot path, apart from the store's CRUD.
 */
export class SqliteQueue {
  readonly #c: SqliteQueueContext;
  /** Sends waiting for the next group commit (see `insertMessage`). */
  #insertQueue: {
    message: MessageRecord;
    deliveries: DeliveryRecord[];
    claim: ClaimOptions | undefined;
    resolve: (result: InsertMessageResult) => void;
    reject: (error: unknown) => void;
  }[] = [];

  constructor(context: SqliteQueueContext) {
    this.#c = context;
  }

  /** Writes the sends still waiting (before the file closes). */
  drain(db: Database): void {
    if (this.#insertQueue.length > 0) this.#flushInserts(db);
  }

  /**
   * Group commit: the messages sent while the event loop was busy are written
   * in one transaction (each in its own savepoint, so one bad row fails only
   * its own send), and every send resolves once that commit is durable.
   */
  async insertMessage(
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    options: InsertOptions = {},
  ): Promise<InsertMessageResult> {
    const db = await this.#c.connection();
    // close() may have run while the connection was awaited.
    if (this.#c.isClosed())
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "the SQLite store is closed");
    return new Promise<InsertMessageResult>((resolve, reject) => {
      this.#insertQueue.push({ message, deliveries, claim: options.claim, resolve, reject });
      if (this.#insertQueue.length === 1) {
        setImmediate(() => {
          if (this.#insertQueue.length > 0) this.#flushInserts(db);
        });
      }
    });
  }

  #flushInserts(db: Database): void {
    const batch = this.#insertQueue.splice(0);
    const leases = new LeaseOnInsert((endpointId, now) => this.#queueState(db, endpointId, now));
    // Fast path: the whole batch in one transaction. A savepoint per message would double the cost of
    // a send, so they are used only when some message fails, to fail that one alone.
    try {
      const results = this.#c.write(db, () =>
        batch.map((item) => this.#insertOne(db, item.message, item.deliveries, item.claim, leases)),
      );
      for (const [i, item] of batch.entries()) item.resolve(results[i] as InsertMessageResult);
      return;
    } catch {
      leases.undo();
    }
    const outcomes: ({ ok: true; value: InsertMessageResult } | { ok: false; error: unknown })[] = [];
    try {
      this.#c.write(db, () => {
        const retryLeases = new LeaseOnInsert((endpointId, now) => this.#queueState(db, endpointId, now));
        for (const item of batch) {
          try {
            outcomes.push({
              ok: true,
              value: db.transaction(() =>
                this.#insertOne(db, item.message, item.deliveries, item.claim, retryLeases),
              )(),
            });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) item.resolve(outcome.value);
      else item.reject(outcome?.error);
    });
  }

  /** Whether an endpoint has deliveries due and waiting, and how many it has in flight, as this transaction sees it. */
  #queueState(db: Database, endpointId: string, now: number): EndpointQueueState {
    return {
      waiting: Number(this.#c.stmt(db, SQL.endpointWaiting).get(endpointId, now)?.n ?? 0) === 1,
      live: Number(this.#c.stmt(db, SQL.liveLeases).get(endpointId, now)?.n ?? 0),
    };
  }

  #insertOne(
    db: Database,
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    claim: ClaimOptions | undefined,
    leases: LeaseOnInsert,
  ): InsertMessageResult {
    if (this.#c.stmt(db, SQL.insertMessage).run(...messageToRow(message)).changes === 0) {
      const existing = this.#c.stmt(db, SQL.messageByEvent).get(message.appId, message.eventId);
      // ON CONFLICT names only (app_id, event_id), so any other conflict threw: the row is there.
      if (existing === undefined) throw new Error(`message ${message.appId}/${message.eventId} vanished`);
      const count = this.#c.stmt(db, SQL.deliveriesOfMessage).get(existing.id);
      return { message: rowToMessage(existing), deliveryCount: Number(count?.n ?? 0), created: false };
    }
    const unfinished = this.#c.stmt(db, SQL.orderedUnfinished);
    const insert = this.#c.stmt(db, SQL.insertDelivery);
    // Ordered deliveries always take the claim path, where their order is kept.
    const unordered = deliveries.filter((d) => d.orderingKey === undefined);
    const leased = claim && leases.lease(unordered, claim);
    for (const delivery of deliveries) {
      // Behind an unfinished delivery of its ordered group (this transaction sees earlier ones too): parked.
      const key = delivery.orderingKey;
      if (key !== undefined && Number(unfinished.get(delivery.endpointId, key)?.n) === 1) delivery.nextAttemptAt = null;
      insert.run(...deliveryToRow(delivery));
    }
    return {
      message: structuredClone(message),
      deliveryCount: deliveries.length,
      created: true,
      ...(leased && { leased }),
    };
  }

  async claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    const db = await this.#c.connection();
    if (this.#nothingToClaim(db, options)) return [];
    return this.#c.write(db, () => this.#claimIn(db, options));
  }

  /** Cheap checks before a claim's write transaction: no room at all, or every enabled endpoint excluded. */
  #nothingToClaim(db: Database, options: ClaimOptions): boolean {
    if (options.limit < 1 || options.perEndpointLimit < 1) return true;
    const excluded = options.excludeEndpointIds ?? [];
    return excluded.length > 0 && !this.#c.stmt(db, SQL.enabledEndpointsLeft).get(JSON.stringify(excluded))?.n;
  }

  /** The claim itself, inside the caller's write transaction. */
  #claimIn(db: Database, options: ClaimOptions): ClaimedDelivery[] {
    const { now, owner, leaseMs, limit, perEndpointLimit } = options;
    // Endpoints whose rows the next candidate query skips: the caller's, then each one found at its cap.
    const skipped = new Set(options.excludeEndpointIds ?? []);
    const inFlight = new Map<string, number>();
    const chosen: string[] = [];
    // The first window holds just enough rows when no cap skips any (the common case); later ones,
    // past rows of endpoints found at their cap, read further ahead.
    let window = limit;
    let after: { at: number; id: string } | null = null;
    while (chosen.length < limit) {
      const skip = JSON.stringify([...skipped]);
      const rows: Row[] =
        after === null
          ? this.#c.stmt(db, SQL.claimCandidates).all(now, skip, window)
          : this.#c.stmt(db, SQL.claimCandidatesAfter).all(now, after.at, after.id, skip, window);
      for (const row of rows) {
        const endpointId = String(row.endpoint_id);
        let busy = inFlight.get(endpointId);
        if (busy === undefined) busy = Number(this.#c.stmt(db, SQL.liveLeases).get(endpointId, now)?.n ?? 0);
        if (busy < perEndpointLimit) {
          chosen.push(String(row.id));
          busy++;
        }
        inFlight.set(endpointId, busy);
        if (busy >= perEndpointLimit) skipped.add(endpointId);
        if (chosen.length >= limit) break;
      }
      const last = rows[rows.length - 1];
      if (rows.length < window || last === undefined) break;
      window = (limit - chosen.length) * CANDIDATE_FACTOR;
      // Every enabled endpoint is at its cap or excluded: the rest of the queue holds nothing to take.
      if (skipped.size > 0 && !this.#c.stmt(db, SQL.enabledEndpointsLeft).get(JSON.stringify([...skipped]))?.n) break;
      after = { at: Number(last.next_attempt_at), id: String(last.id) };
    }
    if (chosen.length === 0) return [];

    const ids = JSON.stringify(chosen);
    const leased = new Map<string, DeliveryRecord>();
    for (const row of this.#c.stmt(db, SQL.lease).all(owner, now + leaseMs, now, ids)) {
      const delivery = rowToDelivery(row);
      leased.set(delivery.id, delivery);
    }
    const messageIds = JSON.stringify([...new Set([...leased.values()].map((d) => d.messageId))]);
    const endpointIds = JSON.stringify([...new Set([...leased.values()].map((d) => d.endpointId))]);
    const messageRows = new Map<string, Row>();
    for (const row of this.#c.stmt(db, SQL.messagesByIds).all(messageIds)) messageRows.set(String(row.id), row);
    const endpointRows = new Map<string, Row>();
    for (const row of this.#c.stmt(db, SQL.endpointsByIds).all(endpointIds)) endpointRows.set(String(row.id), row);

    const claimed: ClaimedDelivery[] = [];
    for (const id of chosen) {
      const delivery = leased.get(id);
      const messageRow = delivery && messageRows.get(delivery.messageId);
      const endpointRow = delivery && endpointRows.get(delivery.endpointId);
      // Mapped per claim, so claims of one endpoint or message never share an object (callers may mutate them).
      if (delivery && messageRow && endpointRow) {
        claimed.push({
          delivery,
          message: rowToMessage(messageRow),
          endpoint: rowToEndpoint(endpointRow, this.#c.codec),
        });
      }
    }
    return claimed;
  }

  async complete(
    completions: Completion[],
    now: number,
    disableAfterMs: number,
    claim?: ClaimOptions,
  ): Promise<CompletionEffects> {
    const db = await this.#c.connection();
    const claimToo = claim !== undefined && !this.#nothingToClaim(db, claim);
    return this.#c.write(db, () => {
      const effects = this.#completeIn(db, completions, now, disableAfterMs);
      if (claimToo) effects.claimed = this.#claimIn(db, claim);
      return effects;
    });
  }

  #completeIn(db: Database, completions: Completion[], now: number, disableAfterMs: number): CompletionEffects {
    const effects: CompletionEffects = { failingEndpoints: [], disabledEndpoints: [], lostLeases: [] };
    const insertAttempt = this.#c.stmt(db, SQL.insertAttempt);
    const completeDelivery = this.#c.stmt(db, SQL.completeDelivery);
    // Endpoint health as this batch has left it so far; written only when it changes.
    const health = new Map<string, { failingSince: number | null; disabled: boolean } | null>();
    for (const completion of completions) {
      const { attempt } = completion;
      insertAttempt.run(...attemptToRow(attempt), attempt.deliveryId);
      const updated = completeDelivery.get(
        completion.status,
        completion.nextAttemptAt,
        attempt.statusCode,
        attempt.error,
        now,
        completion.deliveryId,
        completion.owner,
      );
      if (updated === undefined) effects.lostLeases.push(completion.deliveryId);
      else if (updated.ordering_key !== null && completion.status !== "pending") {
        // Done with, one way or the other: the next delivery of its ordered group goes.
        this.#c.stmt(db, SQL.activateNext).run(now, now, updated.endpoint_id, updated.ordering_key);
      }

      const endpointId = attempt.endpointId;
      let state = health.get(endpointId);
      if (state === undefined) {
        const row = this.#c.stmt(db, SQL.endpointHealth).get(endpointId);
        state =
          row === undefined
            ? null
            : {
                failingSince: row.failing_since === null ? null : Number(row.failing_since),
                disabled: Number(row.disabled) === 1,
              };
        health.set(endpointId, state);
      }
      if (state === null) continue;
      if (completion.endpointOutcome === "succeeded") {
        if (state.failingSince !== null) {
          state.failingSince = null;
          this.#c.stmt(db, SQL.setFailingSince).run(null, now, endpointId);
        }
        continue;
      }
      if (state.failingSince === null) {
        state.failingSince = now;
        this.#c.stmt(db, SQL.setFailingSince).run(now, now, endpointId);
        effects.failingEndpoints.push({ endpointId, failingSince: now });
      }
      if (state.disabled) continue;
      const reason =
        completion.endpointOutcome === "gone" ? "gone" : now - state.failingSince >= disableAfterMs ? "failing" : null;
      if (reason !== null) {
        state.disabled = true;
        this.#c.stmt(db, SQL.disableEndpoint).run(reason, now, endpointId);
        effects.disabledEndpoints.push({ endpointId, reason });
      }
    }
    return effects;
  }

  async heartbeat(worker: WorkerRecord, deliveryIds: readonly string[], leaseUntil: number): Promise<void> {
    const db = await this.#c.connection();
    this.#c.write(db, () => {
      this.#c
        .stmt(db, SQL.registerWorker)
        .run(worker.id, worker.host, worker.pid, worker.startedAt, worker.heartbeatAt);
      if (deliveryIds.length > 0)
        this.#c.stmt(db, SQL.extendLeases).run(leaseUntil, JSON.stringify(deliveryIds), worker.id);
    });
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const db = await this.#c.connection();
    return this.#c.stmt(db, SQL.listWorkers).all().map(rowToWorker);
  }

  async releaseWorker(workerId: string, now: number): Promise<number> {
    const db = await this.#c.connection();
    return this.#c.write(db, () => {
      this.#c.stmt(db, SQL.forgetWorker).run(workerId);
      return this.#c.stmt(db, SQL.releaseOwner).run(now, workerId).changes;
    });
  }

  async release(owner: string, deliveryIds: readonly string[], now: number): Promise<void> {
    const db = await this.#c.connection();
    if (deliveryIds.length === 0) return;
    this.#c.write(db, () => {
      const release = this.#c.stmt(db, SQL.release);
      for (const id of deliveryIds) release.run(now, id, owner);
    });
  }
}

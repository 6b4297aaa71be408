import { LeaseOnInsert } from "../lease-on-insert.js";
import { pageLimit, toPage } from "../paging.js";
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

const clone = <T>(value: T): T => structuredClone(value);

/** The patch without keys whose value is undefined: like the SQL stores, an undefined field means "leave it". */
function definedFields<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Newest first, after the cursor, one extra row to tell whether more exist. */
function pageOf<T extends { id: string }>(rows: Iterable<T>, options: PageOptions, keep: (row: T) => boolean): Page<T> {
  const limit = pageLimit(options);
  const ascending = options.order === "ascending";
  const cursor = options.cursor;
  const beyond = (id: string) => cursor === undefined || (ascending ? id > cursor : id < cursor);
  const matching = [...rows]
    .filter((row) => keep(row) && beyond(row.id))
    .sort((a, b) => (a.id < b.id === ascending ? -1 : 1))
    .slice(0, limit + 1)
    .map(clone);
  return toPage(matching, limit);
}

/**
 * The in-memory store: the reference implementation of the contract, for
 * tests and for apps that accept losing queued deliveries on restart. Nothing
 * survives the process.
 *
 * @example
 * const hl = await createHookline({ store: memoryStore() });
 */
export class MemoryStore implements Store {
  readonly kind = "memory" as const;
  readonly #apps = new Map<string, AppRecord>();
  readonly #endpoints = new Map<string, EndpointRecord>();
  readonly #messages = new Map<string, MessageRecord>();
  readonly #messageByEvent = new Map<string, string>();
  readonly #deliveries = new Map<string, DeliveryRecord>();
  readonly #attempts = new Map<string, AttemptRecord>();
  readonly #documents = new Map<string, DocumentRecord>();
  readonly #workers = new Map<string, WorkerRecord>();

  async migrate(): Promise<void> {}

  /** Nothing of a memory store is at rest, so nothing is encrypted. */
  readonly encryptionKeyId = null;

  async reencryptSecrets(): Promise<number> {
    return 0;
  }

  seal(plain: string): string {
    return plain;
  }

  unseal(stored: string): string {
    return stored;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  async createApp(app: AppRecord): Promise<void> {
    if (this.#apps.has(app.id)) throw new Error(`app ${app.id} exists`);
    if (app.uid !== null && [...this.#apps.values()].some((a) => a.uid === app.uid)) {
      throw new Error(`app uid ${app.uid} exists`);
    }
    this.#apps.set(app.id, clone(app));
  }

  async getApp(idOrUid: string): Promise<AppRecord | null> {
    const app = this.#apps.get(idOrUid) ?? [...this.#apps.values()].find((a) => a.uid === idOrUid);
    return app ? clone(app) : null;
  }

  async listApps(options: PageOptions): Promise<Page<AppRecord>> {
    return pageOf(this.#apps.values(), options, () => true);
  }

  async updateApp(id: string, patch: Partial<Pick<AppRecord, "uid" | "name" | "metadata">>, now: number) {
    const app = this.#apps.get(id);
    if (!app) return null;
    const uid = patch.uid;
    if (uid !== undefined && uid !== null && [...this.#apps.values()].some((a) => a.uid === uid && a.id !== id)) {
      throw new Error(`app uid ${uid} exists`);
    }
    Object.assign(app, clone(definedFields(patch)), { updatedAt: now });
    return clone(app);
  }

  async deleteApp(id: string): Promise<boolean> {
    if (!this.#apps.delete(id)) return false;
    for (const endpoint of [...this.#endpoints.values()]) {
      if (endpoint.appId === id) await this.deleteEndpoint(endpoint.id);
    }
    for (const message of [...this.#messages.values()]) {
      if (message.appId === id) {
        this.#messages.delete(message.id);
        this.#messageByEvent.delete(`${message.appId}\u0000${message.eventId}`);
      }
    }
    return true;
  }

  async createEndpoint(endpoint: EndpointRecord): Promise<void> {
    this.#endpoints.set(endpoint.id, clone(endpoint));
  }

  async getEndpoint(id: string): Promise<EndpointRecord | null> {
    const endpoint = this.#endpoints.get(id);
    return endpoint ? clone(endpoint) : null;
  }

  async listEndpoints(options: PageOptions & { appId?: string }): Promise<Page<EndpointRecord>> {
    return pageOf(this.#endpoints.values(), options, (e) => options.appId === undefined || e.appId === options.appId);
  }

  async updateEndpoint(id: string, patch: EndpointPatch, now: number): Promise<EndpointRecord | null> {
    const endpoint = this.#endpoints.get(id);
    if (!endpoint) return null;
    const { ordering, filter, ...rest } = definedFields(patch);
    Object.assign(endpoint, clone(rest), { updatedAt: now });
    // Like a row: an endpoint that is not ordered has no `ordering` at all, nor one without a filter a `filter`.
    if (ordering === "fifo") endpoint.ordering = ordering;
    else if (ordering === null) delete endpoint.ordering;
    if (filter) endpoint.filter = clone(filter);
    else if (filter === null) delete endpoint.filter;
    return clone(endpoint);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    if (!this.#endpoints.delete(id)) return false;
    for (const delivery of [...this.#deliveries.values()]) {
      if (delivery.endpointId === id) this.#deliveries.delete(delivery.id);
    }
    for (const attempt of [...this.#attempts.values()]) {
      if (attempt.endpointId === id) this.#attempts.delete(attempt.id);
    }
    return true;
  }

  async enabledEndpoints(appId: string): Promise<EndpointRecord[]> {
    return [...this.#endpoints.values()].filter((e) => e.appId === appId && !e.disabled).map(clone);
  }

  async insertMessage(
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    options: InsertOptions = {},
  ): Promise<InsertMessageResult> {
    const key = `${message.appId}\u0000${message.eventId}`;
    const existingId = this.#messageByEvent.get(key);
    const existing = existingId === undefined ? undefined : this.#messages.get(existingId);
    if (existing) {
      const deliveryCount = [...this.#deliveries.values()].filter((d) => d.messageId === existing.id).length;
      return { message: clone(existing), deliveryCount, created: false };
    }
    for (const [i, delivery] of deliveries.entries()) {
      // Behind an unfinished delivery of its ordered group (stored, or earlier in this message): parked.
      if (delivery.orderingKey === undefined) continue;
      const behind = (d: DeliveryRecord) =>
        d.endpointId === delivery.endpointId &&
        d.orderingKey === delivery.orderingKey &&
        (d.status === "pending" || d.status === "sending");
      if ([...this.#deliveries.values()].some(behind) || deliveries.slice(0, i).some(behind)) {
        delivery.nextAttemptAt = null;
      }
    }
    const leases = new LeaseOnInsert((endpointId, now) => this.#queueState(endpointId, now));
    // Ordered deliveries always take the claim path, where their order is kept.
    const leased =
      options.claim &&
      leases.lease(
        deliveries.filter((d) => d.orderingKey === undefined),
        options.claim,
      );
    this.#messages.set(message.id, clone(message));
    this.#messageByEvent.set(key, message.id);
    for (const delivery of deliveries) this.#deliveries.set(delivery.id, clone(delivery));
    return { message: clone(message), deliveryCount: deliveries.length, created: true, ...(leased && { leased }) };
  }

  #queueState(endpointId: string, now: number): { waiting: boolean; live: number } {
    let waiting = false;
    let live = 0;
    for (const d of this.#deliveries.values()) {
      if (d.endpointId !== endpointId || (d.status !== "pending" && d.status !== "sending")) continue;
      if (d.nextAttemptAt === null) continue; // parked behind an ordered delivery
      if (d.nextAttemptAt <= now) waiting = true;
      else if (d.status === "sending") live++;
    }
    return { waiting, live };
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const message = this.#messages.get(id);
    return message ? clone(message) : null;
  }

  async listMessages(filter: MessageFilter): Promise<Page<MessageRecord>> {
    return pageOf(
      this.#messages.values(),
      filter,
      (m) =>
        m.appId === filter.appId &&
        (filter.eventTypes === undefined ||
          filter.eventTypes.length === 0 ||
          filter.eventTypes.includes(m.eventType)) &&
        (filter.before === undefined || m.createdAt < filter.before) &&
        (filter.after === undefined || m.createdAt > filter.after),
    );
  }

  async claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    const { now, owner, leaseMs, limit, perEndpointLimit } = options;
    const excluded = new Set(options.excludeEndpointIds ?? []);
    const busy = new Map<string, number>();
    const due: DeliveryRecord[] = [];
    for (const delivery of this.#deliveries.values()) {
      if (delivery.status === "sending" && (delivery.nextAttemptAt ?? 0) > now) {
        busy.set(delivery.endpointId, (busy.get(delivery.endpointId) ?? 0) + 1);
      } else if (
        (delivery.status === "pending" || delivery.status === "sending") &&
        delivery.nextAttemptAt !== null &&
        delivery.nextAttemptAt <= now &&
        !excluded.has(delivery.endpointId) &&
        this.#endpoints.get(delivery.endpointId)?.disabled === false
      ) {
        due.push(delivery);
      }
    }
    due.sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || (a.id < b.id ? -1 : 1));
    const claimed: ClaimedDelivery[] = [];
    for (const delivery of due) {
      if (claimed.length >= limit) break;
      const inFlight = busy.get(delivery.endpointId) ?? 0;
      if (inFlight >= perEndpointLimit) continue;
      busy.set(delivery.endpointId, inFlight + 1);
      Object.assign(delivery, { status: "sending", leaseOwner: owner, nextAttemptAt: now + leaseMs, updatedAt: now });
      const message = this.#messages.get(delivery.messageId);
      const endpoint = this.#endpoints.get(delivery.endpointId);
      if (message && endpoint)
        claimed.push({ delivery: clone(delivery), message: clone(message), endpoint: clone(endpoint) });
    }
    return claimed;
  }

  async complete(
    completions: Completion[],
    now: number,
    disableAfterMs: number,
    claim?: ClaimOptions,
  ): Promise<CompletionEffects> {
    const effects = this.#complete(completions, now, disableAfterMs);
    return claim ? { ...effects, claimed: await this.claimDue(claim) } : effects;
  }

  #complete(completions: Completion[], now: number, disableAfterMs: number): CompletionEffects {
    const effects: CompletionEffects = { failingEndpoints: [], disabledEndpoints: [], lostLeases: [] };
    for (const completion of completions) {
      // The attempt happened whatever became of the lease: record it.
      this.#attempts.set(completion.attempt.id, clone(completion.attempt));
      const delivery = this.#deliveries.get(completion.deliveryId);
      if (delivery?.status === "sending" && delivery.leaseOwner === completion.owner) {
        Object.assign(delivery, {
          status: completion.status,
          attemptCount: delivery.attemptCount + 1,
          nextAttemptAt: completion.nextAttemptAt,
          leaseOwner: null,
          nextTrigger: "scheduled",
          lastStatusCode: completion.attempt.statusCode,
          lastError: completion.attempt.error,
          updatedAt: now,
        });
        if (delivery.orderingKey !== undefined && completion.status !== "pending") this.#activateNext(delivery, now);
      } else {
        effects.lostLeases.push(completion.deliveryId);
      }
      const endpoint = this.#endpoints.get(completion.attempt.endpointId);
      if (!endpoint) continue;
      if (completion.endpointOutcome === "succeeded") {
        if (endpoint.failingSince !== null) Object.assign(endpoint, { failingSince: null, updatedAt: now });
        continue;
      }
      if (endpoint.failingSince === null) {
        Object.assign(endpoint, { failingSince: now, updatedAt: now });
        effects.failingEndpoints.push({ endpointId: endpoint.id, failingSince: now });
      }
      if (endpoint.disabled) continue;
      const reason =
        completion.endpointOutcome === "gone"
          ? "gone"
          : endpoint.failingSince !== null && now - endpoint.failingSince >= disableAfterMs
            ? "failing"
            : null;
      if (reason !== null) {
        Object.assign(endpoint, { disabled: true, disabledReason: reason, updatedAt: now });
        effects.disabledEndpoints.push({ endpointId: endpoint.id, reason });
      }
    }
    return effects;
  }

  async heartbeat(worker: WorkerRecord, deliveryIds: readonly string[], leaseUntil: number): Promise<void> {
    this.#workers.set(worker.id, clone(worker));
    for (const id of deliveryIds) {
      const delivery = this.#deliveries.get(id);
      if (delivery?.status === "sending" && delivery.leaseOwner === worker.id) delivery.nextAttemptAt = leaseUntil;
    }
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    return [...this.#workers.values()].map(clone);
  }

  async releaseWorker(workerId: string, now: number): Promise<number> {
    this.#workers.delete(workerId);
    let released = 0;
    for (const delivery of this.#deliveries.values()) {
      if (delivery.status === "sending" && delivery.leaseOwner === workerId) {
        Object.assign(delivery, {
          status: "pending",
          leaseOwner: null,
          nextAttemptAt: delivery.createdAt,
          updatedAt: now,
        });
        released++;
      }
    }
    return released;
  }

  /** The oldest delivery parked behind `finished` in its ordered group becomes due. */
  #activateNext(finished: DeliveryRecord, now: number): void {
    let next: DeliveryRecord | undefined;
    for (const d of this.#deliveries.values()) {
      if (
        d.endpointId === finished.endpointId &&
        d.orderingKey === finished.orderingKey &&
        d.status === "pending" &&
        d.nextAttemptAt === null &&
        (next === undefined || d.id < next.id)
      ) {
        next = d;
      }
    }
    if (next) Object.assign(next, { nextAttemptAt: now, updatedAt: now });
  }

  async release(owner: string, deliveryIds: readonly string[], now: number): Promise<void> {
    for (const id of deliveryIds) {
      const delivery = this.#deliveries.get(id);
      if (delivery?.status === "sending" && delivery.leaseOwner === owner) {
        Object.assign(delivery, {
          status: "pending",
          leaseOwner: null,
          nextAttemptAt: delivery.createdAt,
          updatedAt: now,
        });
      }
    }
  }

  async addDelivery(delivery: DeliveryRecord): Promise<void> {
    this.#deliveries.set(delivery.id, clone(delivery));
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    const delivery = this.#deliveries.get(id);
    return delivery ? clone(delivery) : null;
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Page<DeliveryRecord>> {
    return pageOf(
      this.#deliveries.values(),
      filter,
      (d) =>
        (filter.appId === undefined || d.appId === filter.appId) &&
        (filter.status === undefined || d.status === filter.status) &&
        (filter.endpointId === undefined || d.endpointId === filter.endpointId) &&
        (filter.messageId === undefined || d.messageId === filter.messageId),
    );
  }

  async requeueDelivery(id: string, now: number): Promise<DeliveryRecord | null> {
    const delivery = this.#deliveries.get(id);
    if (!delivery || delivery.status === "sending" || !this.#hasPayload(delivery.messageId)) return null;
    Object.assign(delivery, { status: "pending", nextAttemptAt: now, nextTrigger: "manual", updatedAt: now });
    return clone(delivery);
  }

  async recoverEndpoint(endpointId: string, since: number, until: number, now: number): Promise<number> {
    let count = 0;
    for (const delivery of this.#deliveries.values()) {
      if (
        delivery.endpointId === endpointId &&
        delivery.status === "failed" &&
        delivery.updatedAt >= since &&
        delivery.updatedAt < until &&
        this.#hasPayload(delivery.messageId)
      ) {
        Object.assign(delivery, { status: "pending", nextAttemptAt: now, nextTrigger: "manual", updatedAt: now });
        count++;
      }
    }
    return count;
  }

  #hasPayload(messageId: string): boolean {
    return (this.#messages.get(messageId)?.expungedAt ?? null) === null;
  }

  #oldestFirst(): MessageRecord[] {
    return [...this.#messages.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Finished: no delivery of the message pending or sending. */
  #finished(messageId: string): boolean {
    for (const d of this.#deliveries.values()) {
      if (d.messageId === messageId && (d.status === "pending" || d.status === "sending")) return false;
    }
    return true;
  }

  async expirePayloads(options: { before: number; now: number; limit: number }): Promise<number> {
    let count = 0;
    for (const message of this.#oldestFirst()) {
      if (count >= options.limit) break;
      if ((message.expungedAt ?? null) !== null) continue;
      const own = message.payloadExpiresAt ?? null;
      const due = own === null ? message.createdAt < options.before : own <= options.now;
      if (!due || !this.#finished(message.id)) continue;
      Object.assign(message, { body: "", expungedAt: options.now });
      count++;
    }
    return count;
  }

  async deleteHistory(options: { before: number; limit: number }): Promise<number> {
    let count = 0;
    for (const message of this.#oldestFirst()) {
      if (count >= options.limit || message.createdAt >= options.before) break;
      if (!this.#finished(message.id)) continue;
      this.#messages.delete(message.id);
      this.#messageByEvent.delete(`${message.appId}\u0000${message.eventId}`);
      for (const d of [...this.#deliveries.values()]) if (d.messageId === message.id) this.#deliveries.delete(d.id);
      for (const a of [...this.#attempts.values()]) if (a.messageId === message.id) this.#attempts.delete(a.id);
      count++;
    }
    return count;
  }

  async expungeMessage(id: string, now: number): Promise<"expunged" | "in_progress" | "not_found"> {
    const message = this.#messages.get(id);
    if (!message) return "not_found";
    if (!this.#finished(id)) return "in_progress";
    Object.assign(message, { body: "", expungedAt: message.expungedAt ?? now });
    return "expunged";
  }

  async listAttempts(filter: AttemptFilter): Promise<Page<AttemptRecord>> {
    return pageOf(
      this.#attempts.values(),
      filter,
      (a) =>
        (filter.appId === undefined || a.appId === filter.appId) &&
        (filter.deliveryId === undefined || a.deliveryId === filter.deliveryId) &&
        (filter.messageId === undefined || a.messageId === filter.messageId) &&
        (filter.endpointId === undefined || a.endpointId === filter.endpointId),
    );
  }

  async nextDueAt(): Promise<number | null> {
    let earliest: number | null = null;
    for (const delivery of this.#deliveries.values()) {
      if ((delivery.status === "pending" || delivery.status === "sending") && delivery.nextAttemptAt !== null) {
        if (earliest === null || delivery.nextAttemptAt < earliest) earliest = delivery.nextAttemptAt;
      }
    }
    return earliest;
  }

  async putDocument(document: DocumentRecord, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    const id = `${document.namespace}\u0000${document.key}`;
    const existing = this.#documents.get(id);
    if (existing && options.onlyIfAbsent) return false;
    this.#documents.set(id, { ...document, createdAt: existing?.createdAt ?? document.createdAt });
    return true;
  }

  async getDocument(namespace: string, key: string): Promise<DocumentRecord | null> {
    const document = this.#documents.get(`${namespace}\u0000${key}`);
    return document ? { ...document } : null;
  }

  async deleteDocument(namespace: string, key: string): Promise<boolean> {
    return this.#documents.delete(`${namespace}\u0000${key}`);
  }

  async listDocuments(namespace: string, options: PageOptions): Promise<Page<DocumentRecord>> {
    const limit = pageLimit(options);
    const rows = [...this.#documents.values()]
      .filter((d) => d.namespace === namespace && (options.cursor === undefined || d.key > options.cursor))
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .slice(0, limit + 1)
      .map((d) => ({ ...d }));
    return toPage(rows, limit, (d) => d.key);
  }

  async countDeliveries(filter: DeliveryCountFilter = {}): Promise<Record<DeliveryStatus, number>> {
    const counts: Record<DeliveryStatus, number> = { pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 };
    for (const d of this.#deliveries.values()) {
      if (filter.endpointId !== undefined && d.endpointId !== filter.endpointId) continue;
      if (filter.appId !== undefined && d.appId !== filter.appId) continue;
      if (filter.since !== undefined && d.createdAt < filter.since) continue;
      if (filter.until !== undefined && d.createdAt >= filter.until) continue;
      counts[d.status]++;
    }
    return counts;
  }
}

/** A new in-memory store (nothing survives the process). */
export function memoryStore(): MemoryStore {
  return new MemoryStore();
}

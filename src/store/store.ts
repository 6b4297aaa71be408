import type { SignatureAlgorithm } from "../core/enums.js";

/**
 * The persistence contract of the durable engine. The memory, SQLite and
 * PostgreSQL stores implement exactly this; one contract test suite runs
 * against all three. Stores are deliberately dumb: the worker decides what
 * happens after an attempt, the store applies it atomically. Times are
 * integer milliseconds since the Unix epoch, always passed in (the engine's
 * clock), never read from the database's clock.
 */

export type DeliveryStatus = "pending" | "sending" | "delivered" | "failed" | "cancelled";
export type AttemptTrigger = "scheduled" | "manual";
/** `envelope`: the seed's `{event_id, event_type, payload, source, timestamp}`; `payload`: the payload alone (Svix API). */
export type BodyFormat = "envelope" | "payload";

export interface EndpointSecret {
  secret: string;
  /** Null for the current secret; a previous secret signs until this time. */
  expiresAt: number | null;
}

export interface AppRecord {
  id: string;
  uid: string | null;
  name: string;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface EndpointRecord {
  id: string;
  appId: string;
  uid: string | null;
  url: string;
  description: string;
  /** The current secret first, then previous ones still in their grace period. */
  secrets: EndpointSecret[];
  /** Exact names or `prefix.*`; empty takes every event. */
  eventTypes: string[];
  channels: string[] | null;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  rateLimitPerSecond: number | null;
  signatureAlgorithm: SignatureAlgorithm;
  timeoutMs: number;
  disabled: boolean;
  disabledReason: string | null;
  /** Start of the current run of failures without a success; null when healthy. */
  failingSince: number | null;
  /**
   * `fifo`: deliveries are made strictly in send order, one at a time (per
   * ordering key); a failing one holds those behind it until it succeeds or is
   * exhausted. Absent: no order, deliveries in parallel.
   */
  ordering?: "fifo";
  /**
   * A payload filter (see `delivery/filter.ts`): a message whose payload it
   * does not take gets no delivery here. Absent (or null): every payload.
   */
  filter?: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
}

/** Fields of an endpoint that `updateEndpoint` may change. */
export type EndpointPatch = Partial<
  Pick<
    EndpointRecord,
    | "uid"
    | "url"
    | "description"
    | "secrets"
    | "eventTypes"
    | "channels"
    | "headers"
    | "metadata"
    | "rateLimitPerSecond"
    | "signatureAlgorithm"
    | "timeoutMs"
    | "disabled"
    | "disabledReason"
    | "failingSince"
  >
> & { ordering?: "fifo" | null; filter?: Record<string, unknown> | null };

export interface MessageRecord {
  id: string;
  appId: string;
  /** Idempotency key, unique per app; sent as `webhook-id`. */
  eventId: string;
  eventType: string;
  /** The exact body bytes that are signed and sent. */
  body: string;
  bodyFormat: BodyFormat;
  channels: string[] | null;
  tags: string[] | null;
  createdAt: number;
  /** The W3C `traceparent` of the send, sent on every attempt so the receiver's trace joins it; absent when none. */
  traceparent?: string | null;
  /** When this message's payload is expunged, if it has a retention of its own; else the store-wide retention applies. */
  payloadExpiresAt?: number | null;
  /** When the payload was expunged: `body` is then empty, and the message can no longer be sent. */
  expungedAt?: number | null;
}

export interface DeliveryRecord {
  id: string;
  messageId: string;
  endpointId: string;
  appId: string;
  status: DeliveryStatus;
  attemptCount: number;
  /**
   * When pending: when it is due, or null while an earlier delivery of its
   * ordered group is unfinished. When sending: when the lease expires.
   * Otherwise null.
   */
  nextAttemptAt: number | null;
  leaseOwner: string | null;
  /** What starts the next attempt: the schedule, or a person (retry, recover). */
  nextTrigger: AttemptTrigger;
  lastStatusCode: number | null;
  lastError: string | null;
  /**
   * For an endpoint with `ordering: "fifo"`: the group this delivery is
   * ordered within (the message's ordering key, "" for the whole endpoint).
   * Absent for unordered deliveries.
   */
  orderingKey?: string;
  createdAt: number;
  updatedAt: number;
}

export interface AttemptRecord {
  id: string;
  deliveryId: string;
  messageId: string;
  endpointId: string;
  appId: string;
  /** 1 for the first attempt of the delivery. */
  number: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  /** The start of the response body, capped. */
  responseExcerpt: string | null;
  errorCode: string | null;
  error: string | null;
  trigger: AttemptTrigger;
  succeeded: boolean;
}

/**
 * A worker process as the store knows it. Its leases stay alive while it
 * heartbeats; once it stops, any other worker may take them over.
 */
export interface WorkerRecord {
  id: string;
  /** The machine and PID namespace the process runs in: where its `pid` means something. */
  host: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
}

export interface ClaimedDelivery {
  delivery: DeliveryRecord;
  message: MessageRecord;
  endpoint: EndpointRecord;
}

export interface ClaimOptions {
  /** Identifies the claiming worker; completions and releases must present it. */
  owner: string;
  now: number;
  /** The claimed rows become claimable again at `now + leaseMs` if not completed. */
  leaseMs: number;
  /** Most rows to claim. */
  limit: number;
  /** Most rows of one endpoint in `sending` with a live lease, counting every worker's. */
  perEndpointLimit: number;
  /** Endpoints to skip this time (rate-limited in this process). */
  excludeEndpointIds?: readonly string[];
}

/** What the worker decided after one attempt. */
export interface Completion {
  deliveryId: string;
  owner: string;
  attempt: AttemptRecord;
  status: "pending" | "delivered" | "failed";
  /** When the next attempt is due (status pending), else null. */
  nextAttemptAt: number | null;
  /** How the attempt reflects on the endpoint: a success ends a failing run; `gone` (410) disables it. */
  endpointOutcome: "succeeded" | "failed" | "gone";
}

export interface CompletionEffects {
  /** Endpoints whose failing run started with this batch. */
  failingEndpoints: Array<{ endpointId: string; failingSince: number }>;
  /** Endpoints disabled by this batch (410, or failing longer than the threshold). */
  disabledEndpoints: Array<{ endpointId: string; reason: string }>;
  /** Deliveries whose lease had been lost: the attempt was recorded but the delivery left alone. */
  lostLeases: string[];
  /** With a `claim` passed to `complete`: what was claimed in the same transaction. */
  claimed?: ClaimedDelivery[];
}

/**
 * A small JSON document of the service layer (an event type, an API key, an
 * idempotency record), addressed by namespace and key.
 */
export interface DocumentRecord {
  namespace: string;
  key: string;
  /** JSON text. */
  value: string;
  createdAt: number;
  updatedAt: number;
}

export interface Page<T> {
  data: T[];
  /** Pass as `cursor` to get the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface PageOptions {
  limit?: number;
  /** An id from a previous page's `nextCursor`. */
  cursor?: string;
  /** `descending` (default): newest first, ids below the cursor; `ascending`: oldest first, ids above it. */
  order?: "ascending" | "descending";
}

/** Which deliveries `countDeliveries` counts: of an endpoint or an app, created in [since, until). */
export interface DeliveryCountFilter {
  endpointId?: string;
  appId?: string;
  since?: number;
  until?: number;
}

export interface DeliveryFilter extends PageOptions {
  appId?: string;
  status?: DeliveryStatus;
  endpointId?: string;
  messageId?: string;
}

export interface AttemptFilter extends PageOptions {
  appId?: string;
  deliveryId?: string;
  messageId?: string;
  endpointId?: string;
}

export interface MessageFilter extends PageOptions {
  appId: string;
  eventTypes?: string[];
  /** Only messages created before / after these times. */
  before?: number;
  after?: number;
}

export interface InsertMessageResult {
  message: MessageRecord;
  deliveryCount: number;
  /** False when a message with the same app and event id existed: nothing was written. */
  created: boolean;
  /** With `InsertOptions.claim`: ids of the deliveries written already leased to the claiming worker. */
  leased?: string[];
}

/** Options a store may accept on `insertMessage`; PostgreSQL takes the caller's `pg` client. */
export interface InsertOptions {
  /** A `pg` client inside an open transaction: the message commits or rolls back with it. */
  client?: unknown;
  /**
   * Lease new deliveries to this worker as they are written (status
   * `sending`, no claim needed afterwards), oldest endpoint order, at most
   * `limit` of them: each only if its endpoint is not excluded, has no older
   * delivery due and waiting, and is under `perEndpointLimit` live leases.
   * The rest are written pending as usual.
   */
  claim?: ClaimOptions;
}

export interface Store {
  readonly kind: "memory" | "sqlite" | "postgres";
  /** Creates or upgrades the schema; safe when several processes call it at once. */
  migrate(): Promise<void>;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  /** The id of the key endpoint secrets and header values are encrypted with at rest; null when stored in clear. */
  readonly encryptionKeyId: string | null;
  /**
   * Re-encrypts every endpoint's secrets and header values, and every sealed
   * document, under the main key, in batches of `batchSize` rows (each its own short transaction);
   * returns how many endpoints were rewritten. Values already under the main
   * key are skipped, so it can be run again after an interruption.
   */
  reencryptSecrets(batchSize?: number): Promise<number>;
  /**
   * A value encrypted with the store's key, for a document that holds a
   * credential (an inbound source's secret): stored sealed, re-encrypted by
   * `reencryptSecrets`, checked at `migrate`. Clear text without a key.
   */
  seal(plain: string): string;
  /** The clear value of `seal`'s output (clear values come back as they are). */
  unseal(stored: string): string;

  /**
   * Retention, step 1: expunges (empties) the payloads of at most `limit`
   * messages that are finished — no delivery pending or sending — and were
   * created before `before` without a retention of their own, or whose own
   * `payloadExpiresAt` is ≤ `now`. One short transaction; returns how many.
   */
  expirePayloads(options: { before: number; now: number; limit: number }): Promise<number>;
  /**
   * Retention, step 2: deletes at most `limit` finished messages created
   * before `before`, with their deliveries and attempts. One short transaction.
   */
  deleteHistory(options: { before: number; limit: number }): Promise<number>;
  /**
   * Expunges one message's payload now (an erasure request), unless a
   * delivery of it is pending or sending: those would send an empty body.
   */
  expungeMessage(id: string, now: number): Promise<"expunged" | "in_progress" | "not_found">;
  close(): Promise<void>;
  /** Subscribes to wake-ups from other processes (PostgreSQL LISTEN); returns an unsubscribe function. */
  onWake?(listener: () => void): Promise<() => Promise<void>>;

  createApp(app: AppRecord): Promise<void>;
  getApp(idOrUid: string): Promise<AppRecord | null>;
  listApps(options: PageOptions): Promise<Page<AppRecord>>;
  updateApp(
    id: string,
    patch: Partial<Pick<AppRecord, "uid" | "name" | "metadata">>,
    now: number,
  ): Promise<AppRecord | null>;
  /** Deletes the app with its endpoints, messages, deliveries and attempts. */
  deleteApp(id: string): Promise<boolean>;

  createEndpoint(endpoint: EndpointRecord): Promise<void>;
  getEndpoint(id: string): Promise<EndpointRecord | null>;
  listEndpoints(options: PageOptions & { appId?: string }): Promise<Page<EndpointRecord>>;
  updateEndpoint(id: string, patch: EndpointPatch, now: number): Promise<EndpointRecord | null>;
  /** Deletes the endpoint with its deliveries and attempts. */
  deleteEndpoint(id: string): Promise<boolean>;
  /** The app's endpoints that are not disabled, for fan-out. */
  enabledEndpoints(appId: string): Promise<EndpointRecord[]>;

  /**
   * Writes the message and its deliveries in one transaction, durable when
   * the promise resolves. Idempotent on (appId, eventId).
   */
  insertMessage(
    message: MessageRecord,
    deliveries: DeliveryRecord[],
    options?: InsertOptions,
  ): Promise<InsertMessageResult>;
  getMessage(id: string): Promise<MessageRecord | null>;
  listMessages(filter: MessageFilter): Promise<Page<MessageRecord>>;

  /**
   * Claims due deliveries (pending and due, or sending with an expired lease)
   * of enabled endpoints, oldest first, at most `perEndpointLimit` in flight
   * per endpoint, and leases them to `owner`. Two concurrent claims never
   * return the same delivery.
   */
  claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /**
   * Applies a batch of completions in one transaction: records every attempt,
   * updates each delivery still leased to its owner, and updates endpoint
   * health (failing since, disabled after `disableAfterMs` of failures or on 410).
   * With `claim`, then claims as `claimDue` would, in the same transaction:
   * the slots the batch frees are filled without a transaction of their own.
   */
  complete(
    completions: Completion[],
    now: number,
    disableAfterMs: number,
    claim?: ClaimOptions,
  ): Promise<CompletionEffects>;
  /**
   * Gives leased deliveries back without recording an attempt, due again as
   * of their `createdAt`: they were at the head of the queue when claimed,
   * so they go back to it instead of behind every delivery due since.
   */
  release(owner: string, deliveryIds: readonly string[], now: number): Promise<void>;
  /**
   * Registers the worker or refreshes its heartbeat, and extends to
   * `leaseUntil` the leases it still holds among `deliveryIds` (the
   * deliveries it is working on), in one transaction.
   */
  heartbeat(worker: WorkerRecord, deliveryIds: readonly string[], leaseUntil: number): Promise<void>;
  /** Every registered worker, live or not. */
  listWorkers(): Promise<WorkerRecord[]>;
  /**
   * Hands back every lease the worker holds, as `release` does, and forgets
   * the worker; returns how many leases were handed back.
   */
  releaseWorker(workerId: string, now: number): Promise<number>;
  getDelivery(id: string): Promise<DeliveryRecord | null>;
  /** Adds one delivery to a message already stored (Svix's resend to an endpoint the message did not go to). */
  addDelivery(delivery: DeliveryRecord): Promise<void>;
  listDeliveries(filter: DeliveryFilter): Promise<Page<DeliveryRecord>>;
  /** Makes a delivery due now for one manual attempt; null if unknown or currently sending. */
  requeueDelivery(id: string, now: number): Promise<DeliveryRecord | null>;
  /** Requeues every failed delivery of the endpoint last updated in [since, until); returns how many. */
  recoverEndpoint(endpointId: string, since: number, until: number, now: number): Promise<number>;
  listAttempts(filter: AttemptFilter): Promise<Page<AttemptRecord>>;
  /** The earliest `nextAttemptAt` among pending and sending deliveries, or null. */
  nextDueAt(): Promise<number | null>;
  /**
   * Writes a document. With `onlyIfAbsent`, an existing document is left
   * untouched and the result is false; otherwise it is replaced (keeping its
   * createdAt) and the result is true.
   */
  putDocument(document: DocumentRecord, options?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  getDocument(namespace: string, key: string): Promise<DocumentRecord | null>;
  deleteDocument(namespace: string, key: string): Promise<boolean>;
  /** A namespace's documents in ascending key order; `cursor` is the last key of the previous page. */
  listDocuments(namespace: string, options: PageOptions): Promise<Page<DocumentRecord>>;
  /** Deliveries per status, for metrics and tests. */
  countDeliveries(filter?: DeliveryCountFilter): Promise<Record<DeliveryStatus, number>>;
}

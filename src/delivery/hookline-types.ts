import type { Clock } from "../core/clock.js";
import type { SignatureAlgorithm } from "../core/enums.js";
import type { AttemptRecord, BodyFormat, EndpointRecord, MessageRecord, Store } from "../store/store.js";
import type { WebhookTransport } from "../transport/transport.js";
import type { PurgeReport, RetentionOptions } from "./retention.js";

// The engine's options, inputs, results and events: hookline.ts re-exports every one.

export interface HooklineOptions {
  /** Where endpoints, messages, deliveries and attempts live. An in-memory store when omitted. */
  store?: Store;
  /** How webhooks leave; an {@link HttpTransport} with the egress guard by default. */
  transport?: WebhookTransport;
  /** Lift the egress guard of the default transport (local testing). */
  allowPrivateNetworks?: boolean;
  /** CIDRs the default transport may reach even though they are private. */
  allowedCidrs?: readonly string[];
  /** Delay before each attempt in ms; the first entry is the first attempt. Default: DESIGN.md's schedule. */
  retrySchedule?: readonly number[];
  /** ± spread of each scheduled delay (default 0.2). */
  retryJitterRatio?: number;
  /** Deliveries in flight at once in this process (default 64). */
  concurrency?: number;
  /** Deliveries of one endpoint in flight at once, across every worker (default 10). */
  perEndpointConcurrency?: number;
  /**
   * An attempt running longer than this (default 1 s) no longer counts against `concurrency`, so
   * slow receivers cannot starve the others; up to three times `concurrency` such attempts run
   * beside the rest, after which the endpoints they belong to wait for them to finish.
   */
  slowAttemptMs?: number;
  /** Rows per claim and per completion batch (default 100). */
  batchSize?: number;
  /**
   * How long a lease outlives its worker's last heartbeat (default 9 s; workers beat every third of
   * it and extend their leases meanwhile, so attempts may run as long as their endpoint's timeout).
   * A worker on the same host that finds a dead predecessor takes its leases over at once.
   */
  leaseMs?: number;
  /**
   * How long this process keeps what it reads for every send or request — apps, API keys, an app's
   * enabled endpoints, the event types' schemas (default 1 s; 0 reads them every time). Changes
   * made through this process apply at once; changes made by another process on the same
   * database (a deleted API key, too), within this time.
   */
  readCacheTtlMs?: number;
  /** Safety-net poll when no wake-up arrives (default 1 s). */
  pollIntervalMs?: number;
  /** An endpoint failing without a success this long is disabled (default 5 days). */
  disableAfterMs?: number;
  /** Largest accepted message body in bytes (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Upper bound on a receiver's `Retry-After` (default 24 h). */
  maxRetryAfterMs?: number;
  /**
   * How long finished messages are kept: payloads expunged after `payloadMs`, records deleted after
   * `historyMs`, purged in small batches while the workers run. Nothing is purged by default.
   */
  retention?: RetentionOptions;
  clock?: Clock;
}

/** An endpoint as the engine returns it: the stored record plus its current secret. */
export type Endpoint = EndpointRecord & { secret: string };

export interface EndpointInput {
  url: string;
  /** `whsec_…`, `whsk_…` or a raw secret; a new `whsec_` secret when omitted. */
  secret?: string;
  eventTypes?: string[];
  description?: string;
  headers?: Record<string, string>;
  rateLimitPerSecond?: number | null;
  metadata?: Record<string, string>;
  appId?: string;
  uid?: string | null;
  channels?: string[] | null;
  signatureAlgorithm?: SignatureAlgorithm;
  timeoutMs?: number;
  disabled?: boolean;
  /**
   * `"fifo"`: deliveries strictly in send order, one at a time (per
   * `orderingKey` of the messages, when they carry one); a failing one holds
   * those behind it until it succeeds or is exhausted. `null` turns it off.
   */
  ordering?: "fifo" | null;
  /**
   * A payload filter: only messages whose payload it takes are delivered
   * here, e.g. `{ amount: { $gte: 100 }, "customer.country": { $in: ["DE", "FR"] } }`
   * (the operators and their semantics: `compileFilter`). Validated when
   * saved; `null` removes it.
   */
  filter?: Record<string, unknown> | null;
}

export type EndpointUpdate = Partial<Omit<EndpointInput, "appId" | "secret">>;

export interface SendInput {
  eventType: string;
  payload: unknown;
  /** Idempotency key per app: sending it again returns the first message and creates nothing. */
  eventId?: string;
  appId?: string;
  source?: string;
  channels?: string[];
  tags?: string[];
  /** `envelope` (default) sends DESIGN.md's event envelope; `payload` sends the payload alone, as Svix does. */
  bodyFormat?: BodyFormat;
  /**
   * For endpoints with `ordering: "fifo"`: the group this message keeps its
   * order within (say, a customer id); groups are delivered in parallel.
   * Without it, the endpoint's whole stream is one group.
   */
  orderingKey?: string;
  /**
   * This message's payload is expunged this long after it is sent (once its deliveries are done),
   * instead of after the store-wide `retention.payloadMs`.
   */
  payloadRetentionMs?: number;
  /**
   * The W3C `traceparent` this send continues (the API server passes its
   * request's); without it, the active OpenTelemetry context's. Kept on the
   * message and sent on each attempt. A malformed value is ignored.
   */
  traceparent?: string;
}

export interface SendResult {
  messageId: string;
  eventId: string;
  deliveryCount: number;
  /** False when the event id had been sent before: the first message is returned. */
  created: boolean;
  /** The stored message (the first one when `created` is false). */
  message: MessageRecord;
}

export interface DeliveryEvent {
  deliveryId: string;
  messageId: string;
  endpointId: string;
  appId: string;
  attempt: AttemptRecord;
  /** When the next attempt is due (`delivery:failed`), else null. */
  nextAttemptAt: number | null;
}

export interface HooklineEvents {
  "delivery:succeeded": [DeliveryEvent];
  /** An attempt failed and another is scheduled. */
  "delivery:failed": [DeliveryEvent];
  /** The last attempt failed: the delivery is `failed` (the dead letter) until retried by hand. */
  "delivery:exhausted": [DeliveryEvent];
  /** An endpoint started a run of failures (a warning before it may be disabled). */
  "endpoint:failing": [{ endpointId: string; failingSince: number }];
  "endpoint:disabled": [{ endpointId: string; reason: string }];
  /**
   * Deliveries became due through this process (a send, a resend, a recovery,
   * an endpoint enabled). Workers in this process are woken already; a worker
   * in another process on the same SQLite file (which has no LISTEN/NOTIFY)
   * needs its `wake()` called.
   */
  "work:queued": [];
  /** A background purge pass expunged payloads or deleted history (see `retention`). */
  "retention:purged": [PurgeReport];
  /** Infrastructure trouble in the background worker (the store unreachable); it retries by itself. */
  error: [unknown];
}

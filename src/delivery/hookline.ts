import { EventEmitter } from "node:events";
import { type Clock, systemClock } from "../core/clock.js";
import { ConfigurationError, ConflictError, NotFoundError } from "../core/errors.js";
import { matchesEventType } from "../core/event-filter.js";
import type { AnyEvents, EventMap } from "../core/event-map.js";
import { newId } from "../core/ids.js";
import { plainJson } from "../core/json.js";
import { requireInteger, WebhookEvent } from "../core/models.js";
import { DEFAULTS } from "../core/options.js";
import { generateSecret, parseSigningSecret } from "../signing/secrets.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import type {
  AppRecord,
  AttemptFilter,
  AttemptRecord,
  DeliveryFilter,
  DeliveryRecord,
  EndpointPatch,
  EndpointRecord,
  InsertMessageResult,
  InsertOptions,
  MessageFilter,
  MessageRecord,
  Page,
  PageOptions,
  Store,
} from "../store/store.js";
import { EgressPolicy } from "../transport/egress-guard.js";
import { HttpTransport } from "../transport/http-transport.js";
import type { WebhookTransport } from "../transport/transport.js";
import { ApiKeys } from "./api-keys.js";
import { EventTypes } from "./event-types.js";
import { EndpointFilters } from "./filter.js";
import type {
  DeliveryEvent,
  Endpoint,
  EndpointInput,
  EndpointUpdate,
  HooklineEvents,
  HooklineOptions,
  SendInput,
  SendResult,
} from "./hookline-types.js";
import {
  optionalNames,
  requireName,
  stringMap,
  toMs,
  validatePatch,
  validateUrl,
  withoutNullExtensions,
  withoutUndefined,
} from "./input-checks.js";
import { ReadCache } from "./read-cache.js";
import { type PurgeReport, RetentionPurger } from "./retention.js";
import { scheduledRetry } from "./retry-policy.js";
import { Sources } from "./sources.js";
import { endSendSpan, startSendSpan } from "./tracing.js";
import { type CompletedAttempt, DeliveryWorker } from "./worker.js";

/**
 * The durable webhook engine: endpoints, messages, deliveries and attempts in
 * a store, and workers that deliver at least once through crashes. Create it
 * with {@link createHookline}.
 *
 * @example
 * const hl = await createHookline({ store: sqliteStore({ path: "hookline.db" }) });
 * const ep = await hl.endpoints.create({ url: "https://example.com/hooks", eventTypes: ["invoice.*"] });
 * await hl.send({ eventType: "invoice.paid", payload: { id: "in_1" } });
 * await hl.start();
 */
export class Hookline<E extends EventMap = AnyEvents> extends EventEmitter<HooklineEvents> {
  readonly store: Store;
  /** The event type catalogue; payloads of a type with a schema are validated on send. */
  readonly eventTypes: EventTypes;
  /** API keys of the HTTP service (hashes only). */
  readonly apiKeys: ApiKeys;
  /** Inbound sources: where providers such as GitHub or Stripe send webhooks that become messages. */
  readonly sources: Sources;
  readonly #transport: WebhookTransport;
  readonly #ownsTransport: boolean;
  readonly #clock: Clock;
  readonly #worker: DeliveryWorker;
  readonly #purger: RetentionPurger;
  readonly #egress: EgressPolicy;
  readonly #maxPayloadBytes: number;
  /** Enabled endpoints per app id, for fan-out. */
  readonly #endpointCache: ReadCache<EndpointRecord[]>;
  /** Apps by id and by uid, for sends and requests; apps that do not exist are not kept. */
  readonly #appCache: ReadCache<AppRecord | null>;
  /** Compiled payload filters, so a send compiles none it has seen. */
  readonly #filters = new EndpointFilters((id, error) =>
    this.#reportError(new Error(`endpoint ${id}: its stored filter is invalid, it gets no messages`, { cause: error })),
  );
  #unsubscribeWake: (() => Promise<void>) | null = null;
  #defaultAppReady: Promise<void> | null = null;
  #closed = false;

  /** Use {@link createHookline}: it validates the options and migrates the store. */
  constructor(options: HooklineOptions, store: Store) {
    super();
    this.store = store;
    this.#clock = options.clock ?? systemClock;
    const readCacheTtlMs = options.readCacheTtlMs ?? DEFAULTS.readCacheTtlMs;
    requireInteger("readCacheTtlMs", readCacheTtlMs, 0);
    this.#endpointCache = new ReadCache(readCacheTtlMs);
    this.#appCache = new ReadCache(readCacheTtlMs, { keep: (app) => app !== null });
    this.eventTypes = new EventTypes(store, this.#clock, readCacheTtlMs);
    this.apiKeys = new ApiKeys(store, this.#clock, readCacheTtlMs);
    this.sources = new Sources(store, this.#clock);
    this.#egress = new EgressPolicy(options);
    this.#ownsTransport = options.transport === undefined;
    this.#transport = options.transport ?? new HttpTransport(options);
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes;
    const settings = {
      concurrency: options.concurrency ?? DEFAULTS.concurrency,
      perEndpointConcurrency: options.perEndpointConcurrency ?? DEFAULTS.perEndpointConcurrency,
      batchSize: options.batchSize ?? DEFAULTS.batchSize,
      leaseMs: options.leaseMs ?? DEFAULTS.leaseMs,
      slowAttemptMs: options.slowAttemptMs ?? DEFAULTS.slowAttemptMs,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      disableAfterMs: options.disableAfterMs ?? DEFAULTS.disableAfterMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    };
    for (const [name, value] of Object.entries(settings))
      requireInteger(name, value, name === "disableAfterMs" ? 0 : 1);
    requireInteger("maxPayloadBytes", this.#maxPayloadBytes, 1);
    this.#worker = new DeliveryWorker({
      ...settings,
      store,
      transport: this.#transport,
      clock: this.#clock,
      retryPolicy: scheduledRetry({
        scheduleMs: options.retrySchedule ?? DEFAULTS.retryScheduleMs,
        jitterRatio: options.retryJitterRatio ?? DEFAULTS.retryJitterRatio,
      }),
      responseExcerptChars: DEFAULTS.responseExcerptChars,
      onCompleted: (batch, effects) => this.#announce(batch, effects),
      onError: (error) => this.#reportError(error),
    });
    this.#purger = new RetentionPurger(store, this.#clock, options.retention ?? {}, {
      onError: (error) => this.#reportError(error),
      onPurged: (report) => this.emit("retention:purged", report),
    });
  }

  // ---- sending -------------------------------------------------------------

  /**
   * Stores the message and one delivery per matching, enabled endpoint in one
   * transaction; resolves once that is durable. On PostgreSQL, pass
   * `{ client }` (a `pg` client inside your open transaction) to commit or roll
   * back the message with your own writes. With an event map
   * (`createHookline<Events>()`), `eventType` must be one of its names and
   * `payload` that type's payload.
   */
  async send<K extends keyof E & string>(
    input: SendInput & { eventType: K; payload: E[K] },
    options: InsertOptions = {},
  ): Promise<SendResult> {
    this.#assertOpen();
    if (input === null || typeof input !== "object") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "send() needs { eventType, payload }");
    }
    const { span, traceparent } = startSendSpan(input.eventType, input.traceparent);
    try {
      const result = await this.#send(input, options, traceparent);
      endSendSpan(span, result);
      return result;
    } catch (error) {
      endSendSpan(span, null, error);
      throw error;
    }
  }

  /** `traceparent`: what the message keeps (see `startSendSpan`). */
  async #send(input: SendInput, options: InsertOptions, traceparent: string | null): Promise<SendResult> {
    const { eventType, payload, source = "", bodyFormat = "envelope" } = input;
    requireName("eventType", eventType);
    if (input.eventId !== undefined) requireName("eventId", input.eventId);
    if (bodyFormat !== "envelope" && bodyFormat !== "payload") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", 'bodyFormat must be "envelope" or "payload"');
    }
    const channels = optionalNames("channels", input.channels);
    const tags = optionalNames("tags", input.tags);
    if (input.orderingKey !== undefined) requireName("orderingKey", input.orderingKey);
    const appId = await this.#appId(input.appId);
    // Both reads at once: on PostgreSQL each is a round trip.
    const [enabled] = await Promise.all([
      this.#endpointCache.get(appId, () => this.store.enabledEndpoints(appId)),
      this.eventTypes.validatePayload(eventType, payload),
    ]);
    if (input.payloadRetentionMs !== undefined) requireInteger("payloadRetentionMs", input.payloadRetentionMs, 1);
    const now = this.#clock.now();
    const messageId = newId("msg", now);
    const eventId = input.eventId ?? messageId;
    // The seed's model builds the envelope, so the engine and the dispatcher send the same bytes;
    // a Svix-format message is the payload alone, as given.
    const body =
      bodyFormat === "envelope"
        ? new WebhookEvent({ eventType, payload, eventId, timestamp: new Date(now), source }).toJson()
        : plainJson(payload);
    const bytes = Buffer.byteLength(body);
    if (bytes > this.#maxPayloadBytes) {
      throw new ConfigurationError(
        "HOOKLINE_PAYLOAD_TOO_LARGE",
        `message body is ${bytes} bytes, over the ${this.#maxPayloadBytes}-byte limit (maxPayloadBytes)`,
      );
    }
    const message: MessageRecord = {
      id: messageId,
      appId,
      eventId,
      eventType,
      body,
      bodyFormat,
      channels,
      tags,
      createdAt: now,
      ...(traceparent !== null && { traceparent }),
      ...(input.payloadRetentionMs !== undefined && { payloadExpiresAt: now + input.payloadRetentionMs }),
    };
    const endpoints = this.#filters.select(
      enabled.filter(
        (e) =>
          matchesEventType(e.eventTypes, eventType) &&
          (e.channels === null || e.channels.length === 0 || (channels ?? []).some((c) => e.channels?.includes(c))),
      ),
      // Filters see the payload as it is sent: its JSON, not the object handed in (a Date is a string there).
      () => (bodyFormat === "envelope" ? (JSON.parse(body) as { payload: unknown }).payload : JSON.parse(body)),
    );
    const deliveries: DeliveryRecord[] = endpoints.map((endpoint) => ({
      id: newId("dlv", now),
      messageId,
      endpointId: endpoint.id,
      appId,
      status: "pending",
      attemptCount: 0,
      nextAttemptAt: now,
      leaseOwner: null,
      nextTrigger: "scheduled",
      lastStatusCode: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
      ...(endpoint.ordering === "fifo" && { orderingKey: input.orderingKey ?? "" }),
    }));
    // Outside a caller's transaction, the new deliveries may be leased to this process's worker as they
    // are written: it starts them when the write is durable, with no claim in between.
    const claim = options.client === undefined ? this.#worker.claimOnInsert(endpoints) : undefined;
    let result: InsertMessageResult;
    try {
      result = await this.store.insertMessage(message, deliveries, claim ? { ...options, claim } : options);
    } catch (error) {
      this.#worker.settleSend(claim, { message, deliveries, endpoints }, null);
      throw error;
    }
    this.#worker.settleSend(claim, { message, deliveries, endpoints }, result);
    if (result.created && result.deliveryCount > 0) this.emit("work:queued");
    return {
      messageId: result.message.id,
      eventId: result.message.eventId,
      deliveryCount: result.deliveryCount,
      created: result.created,
      message: result.message,
    };
  }

  // ---- workers -------------------------------------------------------------

  /** Runs the delivery workers in this process. Idempotent. */
  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#worker.running) return;
    if (this.store.onWake && this.#unsubscribeWake === null) {
      this.#unsubscribeWake = await this.store.onWake(() => this.#worker.wake());
    }
    this.#worker.start();
    this.#purger.start();
  }

  /**
   * Stops the workers: attempts in flight may finish for up to `timeoutMs`
   * (default 10 s), the rest are aborted and their leases given back.
   * Idempotent; the store stays open (see {@link close}).
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#purger.stop();
    await this.#worker.stop(options.timeoutMs ?? 10_000);
    const unsubscribe = this.#unsubscribeWake;
    this.#unsubscribeWake = null;
    await unsubscribe?.();
  }

  /** Stops the workers, then closes the store and the transport it created. Idempotent. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    await this.stop(options);
    this.#closed = true;
    if (this.#ownsTransport) await this.#transport.close();
    await this.store.close();
  }

  /**
   * Delivers everything due now and resolves with the number of attempts
   * made: for tests driven by a fake clock, and for one-shot workers.
   */
  processDue(): Promise<number> {
    this.#assertOpen();
    return this.#worker.processDue();
  }

  /**
   * Tells this process's workers that deliveries may be due now, written by
   * another process (see the `work:queued` event); without it they find them
   * at their next poll (`pollIntervalMs`).
   */
  wake(): void {
    this.#worker.wake();
  }

  /** Wakes this process's workers and tells other processes' (see `work:queued`). */
  #queued(): void {
    this.#worker.wake();
    this.emit("work:queued");
  }

  /**
   * One retention pass now — expired payloads expunged, expired history
   * deleted, in batches — without waiting for the background schedule.
   */
  purge(): Promise<PurgeReport> {
    this.#assertOpen();
    return this.#purger.purge();
  }

  // ---- resources -----------------------------------------------------------

  readonly apps = {
    create: async (input: { name: string; uid?: string | null; metadata?: Record<string, string>; id?: string }) => {
      this.#assertOpen();
      requireName("name", input?.name);
      if (input.uid !== undefined && input.uid !== null) requireName("uid", input.uid);
      const now = this.#clock.now();
      const app: AppRecord = {
        id: input.id ?? newId("app", now),
        uid: input.uid ?? null,
        name: input.name,
        metadata: stringMap("metadata", input.metadata ?? {}),
        createdAt: now,
        updatedAt: now,
      };
      if (input.uid && (await this.store.getApp(input.uid))) throw new ConflictError(`app uid ${input.uid} is taken`);
      await this.store.createApp(app);
      return app;
    },
    get: async (idOrUid: string): Promise<AppRecord> => {
      const app = await this.apps.find(idOrUid);
      if (!app) throw new NotFoundError(`app ${JSON.stringify(idOrUid)} not found`);
      return app;
    },
    /**
     * The app `idOrUid` names (its id or its uid), or null. Read at most once per `readCacheTtlMs`
     * per process, so the API and `send()` look apps up without a database read each time.
     */
    find: async (idOrUid: string): Promise<AppRecord | null> => {
      const app = await this.#cachedApp(idOrUid);
      return app === null ? null : { ...app, metadata: { ...app.metadata } };
    },
    list: (options: PageOptions = {}): Promise<Page<AppRecord>> => this.store.listApps(options),
    update: async (id: string, patch: { name?: string; uid?: string | null; metadata?: Record<string, string> }) => {
      const app = await this.apps.get(id);
      if (patch.name !== undefined) requireName("name", patch.name);
      if (patch.uid !== undefined && patch.uid !== null) {
        requireName("uid", patch.uid);
        const holder = await this.store.getApp(patch.uid);
        if (holder && holder.id !== app.id) throw new ConflictError(`app uid ${patch.uid} is taken`);
      }
      let updated: AppRecord | null;
      try {
        updated = await this.store.updateApp(
          app.id,
          {
            ...(patch.name !== undefined && { name: patch.name }),
            ...(patch.uid !== undefined && { uid: patch.uid }),
            ...(patch.metadata !== undefined && { metadata: stringMap("metadata", patch.metadata) }),
          },
          this.#clock.now(),
        );
      } finally {
        this.#appCache.clear();
      }
      if (!updated) throw new NotFoundError(`app ${JSON.stringify(id)} not found`);
      return updated;
    },
    /** Deletes the app with its endpoints, messages, deliveries, attempts and API keys. */
    delete: async (id: string): Promise<void> => {
      const app = await this.apps.get(id);
      await this.apiKeys.deleteForApp(app.id);
      await this.sources.deleteForApp(app.id);
      try {
        await this.store.deleteApp(app.id);
      } finally {
        this.#appCache.clear();
        this.#endpointCache.clear();
      }
    },
    /**
     * The app whose id or uid is `input.uid` if there is one, else a new app
     * (Svix's `get_if_exists`); `created` tells which.
     */
    getOrCreate: async (input: {
      name: string;
      uid?: string | null;
      metadata?: Record<string, string>;
    }): Promise<{ app: AppRecord; created: boolean }> => {
      const existing = async () => (input?.uid ? await this.store.getApp(input.uid) : null);
      const found = await existing();
      if (found) return { app: found, created: false };
      try {
        return { app: await this.apps.create(input), created: true };
      } catch (error) {
        // Another request created the same uid in between.
        const raced = await existing();
        if (raced) return { app: raced, created: false };
        throw error;
      }
    },
    /**
     * Replaces the name and metadata (and the uid, when given) of the app
     * `idOrUid` names, or creates it with `idOrUid` as its uid unless
     * `input.uid` says otherwise (Svix's PUT); `created` tells which.
     */
    upsert: async (
      idOrUid: string,
      input: { name: string; uid?: string | null; metadata?: Record<string, string> },
    ): Promise<{ app: AppRecord; created: boolean }> => {
      requireName("app id", idOrUid);
      const existing = await this.store.getApp(idOrUid);
      if (!existing) {
        return { app: await this.apps.create({ ...input, uid: input?.uid ?? idOrUid }), created: true };
      }
      const patch = {
        name: input?.name,
        metadata: input?.metadata ?? {},
        ...(input?.uid !== undefined && { uid: input.uid }),
      };
      return { app: await this.apps.update(existing.id, patch), created: false };
    },
  };

  readonly endpoints = {
    /** Registers an endpoint; a `whsec_` secret is generated when none is given. */
    create: async (input: EndpointInput): Promise<Endpoint> => {
      this.#assertOpen();
      if (input === null || typeof input !== "object") {
        throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "endpoints.create() needs { url }");
      }
      const appId = await this.#appId(input.appId);
      const now = this.#clock.now();
      const secret = input.secret ?? generateSecret();
      parseSigningSecret(secret);
      const url = validateUrl(this.#egress, input.url);
      const record: EndpointRecord = {
        id: newId("ep", now),
        appId,
        uid: null,
        url,
        description: "",
        secrets: [{ secret, expiresAt: null }],
        eventTypes: [],
        channels: null,
        headers: {},
        metadata: {},
        rateLimitPerSecond: null,
        signatureAlgorithm: DEFAULTS.signatureAlgorithm,
        timeoutMs: DEFAULTS.timeoutMs,
        disabled: false,
        disabledReason: null,
        failingSince: null,
        createdAt: now,
        updatedAt: now,
        ...withoutNullExtensions(validatePatch(this.#egress, withoutUndefined(input))),
      };
      if (record.disabled) record.disabledReason = "manual";
      await this.store.createEndpoint(record);
      this.#endpointCache.clear();
      return toEndpoint(record);
    },
    get: async (id: string): Promise<Endpoint> => toEndpoint(await this.#endpoint(id)),
    list: async (options: PageOptions & { appId?: string } = {}): Promise<Page<Endpoint>> => {
      const page = await this.store.listEndpoints(options);
      return { data: page.data.map(toEndpoint), nextCursor: page.nextCursor };
    },
    /** Changes the given fields; the others keep their values. */
    update: async (id: string, patch: EndpointUpdate): Promise<Endpoint> => {
      await this.#endpoint(id);
      const validated = validatePatch(this.#egress, withoutUndefined(patch ?? {}));
      if (validated.disabled === false) Object.assign(validated, { disabledReason: null, failingSince: null });
      if (validated.disabled === true) validated.disabledReason = "manual";
      return this.#patchEndpoint(id, validated);
    },
    delete: async (id: string): Promise<void> => {
      await this.#endpoint(id);
      await this.store.deleteEndpoint(id);
      this.#endpointCache.clear();
    },
    /** Enables a disabled endpoint: it gets new deliveries again, and its held ones are sent. */
    enable: async (id: string): Promise<Endpoint> => {
      await this.#endpoint(id);
      const endpoint = await this.#patchEndpoint(id, { disabled: false, disabledReason: null, failingSince: null });
      this.#queued();
      return endpoint;
    },
    /** Disables an endpoint: no new deliveries, and its pending ones wait until it is enabled. */
    disable: async (id: string, options: { reason?: string } = {}): Promise<Endpoint> => {
      await this.#endpoint(id);
      return this.#patchEndpoint(id, { disabled: true, disabledReason: options.reason ?? "manual" });
    },
    /**
     * Makes a new secret current (generated unless given); the previous one
     * keeps signing beside it for `gracePeriodMs` (default 24 h).
     */
    rotateSecret: async (id: string, options: { gracePeriodMs?: number; secret?: string } = {}): Promise<Endpoint> => {
      const endpoint = await this.#endpoint(id);
      const gracePeriodMs = options.gracePeriodMs ?? DEFAULTS.secretGracePeriodMs;
      requireInteger("gracePeriodMs", gracePeriodMs, 0);
      const secret = options.secret ?? generateSecret();
      parseSigningSecret(secret);
      const now = this.#clock.now();
      const previous = endpoint.secrets
        .map((s) => (s.expiresAt === null ? { ...s, expiresAt: now + gracePeriodMs } : s))
        .filter((s) => s.expiresAt !== null && s.expiresAt > now);
      return this.#patchEndpoint(id, { secrets: [{ secret, expiresAt: null }, ...previous] });
    },
    /** Re-queues every delivery of the endpoint that failed in [since, until); resolves with how many. */
    recover: async (
      id: string,
      options: { since: Date | number; until?: Date | number },
    ): Promise<{ count: number }> => {
      await this.#endpoint(id);
      const now = this.#clock.now();
      const since = toMs("since", options?.since);
      const until = options.until === undefined ? now + 1 : toMs("until", options.until);
      const count = await this.store.recoverEndpoint(id, since, until, now);
      if (count > 0) this.#queued();
      return { count };
    },
  };

  readonly messages = {
    get: async (id: string): Promise<MessageRecord> => {
      const message = await this.store.getMessage(id);
      if (!message) throw new NotFoundError(`message ${JSON.stringify(id)} not found`);
      return message;
    },
    list: (filter: MessageFilter): Promise<Page<MessageRecord>> => this.store.listMessages(filter),
    /**
     * Sends a message to one endpoint of its app once more now (one manual
     * attempt), whatever became of that delivery: Svix's resend. An endpoint
     * the message never went to gets a new delivery.
     */
    resend: async (messageId: string, endpointId: string): Promise<DeliveryRecord> => {
      const delivery = (await this.store.listDeliveries({ messageId, endpointId, limit: 1 })).data[0];
      if (delivery) return this.deliveries.retry(delivery.id);
      // An endpoint the message did not go to (added later, or filtered out): a new, manual delivery.
      const message = await this.messages.get(messageId);
      const endpoint = await this.#endpoint(endpointId);
      if (endpoint.appId !== message.appId) {
        throw new NotFoundError(`endpoint ${JSON.stringify(endpointId)} is not an endpoint of the message's app`);
      }
      if ((message.expungedAt ?? null) !== null) {
        throw new ConflictError(`the payload of message ${messageId} was expunged; it cannot be sent again`);
      }
      const now = this.#clock.now();
      const added: DeliveryRecord = {
        id: newId("dlv", now),
        messageId,
        endpointId,
        appId: message.appId,
        status: "pending",
        attemptCount: 0,
        nextAttemptAt: now,
        leaseOwner: null,
        nextTrigger: "manual",
        lastStatusCode: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
      };
      await this.store.addDelivery(added);
      this.#queued();
      return added;
    },
    /**
     * Expunges a message's payload now (an erasure request): the message, its
     * deliveries and attempts stay, the body is gone and it cannot be sent
     * again. Refused while one of its deliveries is pending or being sent.
     */
    expunge: async (messageId: string): Promise<void> => {
      this.#assertOpen();
      const outcome = await this.store.expungeMessage(messageId, this.#clock.now());
      if (outcome === "not_found") throw new NotFoundError(`message ${JSON.stringify(messageId)} not found`);
      if (outcome === "in_progress") {
        throw new ConflictError(
          `message ${messageId} still has deliveries pending or being sent; expunge it once they are done`,
        );
      }
    },
  };

  readonly deliveries = {
    list: (filter: DeliveryFilter = {}): Promise<Page<DeliveryRecord>> => this.store.listDeliveries(filter),
    get: async (id: string): Promise<DeliveryRecord> => {
      const delivery = await this.store.getDelivery(id);
      if (!delivery) throw new NotFoundError(`delivery ${JSON.stringify(id)} not found`);
      return delivery;
    },
    /** Sends the delivery again now (one manual attempt), whatever its status, unless it is in flight. */
    retry: async (id: string): Promise<DeliveryRecord> => {
      const { messageId } = await this.deliveries.get(id);
      const delivery = await this.store.requeueDelivery(id, this.#clock.now());
      if (!delivery) {
        const message = await this.store.getMessage(messageId);
        if ((message?.expungedAt ?? null) !== null) {
          throw new ConflictError(`the payload of message ${messageId} was expunged; it cannot be sent again`);
        }
        throw new ConflictError(`delivery ${id} is being sent right now`);
      }
      this.#queued();
      return delivery;
    },
  };

  readonly attempts = {
    list: (filter: AttemptFilter = {}): Promise<Page<AttemptRecord>> => this.store.listAttempts(filter),
    /** One attempt, looked up among those `filter` selects (say, a message's attempts). */
    get: async (id: string, filter: Omit<AttemptFilter, "cursor" | "limit"> = {}): Promise<AttemptRecord> => {
      let cursor: string | undefined;
      for (;;) {
        const page = await this.store.listAttempts({ ...filter, limit: 250, ...(cursor !== undefined && { cursor }) });
        const found = page.data.find((a) => a.id === id);
        if (found) return found;
        // Pages run newest (largest id) first: once past the id, it is not there.
        const last = page.data[page.data.length - 1];
        if (page.nextCursor === null || last === undefined || last.id < id) break;
        cursor = page.nextCursor;
      }
      throw new NotFoundError(`attempt ${JSON.stringify(id)} not found`);
    },
  };

  // ---- internals -----------------------------------------------------------

  async #appId(appId: string | undefined): Promise<string> {
    if (appId === undefined) {
      this.#defaultAppReady ??= this.#ensureDefaultApp().catch((error) => {
        this.#defaultAppReady = null;
        throw error;
      });
      await this.#defaultAppReady;
      return DEFAULTS.defaultAppId;
    }
    requireName("appId", appId);
    // The shared cached record: a send needs only its id, so it copies nothing.
    const app = await this.#cachedApp(appId);
    if (!app) throw new NotFoundError(`app ${JSON.stringify(appId)} not found`);
    return app.id;
  }

  /** The cached record itself, shared: never hand it out (apps.find copies it). */
  #cachedApp(idOrUid: string): Promise<AppRecord | null> {
    return this.#appCache.get(idOrUid, () => this.store.getApp(idOrUid));
  }

  async #ensureDefaultApp(): Promise<void> {
    if (await this.store.getApp(DEFAULTS.defaultAppId)) return;
    const now = this.#clock.now();
    try {
      await this.store.createApp({
        id: DEFAULTS.defaultAppId,
        uid: null,
        name: "default",
        metadata: {},
        createdAt: now,
        updatedAt: now,
      });
    } catch (error) {
      // Another process created it first.
      if (!(await this.store.getApp(DEFAULTS.defaultAppId))) throw error;
    }
  }

  async #endpoint(id: string): Promise<EndpointRecord> {
    this.#assertOpen();
    if (typeof id !== "string" || id.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "endpoint id must be a non-empty string");
    }
    const endpoint = await this.store.getEndpoint(id);
    if (!endpoint) throw new NotFoundError(`endpoint ${JSON.stringify(id)} not found`);
    return endpoint;
  }

  async #patchEndpoint(id: string, patch: EndpointPatch): Promise<Endpoint> {
    const updated = await this.store.updateEndpoint(id, patch, this.#clock.now());
    this.#endpointCache.clear();
    if (!updated) throw new NotFoundError(`endpoint ${JSON.stringify(id)} not found`);
    return toEndpoint(updated);
  }

  #announce(batch: readonly CompletedAttempt[], effects: Awaited<ReturnType<Store["complete"]>>): void {
    if (effects.disabledEndpoints.length > 0) this.#endpointCache.clear();
    const lost = new Set(effects.lostLeases);
    for (const { completion } of batch) {
      if (lost.has(completion.deliveryId)) continue;
      const { attempt } = completion;
      const event: DeliveryEvent = {
        deliveryId: completion.deliveryId,
        messageId: attempt.messageId,
        endpointId: attempt.endpointId,
        appId: attempt.appId,
        attempt,
        nextAttemptAt: completion.nextAttemptAt,
      };
      if (completion.status === "delivered") this.#emitSafely("delivery:succeeded", event);
      else if (completion.status === "pending") this.#emitSafely("delivery:failed", event);
      else this.#emitSafely("delivery:exhausted", event);
    }
    for (const failing of effects.failingEndpoints) this.#emitSafely("endpoint:failing", failing);
    for (const disabled of effects.disabledEndpoints) this.#emitSafely("endpoint:disabled", disabled);
  }

  #emitSafely<K extends keyof HooklineEvents>(name: K, ...args: HooklineEvents[K]): void {
    try {
      (this.emit as (n: K, ...a: HooklineEvents[K]) => boolean)(name, ...args);
    } catch (error) {
      this.#reportError(error);
    }
  }

  #reportError(error: unknown): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else console.error("hookline worker:", error instanceof Error ? error.message : error);
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "this hookline instance is closed");
  }
}

/**
 * Creates the durable engine and migrates its store. Call `start()` to run
 * delivery workers in this process, `close()` to shut down.
 *
 * @example
 * import { createHookline, memoryStore } from "hookline";
 * import { sqliteStore } from "hookline/sqlite";
 * const hl = await createHookline({ store: sqliteStore({ path: "hookline.db" }) });
 */
export async function createHookline<E extends EventMap = AnyEvents>(
  options: HooklineOptions = {},
): Promise<Hookline<E>> {
  const store = options.store ?? new MemoryStore();
  const hookline = new Hookline<E>(options, store);
  await store.migrate();
  if (store.kind !== "memory" && store.encryptionKeyId === null && !warnedSecretsInClear) {
    warnedSecretsInClear = true;
    process.emitWarning(
      "hookline: endpoint secrets and header values are stored in clear; give the store an encryptionKey (base64 of 32 bytes) to encrypt them at rest",
      { code: "HOOKLINE_SECRETS_IN_CLEAR" },
    );
  }
  return hookline;
}

/** The clear-text warning is given once per process, not once per store. */
let warnedSecretsInClear = false;

function toEndpoint(record: EndpointRecord): Endpoint {
  return { ...record, secret: record.secrets[0]?.secret ?? "" };
}

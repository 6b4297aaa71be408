import { randomBytes } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import { signingKeyFor } from "../signing/secrets.js";
import type {
  ClaimedDelivery,
  ClaimOptions,
  Completion,
  DeliveryRecord,
  EndpointRecord,
  InsertMessageResult,
  MessageRecord,
  Store,
} from "../store/store.js";
import type { WebhookTransport } from "../transport/transport.js";
import { type AttemptOutcome, attemptDelivery, type DeliveryRequest } from "./deliver.js";
import { deadWorkers, registerLocalWorker, THIS_HOST, unregisterLocalWorker } from "./liveness.js";
import { applyRetryAfter, parseRetryAfterMs, type RetryPolicy } from "./retry-policy.js";
import { traceAttempt } from "./tracing.js";

/** Slow attempts (see `slowAttemptMs`) a worker runs beyond `concurrency`, as a multiple of it. */
const SLOW_ALLOWANCE = 3;

export interface WorkerSettings {
  store: Store;
  transport: WebhookTransport;
  clock: Clock;
  retryPolicy: RetryPolicy;
  concurrency: number;
  perEndpointConcurrency: number;
  batchSize: number;
  /** A lease lives this long past its worker's last heartbeat; heartbeats come every third of it. */
  leaseMs: number;
  /** An attempt running longer than this stops counting against `concurrency` (see `#busy`). */
  slowAttemptMs: number;
  pollIntervalMs: number;
  disableAfterMs: number;
  maxRetryAfterMs: number;
  responseExcerptChars: number;
  /** Called once a batch of completions is durable. */
  onCompleted(completions: readonly CompletedAttempt[], effects: Awaited<ReturnType<Store["complete"]>>): void;
  /** Infrastructure failures (the store unreachable): reported, then retried after a pause. */
  onError(error: unknown): void;
}

export interface CompletedAttempt {
  claimed: ClaimedDelivery;
  completion: Completion;
}

/**
 * What follows one attempt: delivered on 2xx; failed for good on 410, after a
 * manual attempt, or when the schedule is used up; otherwise pending again
 * after the policy's delay, stretched by `Retry-After` on 429 and 503.
 */
export function decideCompletion(
  claimed: ClaimedDelivery,
  outcome: AttemptOutcome,
  settings: Pick<WorkerSettings, "retryPolicy" | "maxRetryAfterMs" | "responseExcerptChars">,
  owner: string,
  nowMs: number,
): Completion {
  const { delivery } = claimed;
  const number = delivery.attemptCount + 1;
  const attempt = {
    id: newId("atmpt", outcome.startedAt.getTime()),
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    appId: delivery.appId,
    number,
    startedAt: outcome.startedAt.getTime(),
    durationMs: outcome.durationMs,
    statusCode: outcome.statusCode,
    responseExcerpt:
      outcome.responseBody === null ? null : outcome.responseBody.slice(0, settings.responseExcerptChars),
    errorCode: outcome.errorCode,
    error: outcome.error,
    trigger: delivery.nextTrigger,
    succeeded: outcome.succeeded,
  };
  const base = { deliveryId: delivery.id, owner, attempt };
  if (outcome.succeeded) return { ...base, status: "delivered", nextAttemptAt: null, endpointOutcome: "succeeded" };
  if (outcome.statusCode === 410) return { ...base, status: "failed", nextAttemptAt: null, endpointOutcome: "gone" };
  const delayMs = delivery.nextTrigger === "manual" ? null : settings.retryPolicy.delayBeforeAttemptMs(number + 1);
  if (delayMs === null) return { ...base, status: "failed", nextAttemptAt: null, endpointOutcome: "failed" };
  const retryAfterMs =
    outcome.statusCode === 429 || outcome.statusCode === 503
      ? parseRetryAfterMs(outcome.responseHeaders["retry-after"], nowMs)
      : null;
  const waitMs = applyRetryAfter(delayMs, retryAfterMs, settings.maxRetryAfterMs);
  return { ...base, status: "pending", nextAttemptAt: nowMs + waitMs, endpointOutcome: "failed" };
}

/**
 * Per-endpoint token buckets (one second of burst) for `rateLimitPerSecond`,
 * per process. Tokens may go negative: a negative balance is a queue of
 * sends already promised a later slot.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; refilledAt: number; perSecond: number }>();

  /** Takes a token; returns 0, or the milliseconds to wait before sending. */
  take(endpointId: string, perSecond: number, nowMs: number): number {
    const bucket = this.#buckets.get(endpointId) ?? { tokens: perSecond, refilledAt: nowMs, perSecond };
    bucket.perSecond = perSecond;
    bucket.tokens = this.#projected(bucket, nowMs) - 1;
    bucket.refilledAt = nowMs;
    this.#buckets.set(endpointId, bucket);
    return bucket.tokens >= 0 ? 0 : Math.ceil((-bucket.tokens / perSecond) * 1000);
  }

  /** Endpoints with no whole token now: claiming for them would only wait. */
  exhausted(nowMs: number): string[] {
    const out: string[] = [];
    for (const [id, bucket] of this.#buckets) {
      const tokens = this.#projected(bucket, nowMs);
      if (tokens < 1) out.push(id);
      else if (tokens >= bucket.perSecond) this.#buckets.delete(id); // full again: forget it
    }
    return out;
  }

  #projected(bucket: { tokens: number; refilledAt: number; perSecond: number }, nowMs: number): number {
    return Math.min(bucket.perSecond, bucket.tokens + ((nowMs - bucket.refilledAt) / 1000) * bucket.perSecond);
  }
}

/**
 * The durable delivery loop of one process: claims due deliveries in batches
 * under a lease, sends them concurrently (capped globally and per endpoint),
 * and writes completions in batches. Woken at once by `wake()` (a send in this
 * process, a notification from another), otherwise polls slowly.
 *
 * While it works it heartbeats: each beat refreshes its registration and
 * extends all its leases, so an attempt may run as long as its endpoint's
 * timeout, and a lease outlives a dead worker by at most `leaseMs`. Each beat
 * also hands back the leases of workers known dead (see `liveness.ts`), so a
 * process restarted after a SIGKILL takes over its predecessor's work at once.
 */
export class DeliveryWorker {
  readonly owner = `wrk_${randomBytes(8).toString("hex")}`;
  readonly #s: WorkerSettings;
  readonly #limiter = new RateLimiter();
  readonly #inFlight = new Map<
    string,
    { controller: AbortController; promise: Promise<void>; endpointId: string; startedAt: number }
  >();
  /** Per endpoint: this worker's leases the store still counts (attempts in flight, or done but not written). */
  readonly #endpointLoad = new Map<string, number>();
  #pending: CompletedAttempt[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #flushScheduled = false;
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #woken = false;
  #released: string[] = [];
  #retryFlushTimer: NodeJS.Timeout | undefined;
  /** Completions buffered in #pending, not yet written. */
  #unwritten = 0;
  /** Endpoints whose last attempts ran past `slowAttemptMs`, until one ends sooner (see `#busy`). */
  readonly #slowKnown = new Set<string>();
  /** Slots promised to sends whose deliveries may come back leased to us (see `claimOnInsert`). */
  #reserved = 0;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | null = null;
  #registeredAt: number | null = null;
  /** Workers with a live heartbeat at the last beat, this one included. */
  #liveWorkers = 1;

  readonly #claimThreshold: number;

  constructor(settings: WorkerSettings) {
    this.#s = settings;
    this.#claimThreshold = Math.max(1, Math.floor(Math.min(settings.concurrency, settings.batchSize) / 4));
  }

  get running(): boolean {
    return this.#running;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startHeartbeat();
    this.#loop = this.#beat().then(() => this.#run());
  }

  /** New work may be due: claim now instead of at the next poll. */
  wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  /**
   * Stops claiming, lets attempts in flight finish for up to `timeoutMs`,
   * aborts the rest and gives their leases back, then writes every completion.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#loop = null;
    const inFlight = [...this.#inFlight.values()];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(inFlight.map((f) => f.promise)), timedOut]);
    clearTimeout(timer);
    for (const flight of this.#inFlight.values()) flight.controller.abort(new Error("worker stopping"));
    await Promise.all([...this.#inFlight.values()].map((f) => f.promise));
    await this.flush();
    clearTimeout(this.#retryFlushTimer);
    this.#retryFlushTimer = undefined;
    const released = this.#released.splice(0);
    if (released.length > 0) await this.#s.store.release(this.owner, released, this.#s.clock.now());
    await this.#deregister();
  }

  /**
   * Claims and delivers everything due now, until nothing is; resolves with
   * the number of attempts made. For tests with a fake clock and for one-shot
   * workers (a cron job); `start()` runs the same steps continuously.
   */
  async processDue(): Promise<number> {
    const oneShot = !this.#running && this.#heartbeatTimer === undefined;
    if (oneShot) {
      this.#startHeartbeat();
      await this.#beat();
    }
    try {
      let attempts = 0;
      for (;;) {
        const claimed = await this.#claim(this.#s.batchSize);
        if (claimed.length === 0) break;
        attempts += claimed.length;
        await Promise.all(claimed.map((c) => this.#dispatch(c)));
        await this.flush();
      }
      await this.flush();
      return attempts;
    } finally {
      if (oneShot && !this.#running) await this.#deregister();
    }
  }

  #startHeartbeat(): void {
    registerLocalWorker(this.owner);
    this.#heartbeatTimer ??= setInterval(() => void this.#beat(), Math.max(1, Math.floor(this.#s.leaseMs / 3))).unref();
  }

  /** Refreshes this worker and its leases, then hands back the leases of dead workers. Never overlaps itself. */
  #beat(): Promise<void> {
    this.#beating ??= (async () => {
      try {
        const now = this.#s.clock.now();
        this.#registeredAt ??= now;
        const { store, leaseMs } = this.#s;
        // Attempts running, and finished ones whose completion is not written yet: both still hold their lease.
        const held = [...this.#inFlight.keys(), ...this.#pending.map((p) => p.completion.deliveryId)];
        await store.heartbeat(
          { id: this.owner, host: THIS_HOST, pid: process.pid, startedAt: this.#registeredAt, heartbeatAt: now },
          held,
          now + leaseMs,
        );
        let handedBack = 0;
        const workers = await store.listWorkers();
        const dead = deadWorkers(workers, now, leaseMs);
        this.#liveWorkers = Math.max(1, workers.length - dead.length);
        for (const worker of dead) handedBack += await store.releaseWorker(worker.id, now);
        if (handedBack > 0) this.wake();
      } catch (error) {
        this.#s.onError(error);
      } finally {
        this.#beating = null;
      }
    })();
    return this.#beating;
  }

  /** Stops heartbeating and removes this worker from the store, handing back any lease still held. */
  async #deregister(): Promise<void> {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    await this.#beating;
    unregisterLocalWorker(this.owner);
    if (this.#registeredAt === null) return;
    this.#registeredAt = null;
    await this.#s.store.releaseWorker(this.owner, this.#s.clock.now());
  }

  /** Writes every buffered completion; resolves when they are durable. */
  async flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#writeCompletions());
    await this.#flushing;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        const free = this.#s.concurrency - this.#busy();
        let claimedFull = false;
        if (free > 0) {
          const limit = Math.min(free, this.#s.batchSize);
          const claimed = await this.#claim(limit);
          for (const c of claimed) void this.#dispatch(c);
          claimedFull = claimed.length === limit;
        }
        if (claimedFull && this.#busy() < this.#s.concurrency) continue;
        await this.#sleep(await this.#idleMs());
      } catch (error) {
        this.#s.onError(error);
        await this.#sleep(this.#s.pollIntervalMs);
      }
    }
  }

  /**
   * Slots taken: attempts in flight, and finished attempts whose completion
   * is not written yet — their rows still count as leased, so claiming for
   * them would find their endpoints full and come back empty.
   *
   * An attempt that has run longer than `slowAttemptMs` no longer takes a
   * slot: its receiver is slow, and it must not hold back the others (the
   * noisy neighbour). Its endpoint is then known to be slow until one of its
   * attempts ends sooner, and its new attempts take no slot from the start.
   * Slow attempts may take up to three times `concurrency` more; beyond that
   * slow endpoints get nothing new until some finish (see `#slowEndpoints`),
   * so sockets and memory stay bounded.
   */
  #busy(): number {
    return this.#attempts().fresh + this.#unwritten + this.#reserved;
  }

  /**
   * In-flight attempts: fresh ones, and slow ones (running past
   * `slowAttemptMs`, or of an endpoint known to be slow, which this marks);
   * `nextSlowInMs`: when the next fresh one turns slow.
   */
  #attempts(): { fresh: number; slow: number; nextSlowInMs: number } {
    const now = performance.now();
    let fresh = 0;
    let nextSlowInMs = Number.POSITIVE_INFINITY;
    for (const flight of this.#inFlight.values()) {
      if (this.#slowKnown.has(flight.endpointId)) continue;
      const leftMs = flight.startedAt + this.#s.slowAttemptMs - now;
      if (leftMs > 0) {
        fresh++;
        nextSlowInMs = Math.min(nextSlowInMs, leftMs);
      } else {
        this.#slowKnown.add(flight.endpointId);
      }
    }
    return { fresh, slow: this.#inFlight.size - fresh, nextSlowInMs };
  }

  /** Endpoints known to be slow, once slow attempts fill their allowance: claims leave them out. */
  #slowEndpoints(): string[] {
    if (this.#attempts().slow < SLOW_ALLOWANCE * this.#s.concurrency) return [];
    return [...this.#slowKnown];
  }

  /**
   * Lease terms for a send in this process: its store may lease the new
   * deliveries to this worker as it writes them, which saves claiming them
   * afterwards. Reserves the free slots it offers until `settleSend` is
   * called (always call it, with a null result if the send failed). Undefined when the
   * worker is not running or has no free slot.
   */
  claimOnInsert(endpoints: readonly EndpointRecord[]): ClaimOptions | undefined {
    if (!this.#running || endpoints.length === 0) return undefined;
    const limit = Math.min(endpoints.length, this.#s.concurrency - this.#busy());
    if (limit < 1) return undefined;
    const claim = this.#claimOptions(limit);
    // Rate-limited endpoints take the claim path, where the limiter decides.
    const excluded = [...(claim.excludeEndpointIds ?? [])];
    for (const endpoint of endpoints) {
      if (endpoint.rateLimitPerSecond !== null && endpoint.rateLimitPerSecond > 0) excluded.push(endpoint.id);
    }
    if (endpoints.every((e) => excluded.includes(e.id))) return undefined;
    this.#reserved += limit;
    return { ...claim, excludeEndpointIds: excluded };
  }

  /**
   * After a send's write (`result` null when it failed): starts the
   * deliveries the store leased to this worker under `claim` and frees the
   * slots it reserved, then wakes the loop if some deliveries are left to claim.
   */
  settleSend(
    claim: ClaimOptions | undefined,
    sent: { message: MessageRecord; deliveries: readonly DeliveryRecord[]; endpoints: readonly EndpointRecord[] },
    result: InsertMessageResult | null,
  ): void {
    const claimed: ClaimedDelivery[] = [];
    if (claim) {
      this.#reserved -= claim.limit;
      const leased = new Set(result?.created ? (result.leased ?? []) : []);
      const endpoints = new Map(sent.endpoints.map((e) => [e.id, e]));
      for (const delivery of sent.deliveries) {
        const endpoint = endpoints.get(delivery.endpointId);
        if (leased.has(delivery.id) && endpoint) claimed.push({ delivery, message: sent.message, endpoint });
      }
      if (this.#running) {
        for (const c of claimed) void this.#dispatch(c);
      } else if (claimed.length > 0) {
        // Stopped meanwhile: hand them back rather than start attempts nobody will wait for.
        const ids = claimed.map((c) => c.delivery.id);
        void this.#s.store.release(this.owner, ids, this.#s.clock.now()).catch((error) => this.#s.onError(error));
      }
    }
    if (result?.created && result.deliveryCount > claimed.length) this.wake();
  }

  async #idleMs(): Promise<number> {
    const poll = this.#s.pollIntervalMs;
    // Full: a slot frees when an attempt ends (which wakes us) or turns slow (which does not).
    if (this.#busy() >= this.#s.concurrency) return Math.min(poll, Math.ceil(this.#attempts().nextSlowInMs));
    const next = await this.#s.store.nextDueAt();
    if (next === null) return poll;
    const waitMs = next - this.#s.clock.now();
    if (waitMs > 0) return Math.min(poll, waitMs);
    // Due but nothing was claimable: the endpoints are at their in-flight cap. Our own completions
    // wake us; other workers' slots free up on their own time, so look again shortly, not at once.
    return this.#busy() > 0 ? poll : Math.min(poll, 50);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken || !this.#running) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        this.#wakeUp = null;
        resolve();
      };
      this.#wakeUp = () => {
        this.#woken = false;
        done();
      };
    });
  }

  #claim(limit: number): Promise<ClaimedDelivery[]> {
    return this.#s.store.claimDue(this.#claimOptions(limit));
  }

  /** `freeing`: completions about to be written in the same transaction as the claim, whose slots it may use. */
  #claimOptions(limit: number, freeing: readonly CompletedAttempt[] = []): ClaimOptions {
    const now = this.#s.clock.now();
    return {
      owner: this.owner,
      now,
      leaseMs: this.#s.leaseMs,
      limit,
      perEndpointLimit: this.#s.perEndpointConcurrency,
      // Endpoints this worker alone holds at their cap cannot give anything: the store then skips the claim.
      excludeEndpointIds: [...this.#limiter.exhausted(now), ...this.#endpointsAtCap(freeing), ...this.#slowEndpoints()],
    };
  }

  #endpointsAtCap(freeing: readonly CompletedAttempt[] = []): string[] {
    const freed = new Map<string, number>();
    for (const f of freeing) freed.set(f.claimed.endpoint.id, (freed.get(f.claimed.endpoint.id) ?? 0) + 1);
    const atCap: string[] = [];
    for (const [endpointId, load] of this.#endpointLoad) {
      if (load - (freed.get(endpointId) ?? 0) >= this.#s.perEndpointConcurrency) atCap.push(endpointId);
    }
    return atCap;
  }

  #unload(endpointId: string): void {
    const load = (this.#endpointLoad.get(endpointId) ?? 1) - 1;
    if (load <= 0) this.#endpointLoad.delete(endpointId);
    else this.#endpointLoad.set(endpointId, load);
  }

  #dispatch(claimed: ClaimedDelivery): Promise<void> {
    const controller = new AbortController();
    const endpointId = claimed.endpoint.id;
    this.#endpointLoad.set(endpointId, (this.#endpointLoad.get(endpointId) ?? 0) + 1);
    const promise = this.#attempt(claimed, controller.signal)
      .then((buffered) => {
        if (!buffered) this.#unload(endpointId);
      })
      .catch((error) => {
        this.#unload(endpointId);
        this.#s.onError(error);
      })
      .finally(() => {
        this.#inFlight.delete(claimed.delivery.id);
        this.#wakeIfRoom();
      });
    this.#inFlight.set(claimed.delivery.id, { controller, promise, endpointId, startedAt: performance.now() });
    return promise;
  }

  /** True when a completion was buffered: its lease ends when the completion is written. */
  async #attempt(claimed: ClaimedDelivery, signal: AbortSignal): Promise<boolean> {
    const { endpoint } = claimed;
    if (endpoint.rateLimitPerSecond !== null && endpoint.rateLimitPerSecond > 0) {
      const waitMs = this.#limiter.take(endpoint.id, endpoint.rateLimitPerSecond, this.#s.clock.now());
      if (waitMs > 0) {
        try {
          await this.#s.clock.sleep(waitMs, signal);
        } catch {
          this.#released.push(claimed.delivery.id);
          return false;
        }
      }
    }
    const { delivery, message } = claimed;
    const request = this.#request(claimed);
    const outcome = await traceAttempt(
      {
        endpointId: endpoint.id,
        messageId: message.id,
        eventType: message.eventType,
        attemptNumber: delivery.attemptCount + 1,
        traceparent: message.traceparent,
      },
      (traceparent) => {
        request.traceparent = traceparent;
        return attemptDelivery(this.#s.transport, request, this.#s.clock, signal);
      },
    );
    if (outcome.durationMs < this.#s.slowAttemptMs) this.#slowKnown.delete(endpoint.id);
    if (signal.aborted) {
      // Stopped mid-attempt: the receiver may or may not have it. Give the lease
      // back so it is sent again (at-least-once), without counting an attempt.
      this.#released.push(claimed.delivery.id);
      return false;
    }
    const completion = decideCompletion(claimed, outcome, this.#s, this.owner, this.#s.clock.now());
    this.#pending.push({ claimed, completion });
    this.#unwritten++;
    if (this.#pending.length >= this.#s.batchSize) void this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        void this.flush();
      });
    }
    return true;
  }

  /** Claim again once enough slots are free to make a batch worth a transaction. */
  #wakeIfRoom(): void {
    const busy = this.#busy();
    if (busy === 0 || this.#s.concurrency - busy >= this.#claimThreshold) this.wake();
  }

  #request(claimed: ClaimedDelivery): DeliveryRequest {
    const { endpoint, message } = claimed;
    const now = this.#s.clock.now();
    const live = endpoint.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
    const current = live[0] ?? endpoint.secrets[0];
    if (!current) throw new Error(`endpoint ${endpoint.id} has no secret`);
    return {
      url: endpoint.url,
      body: message.body,
      // Svix-format messages use the message id, as Svix does; the envelope carries the event id.
      msgId: message.bodyFormat === "payload" ? message.id : message.eventId,
      eventType: message.eventType,
      secret: current.secret,
      signatureAlgorithm: endpoint.signatureAlgorithm,
      signingKeys: live.map((s) => signingKeyFor(s.secret)),
      // Heartbeats extend the lease while the attempt runs, so the endpoint's own timeout applies.
      timeoutMs: endpoint.timeoutMs,
      headers: endpoint.headers,
      svixHeaders: message.bodyFormat === "payload",
      // Set by the attempt's span (see traceAttempt); present from the start so every request has one shape.
      traceparent: null,
    };
  }

  async #writeCompletions(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#s.batchSize);
      // The slots this batch frees are refilled in its own transaction when enough are free to be worth
      // it — by a worker alone: its freed slots never show as free in the store, so beside other
      // workers it would keep a busy endpoint to itself while they look on.
      const free = this.#s.concurrency - this.#busy() + batch.length;
      const claim =
        this.#running && this.#liveWorkers === 1 && free >= this.#claimThreshold
          ? this.#claimOptions(Math.min(free, this.#s.batchSize), batch)
          : undefined;
      if (claim) this.#reserved += claim.limit;
      try {
        let effects: Awaited<ReturnType<Store["complete"]>>;
        try {
          effects = await this.#s.store.complete(
            batch.map((b) => b.completion),
            // The claim's time: what the completions make due (the next of an ordered group) it can take.
            claim?.now ?? this.#s.clock.now(),
            this.#s.disableAfterMs,
            claim,
          );
        } finally {
          if (claim) this.#reserved -= claim.limit;
        }
        this.#unwritten -= batch.length;
        for (const b of batch) this.#unload(b.claimed.endpoint.id);
        for (const c of effects.claimed ?? []) void this.#dispatch(c);
        if (!claim || (effects.claimed?.length ?? 0) === claim.limit) this.#wakeIfRoom();
        this.#s.onCompleted(batch, effects);
        // A retry was scheduled: the loop's sleep may now be too long.
        if (batch.some((b) => b.completion.status === "pending")) this.wake();
      } catch (error) {
        // Keep them for the next flush; if this process dies first, the leases
        // expire and the deliveries are attempted again.
        this.#pending.unshift(...batch);
        this.#s.onError(error);
        if (this.#retryFlushTimer === undefined) {
          this.#retryFlushTimer = setTimeout(() => {
            this.#retryFlushTimer = undefined;
            void this.flush();
          }, this.#s.pollIntervalMs);
        }
        return;
      }
    }
  }
}

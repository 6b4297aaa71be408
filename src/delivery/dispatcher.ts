import { type Clock, systemClock } from "../core/clock.js";
import { WebhookStatus } from "../core/enums.js";
import { ConfigurationError } from "../core/errors.js";
import { DeliveryResult, requireInteger, type WebhookConfig, WebhookEvent } from "../core/models.js";
import { WebhookRegistry } from "../registry/registry.js";
import { signingKeyFor } from "../signing/secrets.js";
import { HTTPWebhookTransport } from "../transport/callback-transport.js";
import { WebhookTransport } from "../transport/transport.js";
import { type AttemptOutcome, attemptDelivery, type DeliveryRequest } from "./deliver.js";
import { linearRetry } from "./retry-policy.js";

export interface WebhookDispatcherOptions {
  /** Time source and timer for retry waits; the system clock by default. */
  clock?: Clock;
  /**
   * Called after every attempt with its result: status `retrying` when
   * another attempt will follow, else `delivered` or `failed`.
   */
  onAttempt?: (result: DeliveryResult) => void;
}

/**
 * The seed's in-process dispatcher: sends an event to every matching webhook
 * of a registry, concurrently, through a transport. Nothing is persisted; for
 * delivery that survives crashes use the durable engine (`createHookline`).
 *
 * @example
 * const dispatcher = new WebhookDispatcher(registry, new HttpTransport());
 * const results = await dispatcher.dispatchWithRetry(new WebhookEvent({ eventType: "created", payload }));
 */
export class WebhookDispatcher {
  readonly #registry: WebhookRegistry;
  readonly #transport: WebhookTransport;
  readonly #clock: Clock;
  readonly #onAttempt: ((result: DeliveryResult) => void) | undefined;

  constructor(registry: WebhookRegistry, transport: WebhookTransport, options: WebhookDispatcherOptions = {}) {
    if (!(registry instanceof WebhookRegistry)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "registry must be a WebhookRegistry");
    }
    if (!(transport instanceof WebhookTransport)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "transport must extend WebhookTransport");
    }
    this.#registry = registry;
    this.#transport = transport;
    this.#clock = options.clock ?? systemClock;
    this.#onAttempt = options.onAttempt;
  }

  get registry(): WebhookRegistry {
    return this.#registry;
  }

  get transport(): WebhookTransport {
    return this.#transport;
  }

  /** One attempt per matching webhook, all at once; one result each. */
  async dispatch(event: WebhookEvent): Promise<DeliveryResult[]> {
    return this.#forEachWebhook(event, (id, config) => this.#deliver(id, config, event, 0));
  }

  /**
   * Up to `maxRetries + 1` attempts per matching webhook (the argument
   * overrides each config's `maxRetries`), waiting `retryDelayMs × n` before
   * the n-th retry on a timer. Returns the last result per webhook, whose
   * `attempt` is the number of attempts made.
   */
  async dispatchWithRetry(event: WebhookEvent, maxRetries?: number): Promise<DeliveryResult[]> {
    if (maxRetries !== undefined) requireInteger("maxRetries", maxRetries, 0);
    return this.#forEachWebhook(event, (id, config) =>
      this.#deliver(id, config, event, maxRetries ?? config.maxRetries),
    );
  }

  async #forEachWebhook(
    event: WebhookEvent,
    deliver: (id: string, config: WebhookConfig) => Promise<DeliveryResult>,
  ): Promise<DeliveryResult[]> {
    if (!(event instanceof WebhookEvent)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "event must be a WebhookEvent");
    }
    const webhooks = [...this.#registry.listForEvent(event.eventType)];
    return Promise.all(webhooks.map(([id, config]) => deliver(id, config)));
  }

  async #deliver(id: string, config: WebhookConfig, event: WebhookEvent, maxRetries: number): Promise<DeliveryResult> {
    const policy = linearRetry({ maxRetries, retryDelayMs: config.retryDelayMs });
    const request = this.#request(config, event);
    for (let attempt = 1; ; attempt++) {
      const outcome = await attemptDelivery(this.#transport, request, this.#clock);
      const delayMs = outcome.succeeded ? null : policy.delayBeforeAttemptMs(attempt + 1);
      const result = toResult(id, event, outcome, attempt, delayMs !== null);
      this.#onAttempt?.(result);
      if (delayMs === null) return result;
      await this.#clock.sleep(delayMs);
    }
  }

  #request(config: WebhookConfig, event: WebhookEvent): DeliveryRequest {
    return {
      url: config.url,
      body: event.toJson(),
      msgId: event.eventId,
      eventType: event.eventType,
      secret: config.secret,
      signatureAlgorithm: config.signatureAlgorithm,
      signingKeys: [signingKeyFor(config.secret)],
      timeoutMs: config.timeoutMs,
    };
  }
}

function toResult(
  webhookId: string,
  event: WebhookEvent,
  outcome: AttemptOutcome,
  attempt: number,
  willRetry: boolean,
): DeliveryResult {
  let status: WebhookStatus = outcome.succeeded ? WebhookStatus.DELIVERED : WebhookStatus.FAILED;
  if (willRetry) status = WebhookStatus.RETRYING;
  return new DeliveryResult({
    webhookId,
    eventId: event.eventId,
    status,
    statusCode: outcome.statusCode,
    attempt,
    error: outcome.error,
    timestamp: outcome.startedAt,
  });
}

/**
 * A dispatcher with defaults: a new registry, and the seed's no-op transport
 * that answers 200 — pass `transport: new HttpTransport()` for real HTTP.
 */
export function createWebhookDispatcher(
  options: { registry?: WebhookRegistry; transport?: WebhookTransport } & WebhookDispatcherOptions = {},
): WebhookDispatcher {
  const { registry = new WebhookRegistry(), transport = new HTTPWebhookTransport(), ...rest } = options;
  return new WebhookDispatcher(registry, transport, rest);
}

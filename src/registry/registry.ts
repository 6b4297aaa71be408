import { ConfigurationError, NotFoundError } from "../core/errors.js";
import { matchesEventType } from "../core/event-filter.js";
import { WebhookConfig } from "../core/models.js";
import { parseSigningSecret } from "../signing/secrets.js";

/**
 * The seed's in-memory registry of webhook subscriptions, keyed by id. For
 * subscriptions that survive a restart, use the durable engine
 * (`createHookline`).
 *
 * @example
 * const registry = createWebhookRegistry();
 * registry.register("billing", new WebhookConfig({ url, secret, events: ["invoice.*"] }));
 * registry.listForEvent("invoice.paid"); // Map { "billing" => WebhookConfig }
 */
export class WebhookRegistry {
  readonly #webhooks = new Map<string, WebhookConfig>();

  /** Adds the webhook, or replaces the one registered under `id`. */
  register(id: string, config: WebhookConfig): void {
    if (typeof id !== "string" || id.length === 0) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "webhook id must be a non-empty string");
    }
    if (!(config instanceof WebhookConfig)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "config must be a WebhookConfig");
    }
    // A malformed whsec_/whsk_ secret fails here, not at delivery time.
    parseSigningSecret(config.secret);
    this.#webhooks.set(id, config);
  }

  /** Removes the webhook; throws a NotFoundError ("… not found") for an unknown id. */
  unregister(id: string): void {
    if (!this.#webhooks.delete(id)) throw new NotFoundError(`webhook ${JSON.stringify(id)} not found`);
  }

  get(id: string): WebhookConfig | undefined {
    return this.#webhooks.get(id);
  }

  /** Every registered webhook, as a new Map. */
  listAll(): Map<string, WebhookConfig> {
    return new Map(this.#webhooks);
  }

  /** Active webhooks that take `eventType`: listed by name or prefix, or with an empty filter. */
  listForEvent(eventType: string): Map<string, WebhookConfig> {
    const matching = new Map<string, WebhookConfig>();
    for (const [id, config] of this.#webhooks) {
      if (config.active && matchesEventType(config.events, eventType)) matching.set(id, config);
    }
    return matching;
  }
}

/** A new, empty {@link WebhookRegistry}. */
export function createWebhookRegistry(): WebhookRegistry {
  return new WebhookRegistry();
}

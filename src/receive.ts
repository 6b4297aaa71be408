/**
 * `hookline/receive`: verify incoming webhooks from hookline, any Standard
 * Webhooks sender (Svix included), Stripe, GitHub, GitLab, Shopify and Slack;
 * drop replays and duplicates by id; read the raw body right in Express,
 * Fastify, Hono and fetch-style handlers.
 *
 * @example
 * import { createDeduper, verifyWebhook } from "hookline/receive";
 *
 * const dedupe = createDeduper({ ttlMs: 24 * 3_600_000 });
 * const event = verifyWebhook("standard", { secret: process.env.WEBHOOK_SECRET!, body: rawBody, headers });
 * if (event.id !== null && (await dedupe.check(event.id))) handle(event.payload);
 */
export { WebhookVerificationError } from "./core/errors.js";
export type { EventMap, WebhookEnvelope } from "./core/event-map.js";
export {
  type ContentTypeParserHost,
  type HonoContextLike,
  type RawBodyRequest,
  rawBodyParser,
  type VerifyRequestOptions,
  verifyHonoRequest,
  verifyNodeRequest,
  verifyRequest,
} from "./receive/adapters.js";
export { createDeduper, type DedupeDocumentStore, type Deduper, type DeduperOptions } from "./receive/dedupe.js";
export {
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  verifyWebhook,
  WEBHOOK_PROVIDERS,
  type WebhookHeaders,
  type WebhookProvider,
} from "./receive/verify.js";

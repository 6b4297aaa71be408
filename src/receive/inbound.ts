import { createHash } from "node:crypto";
import type { Hookline } from "../delivery/hookline.js";
import type { SendResult } from "../delivery/hookline-types.js";
import type { InboundSource } from "../delivery/sources.js";
import { verifyWebhook, type WebhookHeaders } from "./verify.js";

/** Longest event type name the engine accepts. */
const MAX_EVENT_TYPE_LENGTH = 256;

/**
 * The event type of an inbound webhook: the provider, then the provider's
 * own type (`github.push`, `stripe.invoice.paid`, `shopify.orders.create`),
 * with anything an event type name may not hold turned into dots.
 */
export function inboundEventType(provider: string, providerType: string | null): string {
  const type = (providerType ?? "event").replace(/[^a-zA-Z0-9\-_.]+/g, ".").replace(/^\.+|\.+$/g, "") || "event";
  return `${provider}.${type}`.slice(0, MAX_EVENT_TYPE_LENGTH);
}

/** What `receiveInbound` did with a verified request. */
export interface InboundResult {
  source: InboundSource;
  eventType: string;
  /** The message the request became (the first one when the provider sent the same delivery again). */
  sent: SendResult;
}

/**
 * An inbound source's request, verified and sent: the body is checked with
 * the source's provider scheme and secret (`verifyWebhook`; a failure throws
 * `WebhookVerificationError` and nothing is stored), then sent as a message
 * of the source's app. The provider's delivery id is the message's event id,
 * so a redelivery creates nothing new; without one, the body's SHA-256 is.
 */
export async function receiveInbound(
  hl: Hookline,
  sourceId: string,
  request: { body: string | Uint8Array; headers: WebhookHeaders },
  options: { now?: () => number } = {},
): Promise<InboundResult> {
  const source = await hl.sources.get(sourceId);
  const verified = verifyWebhook(source.provider, {
    secret: source.secrets,
    body: request.body,
    headers: request.headers,
    ...(options.now && { now: options.now }),
  });
  const eventType = inboundEventType(source.provider, verified.eventType);
  const deliveryId = verified.id ?? `sha256:${createHash("sha256").update(request.body).digest("hex")}`;
  const sent = await hl.send({
    appId: source.appId,
    eventType,
    payload: verified.payload,
    // Per source: two sources of one app may see the same provider ids.
    eventId: `${source.id}:${deliveryId}`.slice(0, 256),
    bodyFormat: "payload",
    tags: [`source:${source.id}`],
  });
  const { secrets: _secrets, ...withoutSecrets } = source;
  return { source: withoutSecrets, eventType, sent };
}

/**
 * A map from event type name to payload type, such as the `Events` interface
 * `hookline types generate` writes. `createHookline<Events>()` checks `send()`
 * against it; without one, any event type and payload are accepted.
 *
 * @example
 * interface Events { "invoice.paid": { id: string; amountCents: number } }
 * const hl = await createHookline<Events>({ store });
 * await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 500 } });
 */
export type EventMap = object;

/** The map of an untyped engine: every name, any payload. */
// biome-ignore lint/suspicious/noExplicitAny: `unknown` here would make an `Events` interface (no index signature) unassignable to it, so a typed engine could not be passed where a `Hookline` is expected.
export type AnyEvents = Record<string, any>;

/**
 * The body hookline sends by default (`bodyFormat: "envelope"`) for each event
 * type of `E`, as a union that narrows on `event_type`. Get it from a verified
 * body with `new StandardWebhook(secret).verify<WebhookEnvelope<Events>>(…)`.
 *
 * @example
 * const event = wh.verify<WebhookEnvelope<Events>>(rawBody, req.headers);
 * if (event.event_type === "invoice.paid") console.log(event.payload.amountCents);
 */
export type WebhookEnvelope<E extends EventMap = AnyEvents> = {
  [K in keyof E & string]: { event_id: string; event_type: K; payload: E[K]; source: string; timestamp: string };
}[keyof E & string];

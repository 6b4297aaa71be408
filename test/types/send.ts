/**
 * Compiled by test/types.test.ts with `tsc --noEmit -p test/types`: every line
 * under `@ts-expect-error` must fail to compile, every other line must compile.
 */
import {
  type AnyEvents,
  createHookline,
  type Hookline,
  type SendInput,
  StandardWebhook,
  type WebhookEnvelope,
} from "../../src/index.js";
import { verifyWebhook } from "../../src/receive.js";
import type { ServerOptions } from "../../src/server.js";
import type { Events } from "./events.js";

export async function typedSend(): Promise<void> {
  const hl = await createHookline<Events>();
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 500 } });
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 500, note: null }, eventId: "e1" });
  // An open object (no additionalProperties: false) takes extra keys.
  await hl.send({ eventType: "user.created", payload: { email: "a@example.com", plan: "pro" } });
  await hl.send({ eventType: "cache.flushed", payload: 42 });

  // @ts-expect-error a wrong payload type for a known event type
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: "500" } });
  // @ts-expect-error a missing required field
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1" } });
  // @ts-expect-error an unknown property of an exact object (additionalProperties: false)
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 500, amount: 5 } });
  // @ts-expect-error the payload of another event type
  await hl.send({ eventType: "user.created", payload: { id: "in_1", amountCents: 500 } });
  // @ts-expect-error an event type the map does not have
  await hl.send({ eventType: "invoice.paied", payload: { id: "in_1", amountCents: 500 } });
  const anyName: string = "invoice.paid";
  // @ts-expect-error a name only known at run time is not one of the map's
  await hl.send({ eventType: anyName, payload: {} });

  // A typed engine is still a Hookline where one is expected (the server, helpers).
  const untyped: Hookline = hl;
  const options: ServerOptions = { hookline: hl };
  void options;
  await untyped.close();
}

export async function untypedSend(input: SendInput): Promise<void> {
  // Without a type argument everything compiles as before.
  const hl = await createHookline();
  const same: Hookline<AnyEvents> = hl;
  await same.send({ eventType: "anything", payload: { whatever: [1, 2, 3] } });
  await hl.send({ eventType: String(Math.random()), payload: undefined });
  await hl.send(input);
}

export function typedVerify(body: string, headers: Record<string, string>): number {
  const wh = new StandardWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  const untyped: unknown = wh.verify(body, headers);
  void untyped;
  const event = wh.verify<WebhookEnvelope<Events>>(body, headers);
  // @ts-expect-error the payload is a union until event_type narrows it
  void event.payload.amountCents;
  if (event.event_type === "invoice.paid") {
    // @ts-expect-error not a field of invoice.paid
    void event.payload.email;
    return event.payload.amountCents;
  }
  if (event.event_type === "user.created") return event.payload.email.length;
  return 0;
}

export function typedReceive(body: string, headers: Record<string, string>): string {
  // The receiver kit's verifyWebhook takes the same envelope type.
  const event = verifyWebhook<WebhookEnvelope<Events>>("standard", {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    body,
    headers,
  });
  if (event.payload.event_type === "user.created") return event.payload.payload.email;
  // @ts-expect-error only user.created carries an email
  return event.payload.payload.email;
}

import { NotFoundError } from "../../core/errors.js";
import type { Hookline } from "../../delivery/hookline.js";
import type { AppRecord, AttemptRecord, DeliveryStatus, MessageRecord, Page } from "../../store/store.js";
import { ownedBy } from "../auth.js";
import { listSchemas } from "../openapi.js";
import { noContent, type RouteSpec, route } from "../routing.js";
import {
  attemptListQuery,
  emptyResponse,
  messageAttemptOut,
  messageIn,
  messageListQuery,
  messageOut,
  pageQuery,
  withContentQuery,
} from "../schemas.js";
import { attemptToJson, listOut, MessageStatus, messageToJson, type PageQuery, pageOptions } from "../serialize.js";
import { requestTraceparent } from "../tracing.js";
import { endpointOf } from "./endpoints.js";

const MESSAGE_TAG = "Message";
const ATTEMPT_TAG = "Message Attempt";

/** The message, if it belongs to the app; else the 404 of a missing one. */
async function messageOf(hl: Hookline, app: AppRecord, id: string): Promise<MessageRecord> {
  const message = await hl.messages.get(id);
  return ownedBy(app, message, () => new NotFoundError(`message ${JSON.stringify(id)} not found`));
}

const HOUR_MS = 3_600_000;

/** A delivery's state as Svix's MessageStatus numbers (a cancelled delivery is none of the four the filter offers). */
const DELIVERY_STATUS: Record<DeliveryStatus, number> = {
  delivered: MessageStatus.success,
  pending: MessageStatus.pending,
  failed: MessageStatus.fail,
  sending: MessageStatus.sending,
  cancelled: MessageStatus.canceled,
};
/** Deliveries read per message for the status filter: one page, as many as a message has endpoints in practice. */
const DELIVERIES_PER_MESSAGE = 250;

/** Whether one of the message's deliveries is in `status` (a MessageStatus number). */
async function hasDeliveryIn(hl: Hookline, message: MessageRecord, status: number): Promise<boolean> {
  const deliveries = await hl.deliveries.list({ messageId: message.id, limit: DELIVERIES_PER_MESSAGE });
  return deliveries.data.some((delivery) => DELIVERY_STATUS[delivery.status] === status);
}

/** Svix's per-message retention: in days (`payloadRetentionPeriod`) or hours (`payloadRetentionHours`). */
function payloadRetention(body: {
  payloadRetentionPeriod?: number | null | undefined;
  payloadRetentionHours?: number | null | undefined;
}): { payloadRetentionMs?: number } {
  if (body.payloadRetentionHours != null) return { payloadRetentionMs: body.payloadRetentionHours * HOUR_MS };
  if (body.payloadRetentionPeriod != null) return { payloadRetentionMs: body.payloadRetentionPeriod * 24 * HOUR_MS };
  return {};
}

/** Svix's attempt-list filters; hookline applies them to each page, so the iterator stays exact. */
interface AttemptFilters {
  status?: number | undefined;
  status_code_class?: number | undefined;
  before?: number | undefined;
  after?: number | undefined;
  channel?: string | undefined;
  tag?: string | undefined;
  event_types?: string[] | undefined;
  with_msg?: boolean | undefined;
}

/** The class Svix files a status code under: 0 for no response, else 100, 200, … 500. */
const codeClass = (statusCode: number | null) => (statusCode === null ? 0 : Math.floor(statusCode / 100) * 100);

/** A page of attempts as Svix lists them: filtered, with each endpoint's URL (and the message when asked). */
async function attemptsOut(hl: Hookline, page: Page<AttemptRecord>, filters: AttemptFilters & PageQuery) {
  const needMessages =
    filters.with_msg === true ||
    filters.channel !== undefined ||
    filters.tag !== undefined ||
    (filters.event_types?.length ?? 0) > 0;
  const urls = new Map<string, string>();
  const messages = new Map<string, MessageRecord>();
  for (const attempt of page.data) {
    if (!urls.has(attempt.endpointId)) {
      const endpoint = await hl.store.getEndpoint(attempt.endpointId);
      urls.set(attempt.endpointId, endpoint?.url ?? "");
    }
    if (needMessages && !messages.has(attempt.messageId)) {
      const message = await hl.store.getMessage(attempt.messageId);
      if (message) messages.set(attempt.messageId, message);
    }
  }
  const keep = (attempt: AttemptRecord): boolean => {
    // Attempts are finished when recorded: success (0) or fail (2).
    const status = attempt.succeeded ? MessageStatus.success : MessageStatus.fail;
    if (filters.status !== undefined && status !== filters.status) return false;
    if (filters.status_code_class !== undefined && codeClass(attempt.statusCode) !== filters.status_code_class) {
      return false;
    }
    if (filters.before !== undefined && attempt.startedAt >= filters.before) return false;
    if (filters.after !== undefined && attempt.startedAt <= filters.after) return false;
    const message = messages.get(attempt.messageId);
    if (filters.channel !== undefined && !(message?.channels ?? []).includes(filters.channel)) return false;
    if (filters.tag !== undefined && !(message?.tags ?? []).includes(filters.tag)) return false;
    if (filters.event_types?.length && !filters.event_types.includes(message?.eventType ?? "")) return false;
    return true;
  };
  return listOut(
    { ...page, data: page.data.filter(keep) },
    (attempt) =>
      attemptToJson(
        attempt,
        urls.get(attempt.endpointId) ?? "",
        filters.with_msg ? messages.get(attempt.messageId) : undefined,
      ),
    filters,
  );
}

/** /api/v1/app/{app_id}/msg and …/attempt: Svix's message and message-attempt routes, and the app's attempt feed. */
export function messageRoutes(): RouteSpec[] {
  return [
    route({
      method: "POST",
      url: "/api/v1/app/:app_id/msg",
      operationId: "v1.message.create",
      summary:
        "Send a message to every matching endpoint: the body is the payload alone, signed with svix-* and webhook-* headers. " +
        "eventId is an idempotency key: sending it again returns the first message (200).",
      tag: MESSAGE_TAG,
      auth: "app",
      query: withContentQuery,
      body: messageIn,
      responses: {
        200: { description: "A message with this eventId exists: the first one", schema: messageOut },
        202: { description: "The message is stored and its deliveries queued", schema: messageOut },
      },
      handler: async ({ hl, app, body, query, request, reply }) => {
        const traceparent = requestTraceparent(request);
        const sent = await hl.send({
          appId: app.id,
          eventType: body.eventType,
          payload: body.payload,
          bodyFormat: "payload",
          ...(body.eventId != null && { eventId: body.eventId }),
          ...(body.channels != null && { channels: body.channels }),
          ...(body.tags != null && { tags: body.tags }),
          ...(body.orderingKey != null && { orderingKey: body.orderingKey }),
          ...(traceparent !== undefined && { traceparent }),
          ...payloadRetention(body),
        });
        reply.code(sent.created ? 202 : 200);
        return messageToJson(sent.message, query.with_content ?? true);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/msg",
      operationId: "v1.message.list",
      summary: "List the app's messages, newest first",
      tag: MESSAGE_TAG,
      auth: "app",
      query: messageListQuery,
      responses: { 200: { description: "A page of messages", schema: listSchemas.messages } },
      handler: async ({ hl, app, query }) => {
        const page = await hl.messages.list({
          appId: app.id,
          ...pageOptions(query),
          ...(query.before !== undefined && { before: query.before }),
          ...(query.after !== undefined && { after: query.after }),
          ...(query.event_types && { eventTypes: query.event_types }),
        });
        const data = page.data.filter(
          (m) =>
            (query.channel === undefined || (m.channels ?? []).includes(query.channel)) &&
            (query.tag === undefined || (m.tags ?? []).includes(query.tag)),
        );
        const { status } = query;
        const inStatus = status === undefined ? null : await Promise.all(data.map((m) => hasDeliveryIn(hl, m, status)));
        const kept = { ...page, data: inStatus === null ? data : data.filter((_, i) => inStatus[i]) };
        return listOut(kept, (m) => messageToJson(m, query.with_content ?? true), query);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/msg/:msg_id",
      operationId: "v1.message.get",
      summary: "Get a message",
      tag: MESSAGE_TAG,
      auth: "app",
      query: withContentQuery,
      responses: { 200: { description: "The message", schema: messageOut } },
      handler: async ({ hl, app, params, query }) =>
        messageToJson(await messageOf(hl, app, params.msg_id as string), query.with_content ?? true),
    }),
    route({
      method: "DELETE",
      url: "/api/v1/app/:app_id/msg/:msg_id/content",
      operationId: "v1.message.expunge-content",
      summary:
        "Expunge a message's payload now (an erasure request): the message and its attempts stay, the payload becomes null. " +
        "409 while one of its deliveries is pending or being sent.",
      tag: MESSAGE_TAG,
      auth: "app",
      responses: { 204: { description: "Expunged" } },
      handler: async ({ hl, app, params, reply }) => {
        const message = await messageOf(hl, app, params.msg_id as string);
        await hl.messages.expunge(message.id);
        return noContent(reply);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/attempt/msg/:msg_id",
      operationId: "v1.message-attempt.list-by-msg",
      summary: "List a message's attempts, newest first",
      tag: ATTEMPT_TAG,
      auth: "app",
      query: attemptListQuery,
      responses: { 200: { description: "A page of attempts", schema: listSchemas.attempts } },
      handler: async ({ hl, app, params, query }) => {
        const message = await messageOf(hl, app, params.msg_id as string);
        const page = await hl.attempts.list({
          appId: app.id,
          messageId: message.id,
          ...pageOptions(query),
          ...(query.endpoint_id && { endpointId: query.endpoint_id }),
        });
        return attemptsOut(hl, page, query);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/attempt/endpoint/:endpoint_id",
      operationId: "v1.message-attempt.list-by-endpoint",
      summary: "List an endpoint's attempts, newest first",
      tag: ATTEMPT_TAG,
      auth: "app",
      query: attemptListQuery,
      responses: { 200: { description: "A page of attempts", schema: listSchemas.attempts } },
      handler: async ({ hl, app, params, query }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        const page = await hl.attempts.list({
          appId: app.id,
          endpointId: endpoint.id,
          ...pageOptions(query),
        });
        return attemptsOut(hl, page, query);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/attempt",
      operationId: "v1.message-attempt.list-by-app",
      summary: "Beyond Svix: every attempt of the app, newest first (what `hookline tail` follows)",
      tag: ATTEMPT_TAG,
      auth: "app",
      query: pageQuery,
      responses: { 200: { description: "A page of attempts", schema: listSchemas.attempts } },
      handler: async ({ hl, app, query }) => {
        const page = await hl.attempts.list({ appId: app.id, ...pageOptions(query) });
        return attemptsOut(hl, page, query);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id",
      operationId: "v1.message-attempt.get",
      summary: "Get one attempt of a message",
      tag: ATTEMPT_TAG,
      auth: "app",
      responses: { 200: { description: "The attempt", schema: messageAttemptOut } },
      handler: async ({ hl, app, params }) => {
        const message = await messageOf(hl, app, params.msg_id as string);
        const attempt = await hl.attempts.get(params.attempt_id as string, { messageId: message.id, appId: app.id });
        const endpoint = await hl.store.getEndpoint(attempt.endpointId);
        return attemptToJson(attempt, endpoint?.url ?? "");
      },
    }),
    route({
      method: "POST",
      url: "/api/v1/app/:app_id/msg/:msg_id/endpoint/:endpoint_id/resend",
      operationId: "v1.message-attempt.resend",
      summary: "Send a message to one endpoint again now (a manual attempt)",
      tag: ATTEMPT_TAG,
      auth: "app",
      responses: { 202: { description: "Queued", schema: emptyResponse } },
      handler: async ({ hl, app, params, reply }) => {
        const message = await messageOf(hl, app, params.msg_id as string);
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        await hl.messages.resend(message.id, endpoint.id);
        reply.code(202);
        return {};
      },
    }),
  ];
}

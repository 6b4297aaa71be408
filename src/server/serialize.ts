import type { z } from "zod";
import type { EventType } from "../delivery/event-types.js";
import type { Endpoint } from "../delivery/hookline-types.js";
import type {
  AppRecord,
  AttemptRecord,
  DeliveryStatus,
  EndpointRecord,
  MessageRecord,
  Page,
  PageOptions,
} from "../store/store.js";
import type {
  applicationOut,
  endpointHeadersOut,
  endpointOut,
  endpointStats,
  eventTypeOut,
  messageAttemptOut,
  messageOut,
} from "./schemas.js";

/**
 * Engine records → the JSON Svix's clients parse. Pure functions: the
 * numeric enums, renamed fields and ISO dates live here and nowhere else.
 */

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Svix's message status (also used per attempt): 0 success, 1 pending, 2 fail, 3 sending, 4 canceled. */
export const MessageStatus = { success: 0, pending: 1, fail: 2, sending: 3, canceled: 4 } as const;
/** Svix's attempt trigger: 0 scheduled, 1 manual. */
export const TriggerType = { scheduled: 0, manual: 1 } as const;

/** Headers whose values GET …/headers does not show (listed in `sensitive` instead), as Svix does. */
const SENSITIVE_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"]);

/** Svix's paging query: `limit`, `iterator` (a `-` prefix, as in `prevIterator`, pages back), `order`. */
export interface PageQuery {
  limit?: number | undefined;
  iterator?: string | undefined;
  order?: "ascending" | "descending" | undefined;
}

const pagesBack = (query: PageQuery): boolean => query.iterator?.startsWith("-") === true;

/**
 * The store's page options for a Svix paging query. Paging back from an id
 * reads the other way from it (the rows next to it first) and `listOut` turns
 * the page around again.
 */
export function pageOptions(query: PageQuery): PageOptions {
  const back = pagesBack(query);
  const cursor = back ? query.iterator?.slice(1) : query.iterator;
  const ascending = (query.order === "ascending") !== back;
  return {
    ...(query.limit !== undefined && { limit: query.limit }),
    ...(cursor && { cursor }),
    ...(ascending && { order: "ascending" as const }),
  };
}

/**
 * A Svix list response: `iterator` continues in the listing's order, `done`
 * when the direction walked has nothing more. Given the query it answered
 * (read through {@link pageOptions}), also `prevIterator` (`-` and the first
 * id), which pages back.
 */
export function listOut<T, U>(page: Page<T>, map: (item: T) => U, query?: PageQuery) {
  if (query === undefined) {
    return { data: page.data.map(map), iterator: page.nextCursor, prevIterator: null, done: page.nextCursor === null };
  }
  const back = pagesBack(query);
  const data = back ? [...page.data].reverse() : page.data;
  const idOf = (item: T | undefined) => (item as { id: string } | undefined)?.id ?? null;
  const first = idOf(data[0]);
  return {
    data: data.map(map),
    iterator: back ? idOf(data[data.length - 1]) : page.nextCursor,
    prevIterator: first === null ? null : `-${first}`,
    done: page.nextCursor === null,
  };
}

export function applicationToJson(app: AppRecord): z.input<typeof applicationOut> {
  return {
    id: app.id,
    uid: app.uid,
    name: app.name,
    metadata: app.metadata,
    rateLimit: null,
    throttleRate: null,
    createdAt: iso(app.createdAt),
    updatedAt: iso(app.updatedAt),
  };
}

export function endpointToJson(endpoint: EndpointRecord | Endpoint): z.input<typeof endpointOut> {
  return {
    id: endpoint.id,
    uid: endpoint.uid,
    url: endpoint.url,
    description: endpoint.description,
    version: 1,
    disabled: endpoint.disabled,
    filterTypes: endpoint.eventTypes.length > 0 ? endpoint.eventTypes : null,
    channels: endpoint.channels !== null && endpoint.channels.length > 0 ? endpoint.channels : null,
    metadata: endpoint.metadata,
    rateLimit: endpoint.rateLimitPerSecond,
    throttleRate: endpoint.rateLimitPerSecond,
    ordering: endpoint.ordering ?? null,
    filter: endpoint.filter ?? null,
    createdAt: iso(endpoint.createdAt),
    updatedAt: iso(endpoint.updatedAt),
  };
}

export function endpointHeadersToJson(endpoint: EndpointRecord): z.input<typeof endpointHeadersOut> {
  const headers: Record<string, string> = {};
  const sensitive: string[] = [];
  for (const [name, value] of Object.entries(endpoint.headers)) {
    if (SENSITIVE_HEADERS.has(name.toLowerCase())) sensitive.push(name);
    else headers[name] = value;
  }
  return { headers, sensitive };
}

export function endpointStatsToJson(counts: Record<DeliveryStatus, number>): z.input<typeof endpointStats> {
  return {
    success: counts.delivered,
    pending: counts.pending,
    sending: counts.sending,
    fail: counts.failed,
    canceled: counts.cancelled,
  };
}

/**
 * The payload a message carries: the body itself (Svix API) or the envelope's
 * `payload` (library); null once retention or an erasure expunged it.
 */
export function messagePayload(message: MessageRecord): unknown {
  if ((message.expungedAt ?? null) !== null) return null;
  const body: unknown = JSON.parse(message.body);
  return message.bodyFormat === "payload" ? body : (body as { payload?: unknown }).payload;
}

export function messageToJson(message: MessageRecord, withContent = true): z.input<typeof messageOut> {
  return {
    id: message.id,
    eventType: message.eventType,
    // The engine uses the message id as the event id when none was given; Svix says null.
    eventId: message.eventId === message.id ? null : message.eventId,
    payload: withContent ? messagePayload(message) : {},
    channels: message.channels,
    tags: message.tags,
    timestamp: iso(message.createdAt),
    deliverAt: null,
  };
}

export function attemptToJson(
  attempt: AttemptRecord,
  url: string,
  message?: MessageRecord,
): z.input<typeof messageAttemptOut> {
  return {
    id: attempt.id,
    msgId: attempt.messageId,
    endpointId: attempt.endpointId,
    url,
    response: attempt.responseExcerpt ?? attempt.error ?? "",
    responseStatusCode: attempt.statusCode ?? 0,
    responseDurationMs: Math.round(attempt.durationMs),
    status: attempt.succeeded ? MessageStatus.success : MessageStatus.fail,
    statusText: attempt.succeeded ? "success" : "fail",
    timestamp: iso(attempt.startedAt),
    triggerType: TriggerType[attempt.trigger],
    ...(message !== undefined && { msg: messageToJson(message, false) }),
  };
}

export function eventTypeToJson(type: EventType, withSchemas = true): z.input<typeof eventTypeOut> {
  return {
    name: type.name,
    description: type.description,
    archived: type.archived,
    deprecated: false,
    featureFlag: type.featureFlag,
    featureFlags: type.featureFlag === null ? null : [type.featureFlag],
    groupName: null,
    schemas: withSchemas ? type.schemas : null,
    createdAt: iso(type.createdAt),
    updatedAt: iso(type.updatedAt),
  };
}

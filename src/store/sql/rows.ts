import type { SignatureAlgorithm } from "../../core/enums.js";
import type { ColumnCodec } from "../codec.js";
import type {
  AppRecord,
  AttemptRecord,
  AttemptTrigger,
  BodyFormat,
  DeliveryRecord,
  DeliveryStatus,
  DocumentRecord,
  EndpointPatch,
  EndpointRecord,
  MessageRecord,
  WorkerRecord,
} from "../store.js";

/**
 * Mapping between records and rows, shared by the SQL stores. Column values
 * arrive as numbers or strings (PostgreSQL BIGINT is parsed to a number by
 * the store's type parser), JSON columns as text.
 */
type Row = Record<string, unknown>;

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const json = <T>(value: unknown): T => JSON.parse(String(value)) as T;
const jsonOrNull = <T>(value: unknown): T | null => (value === null || value === undefined ? null : json<T>(value));
const jsonText = (value: unknown): string | null =>
  value === null || value === undefined ? null : JSON.stringify(value);

export const APP_COLUMNS = ["id", "uid", "name", "metadata", "created_at", "updated_at"] as const;

export function appToRow(app: AppRecord): unknown[] {
  return [app.id, app.uid, app.name, JSON.stringify(app.metadata), app.createdAt, app.updatedAt];
}

export function rowToApp(row: Row): AppRecord {
  return {
    id: String(row.id),
    uid: strOrNull(row.uid),
    name: String(row.name),
    metadata: json(row.metadata),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export const ENDPOINT_COLUMNS = [
  "id",
  "app_id",
  "uid",
  "url",
  "description",
  "secrets",
  "event_types",
  "channels",
  "headers",
  "metadata",
  "rate_limit_per_second",
  "signature_algorithm",
  "timeout_ms",
  "disabled",
  "disabled_reason",
  "failing_since",
  "created_at",
  "updated_at",
  "ordering",
  "filter",
] as const;

/**
 * Endpoint rows: the `secrets` and `headers` columns hold credentials and go
 * through the store's codec (encrypted at rest when a key is configured).
 */
export function endpointToRow(e: EndpointRecord, codec: ColumnCodec): unknown[] {
  return [
    e.id,
    e.appId,
    e.uid,
    e.url,
    e.description,
    codec.encode(JSON.stringify(e.secrets)),
    JSON.stringify(e.eventTypes),
    jsonText(e.channels),
    codec.encode(JSON.stringify(e.headers)),
    JSON.stringify(e.metadata),
    e.rateLimitPerSecond,
    e.signatureAlgorithm,
    e.timeoutMs,
    e.disabled ? 1 : 0,
    e.disabledReason,
    e.failingSince,
    e.createdAt,
    e.updatedAt,
    e.ordering ?? null,
    jsonText(e.filter),
  ];
}

export function rowToEndpoint(row: Row, codec: ColumnCodec, prefix = ""): EndpointRecord {
  const c = (name: string) => row[prefix + name];
  return {
    id: String(c("id")),
    appId: String(c("app_id")),
    uid: strOrNull(c("uid")),
    url: String(c("url")),
    description: String(c("description")),
    secrets: json(codec.decode(String(c("secrets")))),
    eventTypes: json(c("event_types")),
    channels: jsonOrNull(c("channels")),
    headers: json(codec.decode(String(c("headers")))),
    metadata: json(c("metadata")),
    rateLimitPerSecond: numOrNull(c("rate_limit_per_second")),
    signatureAlgorithm: String(c("signature_algorithm")) as SignatureAlgorithm,
    timeoutMs: num(c("timeout_ms")),
    disabled: num(c("disabled")) === 1,
    disabledReason: strOrNull(c("disabled_reason")),
    failingSince: numOrNull(c("failing_since")),
    ...(c("ordering") === "fifo" && { ordering: "fifo" as const }),
    ...(c("filter") !== null && c("filter") !== undefined && { filter: json<Record<string, unknown>>(c("filter")) }),
    createdAt: num(c("created_at")),
    updatedAt: num(c("updated_at")),
  };
}

const ENDPOINT_PATCH_COLUMNS: Record<
  keyof EndpointPatch,
  { column: string; encode: (v: never, codec: ColumnCodec) => unknown }
> = {
  uid: { column: "uid", encode: (v: string | null) => v },
  url: { column: "url", encode: (v: string) => v },
  description: { column: "description", encode: (v: string) => v },
  secrets: { column: "secrets", encode: (v: unknown, codec) => codec.encode(JSON.stringify(v)) },
  eventTypes: { column: "event_types", encode: (v: unknown) => JSON.stringify(v) },
  channels: { column: "channels", encode: (v: unknown) => jsonText(v) },
  headers: { column: "headers", encode: (v: unknown, codec) => codec.encode(JSON.stringify(v)) },
  metadata: { column: "metadata", encode: (v: unknown) => JSON.stringify(v) },
  rateLimitPerSecond: { column: "rate_limit_per_second", encode: (v: number | null) => v },
  signatureAlgorithm: { column: "signature_algorithm", encode: (v: string) => v },
  timeoutMs: { column: "timeout_ms", encode: (v: number) => v },
  disabled: { column: "disabled", encode: (v: boolean) => (v ? 1 : 0) },
  disabledReason: { column: "disabled_reason", encode: (v: string | null) => v },
  failingSince: { column: "failing_since", encode: (v: number | null) => v },
  ordering: { column: "ordering", encode: (v: string | null) => v },
  filter: { column: "filter", encode: (v: unknown) => jsonText(v) },
};

/** The `SET` columns and values of an endpoint patch, in a stable order. */
export function endpointPatchColumns(
  patch: EndpointPatch,
  codec: ColumnCodec,
): Array<{ column: string; value: unknown }> {
  const out: Array<{ column: string; value: unknown }> = [];
  for (const [key, spec] of Object.entries(ENDPOINT_PATCH_COLUMNS)) {
    const value = patch[key as keyof EndpointPatch];
    if (value !== undefined) out.push({ column: spec.column, value: spec.encode(value as never, codec) });
  }
  return out;
}

export const MESSAGE_COLUMNS = [
  "id",
  "app_id",
  "event_id",
  "event_type",
  "body",
  "body_format",
  "channels",
  "tags",
  "created_at",
  "traceparent",
  "payload_expires_at",
  "expunged_at",
] as const;

export function messageToRow(m: MessageRecord): unknown[] {
  return [
    m.id,
    m.appId,
    m.eventId,
    m.eventType,
    m.body,
    m.bodyFormat,
    jsonText(m.channels),
    jsonText(m.tags),
    m.createdAt,
    m.traceparent ?? null,
    m.payloadExpiresAt ?? null,
    m.expungedAt ?? null,
  ];
}

export function rowToMessage(row: Row, prefix = ""): MessageRecord {
  const c = (name: string) => row[prefix + name];
  return {
    id: String(c("id")),
    appId: String(c("app_id")),
    eventId: String(c("event_id")),
    eventType: String(c("event_type")),
    body: String(c("body")),
    bodyFormat: String(c("body_format")) as BodyFormat,
    channels: jsonOrNull(c("channels")),
    tags: jsonOrNull(c("tags")),
    createdAt: num(c("created_at")),
    ...(strOrNull(c("traceparent")) !== null && { traceparent: String(c("traceparent")) }),
    ...(numOrNull(c("payload_expires_at")) !== null && { payloadExpiresAt: num(c("payload_expires_at")) }),
    ...(numOrNull(c("expunged_at")) !== null && { expungedAt: num(c("expunged_at")) }),
  };
}

export const DELIVERY_COLUMNS = [
  "id",
  "message_id",
  "endpoint_id",
  "app_id",
  "status",
  "attempt_count",
  "next_attempt_at",
  "lease_owner",
  "next_trigger",
  "last_status_code",
  "last_error",
  "created_at",
  "updated_at",
  "ordering_key",
] as const;

export function deliveryToRow(d: DeliveryRecord): unknown[] {
  return [
    d.id,
    d.messageId,
    d.endpointId,
    d.appId,
    d.status,
    d.attemptCount,
    d.nextAttemptAt,
    d.leaseOwner,
    d.nextTrigger,
    d.lastStatusCode,
    d.lastError,
    d.createdAt,
    d.updatedAt,
    d.orderingKey ?? null,
  ];
}

export function rowToDelivery(row: Row, prefix = ""): DeliveryRecord {
  const c = (name: string) => row[prefix + name];
  return {
    id: String(c("id")),
    messageId: String(c("message_id")),
    endpointId: String(c("endpoint_id")),
    appId: String(c("app_id")),
    status: String(c("status")) as DeliveryStatus,
    attemptCount: num(c("attempt_count")),
    nextAttemptAt: numOrNull(c("next_attempt_at")),
    leaseOwner: strOrNull(c("lease_owner")),
    nextTrigger: String(c("next_trigger")) as AttemptTrigger,
    lastStatusCode: numOrNull(c("last_status_code")),
    lastError: strOrNull(c("last_error")),
    ...(c("ordering_key") !== null && c("ordering_key") !== undefined && { orderingKey: String(c("ordering_key")) }),
    createdAt: num(c("created_at")),
    updatedAt: num(c("updated_at")),
  };
}

export const ATTEMPT_COLUMNS = [
  "id",
  "delivery_id",
  "message_id",
  "endpoint_id",
  "app_id",
  "number",
  "started_at",
  "duration_ms",
  "status_code",
  "response_excerpt",
  "error_code",
  "error",
  "trigger",
  "succeeded",
] as const;

export function attemptToRow(a: AttemptRecord): unknown[] {
  return [
    a.id,
    a.deliveryId,
    a.messageId,
    a.endpointId,
    a.appId,
    a.number,
    a.startedAt,
    Math.round(a.durationMs),
    a.statusCode,
    a.responseExcerpt,
    a.errorCode,
    a.error,
    a.trigger,
    a.succeeded ? 1 : 0,
  ];
}

export function rowToAttempt(row: Row): AttemptRecord {
  return {
    id: String(row.id),
    deliveryId: String(row.delivery_id),
    messageId: String(row.message_id),
    endpointId: String(row.endpoint_id),
    appId: String(row.app_id),
    number: num(row.number),
    startedAt: num(row.started_at),
    durationMs: num(row.duration_ms),
    statusCode: numOrNull(row.status_code),
    responseExcerpt: strOrNull(row.response_excerpt),
    errorCode: strOrNull(row.error_code),
    error: strOrNull(row.error),
    trigger: String(row.trigger) as AttemptTrigger,
    succeeded: num(row.succeeded) === 1,
  };
}

export function rowToDocument(row: Row): DocumentRecord {
  return {
    namespace: String(row.namespace),
    key: String(row.key),
    value: String(row.value),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function rowToWorker(row: Row): WorkerRecord {
  return {
    id: String(row.id),
    host: String(row.host),
    pid: num(row.pid),
    startedAt: num(row.started_at),
    heartbeatAt: num(row.heartbeat_at),
  };
}

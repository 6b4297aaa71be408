import { z } from "zod";

/**
 * The JSON shapes of the Svix-compatible API: request bodies and query
 * strings (parsed with these schemas), and responses (documented with them in
 * /openapi.json). Field names and formats follow the `svix` client's models:
 * camelCase bodies, snake_case query parameters, ISO 8601 dates.
 */

const NAME = /^[a-zA-Z0-9\-_.]+$/;

const uid = z.string().min(1).max(256).regex(NAME, "may hold letters, digits, '-', '_' and '.'");
const eventTypeName = z.string().min(1).max(256).regex(NAME, "may hold letters, digits, '-', '_' and '.'");
const eventTypeFilter = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^(?:[a-zA-Z0-9\-_.]+|[a-zA-Z0-9\-_.]*\.\*|\*)$/,
    "must be an event type name, a prefix ending in '.*', or '*'",
  );
const stringMap = z.record(z.string(), z.string());
const rate = z.number().int().min(1).max(65_535);
const isoDate = z.iso.datetime({ offset: true });
const notSupported = (what: string) =>
  z
    .unknown()
    .refine((value) => value === undefined || value === null, `${what} is not supported by hookline`)
    .optional();

// ---- query strings -----------------------------------------------------------

/** `true`/`false` in a query string (documented as a boolean). */
const queryBool = z.stringbool().optional().meta({ type: "boolean" });
/** An ISO 8601 date in a query string, as milliseconds. */
const queryDate = isoDate.transform((text) => Date.parse(text)).optional();
/** `a,b` or repeated parameters. */
const queryList = z.preprocess(
  (value) => (typeof value === "string" ? value.split(",").filter((v) => v.length > 0) : value),
  z.array(z.string().min(1).max(256)).max(100).optional(),
);

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(250).optional(),
  iterator: z.string().min(1).max(512).optional(),
  /** `descending` (default): newest first; `ascending`: oldest first. */
  order: z.enum(["ascending", "descending"]).optional(),
});

export const appCreateQuery = z.object({ get_if_exists: queryBool });

export const messageListQuery = pageQuery.extend({
  status: z.coerce.number().int().min(0).max(3).optional().meta({
    description:
      "hookline extension: only messages with at least one delivery in this state (0 success, 1 pending, 2 fail, 3 sending), applied to each page as channel and tag are",
  }),
  channel: z.string().min(1).max(256).optional(),
  tag: z.string().min(1).max(256).optional(),
  before: queryDate,
  after: queryDate,
  with_content: queryBool,
  event_types: queryList,
});

export const withContentQuery = z.object({ with_content: queryBool });

export const attemptListQuery = pageQuery.extend({
  status: z.coerce.number().int().min(0).max(4).optional(),
  status_code_class: z.coerce.number().int().min(0).max(500).optional(),
  channel: z.string().min(1).max(256).optional(),
  tag: z.string().min(1).max(256).optional(),
  endpoint_id: z.string().min(1).max(256).optional(),
  before: queryDate,
  after: queryDate,
  with_content: queryBool,
  with_msg: queryBool,
  expanded_statuses: queryBool,
  event_types: queryList,
});

export const eventTypeListQuery = pageQuery.extend({ include_archived: queryBool, with_content: queryBool });

export const expungeQuery = z.object({ expunge: queryBool });

export const statsQuery = z.object({ since: queryDate, until: queryDate });

// ---- request bodies ----------------------------------------------------------

export const applicationIn = z.object({
  name: z.string().min(1).max(256),
  uid: uid.nullish(),
  metadata: stringMap.optional(),
  rateLimit: notSupported("an application rate limit"),
  throttleRate: notSupported("an application rate limit"),
});

export const applicationPatch = applicationIn.partial();

const payloadFilter = z.record(z.string(), z.unknown()).meta({
  description:
    'hookline extension: a payload filter. Only messages whose payload it takes are delivered to the endpoint, e.g. {"amount": {"$gte": 100}, "customer.country": {"$in": ["DE", "FR"]}}. Operators: $eq $neq $gt $gte $lt $lte $in $nin $exist $regex $and $or $not; dotted paths reach into objects and arrays (a numeric segment picks an element). null: every payload.',
});

const endpointFields = {
  url: z.string().min(1).max(2048),
  description: z.string().max(4096).optional(),
  disabled: z.boolean().optional(),
  // hookline extension: `invoice.*` subscribes to every type under a prefix (the engine matches it).
  filterTypes: z.array(eventTypeFilter).max(100).nullish(),
  channels: z.array(z.string().min(1).max(128)).max(100).nullish(),
  metadata: stringMap.optional(),
  rateLimit: rate.nullish(),
  throttleRate: rate.nullish(),
  uid: uid.nullish(),
  /** Accepted for compatibility; every endpoint is version 1. */
  version: z.number().int().min(1).nullish(),
  // hookline extension: "fifo" delivers in send order, one at a time per ordering key.
  ordering: z.enum(["fifo"]).nullish(),
  // hookline extension: a payload filter; the engine validates it and answers 422 naming a bad operator.
  filter: payloadFilter.nullish(),
};

export const endpointIn = z.object({
  ...endpointFields,
  headers: stringMap.nullish(),
  secret: z.string().min(1).max(1024).nullish(),
});

export const endpointUpdate = z.object(endpointFields);

export const endpointPatch = z.object({
  ...endpointFields,
  url: endpointFields.url.optional(),
  secret: notSupported("setting the secret by PATCH (use POST …/secret/rotate)"),
});

export const endpointSecretRotateIn = z.object({
  key: z.string().min(1).max(1024).nullish(),
  gracePeriodSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .nullish(),
});

export const recoverIn = z.object({ since: isoDate, until: isoDate.nullish() });

export const endpointHeadersIn = z.object({ headers: stringMap });

export const endpointHeadersPatchIn = z.object({
  headers: stringMap.optional(),
  deleteHeaders: z.array(z.string().min(1).max(256)).max(100).optional(),
});

export const messageIn = z
  .object({
    eventType: eventTypeName,
    eventId: z.string().min(1).max(256).nullish(),
    payload: z.unknown().refine((value) => value !== undefined, "payload is required"),
    channels: z.array(z.string().min(1).max(128)).max(100).nullish(),
    tags: z.array(z.string().min(1).max(128)).max(100).nullish(),
    deliverAt: notSupported("deliverAt (scheduled delivery)"),
    transformationsParams: notSupported("transformationsParams"),
    /** Ignored: the app must exist. */
    application: z.unknown().optional(),
    // How long this message's payload is kept once its deliveries are done (days or hours, not both).
    payloadRetentionHours: z
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 24)
      .nullish(),
    payloadRetentionPeriod: z
      .number()
      .int()
      .min(1)
      .max(10 * 365)
      .nullish(),
    // hookline extension: for endpoints with ordering "fifo", the group this message keeps its order in.
    orderingKey: z.string().min(1).max(256).nullish(),
  })
  .refine((m) => m.payloadRetentionHours == null || m.payloadRetentionPeriod == null, {
    message: "give payloadRetentionPeriod (days) or payloadRetentionHours, not both",
    path: ["payloadRetentionHours"],
  });

const eventTypeFields = {
  description: z.string().max(4096).optional(),
  archived: z.boolean().optional(),
  deprecated: z.boolean().optional(),
  featureFlag: z.string().min(1).max(256).nullish(),
  featureFlags: z.array(z.string().min(1).max(256)).max(1, "hookline keeps one feature flag").nullish(),
  groupName: z.string().max(256).nullish(),
  schemas: z.record(z.string(), z.unknown()).nullish(),
};

export const eventTypeIn = z.object({ name: eventTypeName, ...eventTypeFields });
export const eventTypeUpdate = z.object(eventTypeFields);
export const eventTypePatch = z.object(eventTypeFields);

export const apiKeyIn = z.object({
  appId: z.string().min(1).max(256),
  name: z.string().max(256).optional(),
});

// ---- responses ---------------------------------------------------------------

const date = z.iso.datetime();

export const httpError = z.object({ code: z.string(), detail: z.string() });

export const httpValidationError = z.object({
  code: z.string().optional(),
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() })),
});

export const applicationOut = z.object({
  id: z.string(),
  uid: z.string().nullable(),
  name: z.string(),
  metadata: stringMap,
  rateLimit: z.number().nullable(),
  throttleRate: z.number().nullable(),
  createdAt: date,
  updatedAt: date,
});

export const endpointOut = z.object({
  id: z.string(),
  uid: z.string().nullable(),
  url: z.string(),
  description: z.string(),
  version: z.number().int(),
  disabled: z.boolean(),
  filterTypes: z.array(z.string()).nullable(),
  channels: z.array(z.string()).nullable(),
  metadata: stringMap,
  rateLimit: z.number().nullable(),
  throttleRate: z.number().nullable(),
  /** hookline extension: "fifo", or null for no ordering. */
  ordering: z.enum(["fifo"]).nullable(),
  filter: payloadFilter.nullable(),
  createdAt: date,
  updatedAt: date,
});

export const endpointSecretOut = z.object({ key: z.string() });

export const endpointHeadersOut = z.object({ headers: stringMap, sensitive: z.array(z.string()) });

export const endpointStats = z.object({
  success: z.number().int(),
  pending: z.number().int(),
  sending: z.number().int(),
  fail: z.number().int(),
  canceled: z.number().int(),
});

export const recoverOut = z.object({
  id: z.string(),
  status: z.enum(["running", "finished", "failed"]),
  task: z.literal("endpoint.recover"),
  updatedAt: date,
  /** Beyond Svix's RecoverOut (as its BackgroundTaskOut): how many deliveries were queued again. */
  data: z.object({ messagesSent: z.number().int() }),
});

export const messageOut = z.object({
  id: z.string(),
  eventType: z.string(),
  eventId: z.string().nullable(),
  payload: z.unknown(),
  channels: z.array(z.string()).nullable(),
  tags: z.array(z.string()).nullable(),
  timestamp: date,
  deliverAt: date.nullable(),
});

export const messageAttemptOut = z.object({
  id: z.string(),
  msgId: z.string(),
  endpointId: z.string(),
  url: z.string(),
  response: z.string(),
  responseStatusCode: z.number().int(),
  responseDurationMs: z.number().int(),
  status: z.number().int().min(0).max(4),
  statusText: z.enum(["success", "pending", "fail", "sending", "canceled"]),
  timestamp: date,
  triggerType: z.number().int().min(0).max(1),
  msg: messageOut.optional(),
});

export const eventTypeOut = z.object({
  name: z.string(),
  description: z.string(),
  archived: z.boolean(),
  deprecated: z.boolean(),
  featureFlag: z.string().nullable(),
  featureFlags: z.array(z.string()).nullable(),
  groupName: z.string().nullable(),
  schemas: z.record(z.string(), z.unknown()).nullable(),
  createdAt: date,
  updatedAt: date,
});

export const apiKeyOut = z.object({ id: z.string(), appId: z.string(), token: z.string() });

export const emptyResponse = z.object({});

export const statusOut = z.object({ status: z.string() });

/** The Svix list envelope around `item`. */
export function listResponse<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    iterator: z.string().nullable(),
    prevIterator: z.string().nullable(),
    done: z.boolean(),
  });
}

import { NotFoundError } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import type { Hookline } from "../../delivery/hookline.js";
import type { Endpoint, EndpointUpdate } from "../../delivery/hookline-types.js";
import type { AppRecord } from "../../store/store.js";
import { ownedBy } from "../auth.js";
import type { FieldNames } from "../errors.js";
import { listSchemas } from "../openapi.js";
import { noContent, type RouteSpec, route } from "../routing.js";
import {
  endpointHeadersIn,
  endpointHeadersOut,
  endpointHeadersPatchIn,
  endpointIn,
  endpointOut,
  endpointPatch,
  endpointSecretOut,
  endpointSecretRotateIn,
  endpointStats,
  endpointUpdate,
  pageQuery,
  recoverIn,
  recoverOut,
  statsQuery,
} from "../schemas.js";
import { endpointHeadersToJson, endpointStatsToJson, endpointToJson, listOut, pageOptions } from "../serialize.js";

const TAG = "Endpoint";
const BASE = "/api/v1/app/:app_id/endpoint";

/** Engine option names → Svix's endpoint field names. */
const ENDPOINT_FIELDS: FieldNames = {
  eventTypes: "filterTypes",
  rateLimitPerSecond: "rateLimit",
  url: "url",
  secret: "secret",
  filter: "filter",
};

/** The endpoint, if it belongs to the app; else the 404 of a missing one. */
export async function endpointOf(hl: Hookline, app: AppRecord, id: string): Promise<Endpoint> {
  const notFound = () => new NotFoundError(`endpoint ${JSON.stringify(id)} not found`);
  const record = await hl.store.getEndpoint(id);
  if (record !== null) return ownedBy(app, await hl.endpoints.get(record.id), notFound);
  // As in Svix, an endpoint's uid (unique within its app) goes wherever its id does.
  let cursor: string | undefined;
  do {
    const page = await hl.store.listEndpoints({ appId: app.id, limit: 250, ...(cursor && { cursor }) });
    const found = page.data.find((endpoint) => endpoint.uid === id);
    if (found) return hl.endpoints.get(found.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  throw notFound();
}

type EndpointFields = {
  description?: string | undefined;
  disabled?: boolean | undefined;
  filterTypes?: string[] | null | undefined;
  channels?: string[] | null | undefined;
  metadata?: Record<string, string> | undefined;
  rateLimit?: number | null | undefined;
  throttleRate?: number | null | undefined;
  uid?: string | null | undefined;
  url?: string | undefined;
  ordering?: "fifo" | null | undefined;
  filter?: Record<string, unknown> | null | undefined;
};

/** Svix's fields → the engine's, for the fields present (PATCH) or all of them with defaults (PUT). */
function toEngineUpdate(body: EndpointFields, replace: boolean): EndpointUpdate {
  const rate = body.throttleRate !== undefined ? body.throttleRate : body.rateLimit;
  const update: EndpointUpdate = {};
  if (body.url !== undefined) update.url = body.url;
  if (replace || body.description !== undefined) update.description = body.description ?? "";
  if (replace || body.disabled !== undefined) update.disabled = body.disabled ?? false;
  if (replace || body.filterTypes !== undefined) update.eventTypes = body.filterTypes ?? [];
  if (replace || body.channels !== undefined) update.channels = body.channels ?? null;
  if (replace || body.metadata !== undefined) update.metadata = body.metadata ?? {};
  if (replace || rate !== undefined) update.rateLimitPerSecond = rate ?? null;
  if (replace || body.uid !== undefined) update.uid = body.uid ?? null;
  // A hookline extension: Svix's clients never send it, so their PUTs leave it as it is.
  if (body.ordering !== undefined) update.ordering = body.ordering ?? null;
  if (body.filter !== undefined) update.filter = body.filter ?? null;
  return update;
}

/** /api/v1/app/{app_id}/endpoint: Svix's endpoint routes. */
export function endpointRoutes(): RouteSpec[] {
  return [
    route({
      method: "GET",
      url: BASE,
      operationId: "v1.endpoint.list",
      summary: "List the app's endpoints (newest first)",
      tag: TAG,
      auth: "app",
      query: pageQuery,
      responses: { 200: { description: "A page of endpoints", schema: listSchemas.endpoints } },
      handler: async ({ hl, app, query }) =>
        listOut(await hl.endpoints.list({ appId: app.id, ...pageOptions(query) }), endpointToJson, query),
    }),
    route({
      method: "POST",
      url: BASE,
      operationId: "v1.endpoint.create",
      summary: "Create an endpoint (a whsec_ secret is generated unless `secret` is given)",
      tag: TAG,
      auth: "app",
      body: endpointIn,
      fields: ENDPOINT_FIELDS,
      responses: { 201: { description: "The new endpoint", schema: endpointOut } },
      handler: async ({ hl, app, body, reply }) => {
        const endpoint = await hl.endpoints.create({
          ...toEngineUpdate(body, false),
          url: body.url,
          appId: app.id,
          ...(body.headers != null && { headers: body.headers }),
          ...(body.secret != null && { secret: body.secret }),
        });
        reply.code(201);
        return endpointToJson(endpoint);
      },
    }),
    route({
      method: "GET",
      url: `${BASE}/:endpoint_id`,
      operationId: "v1.endpoint.get",
      summary: "Get an endpoint",
      tag: TAG,
      auth: "app",
      responses: { 200: { description: "The endpoint", schema: endpointOut } },
      handler: async ({ hl, app, params }) => endpointToJson(await endpointOf(hl, app, params.endpoint_id as string)),
    }),
    route({
      method: "PUT",
      url: `${BASE}/:endpoint_id`,
      operationId: "v1.endpoint.update",
      summary: "Replace an endpoint's settings (fields left out take their defaults)",
      tag: TAG,
      auth: "app",
      body: endpointUpdate,
      fields: ENDPOINT_FIELDS,
      responses: { 200: { description: "The updated endpoint", schema: endpointOut } },
      handler: async ({ hl, app, params, body }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        return endpointToJson(await hl.endpoints.update(endpoint.id, toEngineUpdate(body, true)));
      },
    }),
    route({
      method: "PATCH",
      url: `${BASE}/:endpoint_id`,
      operationId: "v1.endpoint.patch",
      summary: "Change some of an endpoint's settings",
      tag: TAG,
      auth: "app",
      body: endpointPatch,
      fields: ENDPOINT_FIELDS,
      responses: { 200: { description: "The updated endpoint", schema: endpointOut } },
      handler: async ({ hl, app, params, body }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        return endpointToJson(await hl.endpoints.update(endpoint.id, toEngineUpdate(body, false)));
      },
    }),
    route({
      method: "DELETE",
      url: `${BASE}/:endpoint_id`,
      operationId: "v1.endpoint.delete",
      summary: "Delete an endpoint with its deliveries and attempts",
      tag: TAG,
      auth: "app",
      responses: { 204: { description: "Deleted" } },
      handler: async ({ hl, app, params, reply }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        await hl.endpoints.delete(endpoint.id);
        return noContent(reply);
      },
    }),
    route({
      method: "GET",
      url: `${BASE}/:endpoint_id/secret`,
      operationId: "v1.endpoint.get-secret",
      summary: "Get the endpoint's current signing secret",
      tag: TAG,
      auth: "app",
      responses: { 200: { description: "The secret", schema: endpointSecretOut } },
      handler: async ({ hl, app, params }) => ({
        key: (await endpointOf(hl, app, params.endpoint_id as string)).secret,
      }),
    }),
    route({
      method: "POST",
      url: `${BASE}/:endpoint_id/secret/rotate`,
      operationId: "v1.endpoint.rotate-secret",
      summary:
        "Make a new secret current; the previous one keeps signing beside it for the grace period (default 24 h)",
      tag: TAG,
      auth: "app",
      body: endpointSecretRotateIn,
      fields: { secret: "key", gracePeriodMs: "gracePeriodSeconds" },
      responses: { 204: { description: "Rotated" } },
      handler: async ({ hl, app, params, body, reply }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        await hl.endpoints.rotateSecret(endpoint.id, {
          ...(body.key != null && { secret: body.key }),
          ...(body.gracePeriodSeconds != null && { gracePeriodMs: body.gracePeriodSeconds * 1000 }),
        });
        return noContent(reply);
      },
    }),
    route({
      method: "POST",
      url: `${BASE}/:endpoint_id/recover`,
      operationId: "v1.endpoint.recover",
      summary: "Send again every delivery to the endpoint that failed in [since, until)",
      tag: TAG,
      auth: "app",
      body: recoverIn,
      responses: { 202: { description: "The deliveries are queued again", schema: recoverOut } },
      handler: async ({ hl, app, params, body, reply }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        const { count } = await hl.endpoints.recover(endpoint.id, {
          since: Date.parse(body.since),
          ...(body.until != null && { until: Date.parse(body.until) }),
        });
        reply.code(202);
        return {
          id: newId("qtask"),
          status: "finished",
          task: "endpoint.recover",
          updatedAt: new Date().toISOString(),
          data: { messagesSent: count },
        };
      },
    }),
    route({
      method: "GET",
      url: `${BASE}/:endpoint_id/headers`,
      operationId: "v1.endpoint.get-headers",
      summary: "Get the headers sent with every webhook to the endpoint (sensitive ones by name only)",
      tag: TAG,
      auth: "app",
      responses: { 200: { description: "The headers", schema: endpointHeadersOut } },
      handler: async ({ hl, app, params }) =>
        endpointHeadersToJson(await endpointOf(hl, app, params.endpoint_id as string)),
    }),
    route({
      method: "PUT",
      url: `${BASE}/:endpoint_id/headers`,
      operationId: "v1.endpoint.update-headers",
      summary: "Replace the headers sent with every webhook to the endpoint",
      tag: TAG,
      auth: "app",
      body: endpointHeadersIn,
      responses: { 204: { description: "Replaced" } },
      handler: async ({ hl, app, params, body, reply }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        await hl.endpoints.update(endpoint.id, { headers: body.headers });
        return noContent(reply);
      },
    }),
    route({
      method: "PATCH",
      url: `${BASE}/:endpoint_id/headers`,
      operationId: "v1.endpoint.patch-headers",
      summary: "Set some headers and delete others (`deleteHeaders`)",
      tag: TAG,
      auth: "app",
      body: endpointHeadersPatchIn,
      responses: { 204: { description: "Changed" } },
      handler: async ({ hl, app, params, body, reply }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        const deleted = new Set((body.deleteHeaders ?? []).map((name) => name.toLowerCase()));
        const headers = Object.fromEntries(
          Object.entries({ ...endpoint.headers, ...body.headers }).filter(([name]) => !deleted.has(name.toLowerCase())),
        );
        await hl.endpoints.update(endpoint.id, { headers });
        return noContent(reply);
      },
    }),
    route({
      method: "GET",
      url: `${BASE}/:endpoint_id/stats`,
      operationId: "v1.endpoint.get-stats",
      summary: "Deliveries to the endpoint by status, of messages sent in [since, until) (all time without them)",
      tag: TAG,
      auth: "app",
      query: statsQuery,
      responses: { 200: { description: "Counts by status", schema: endpointStats } },
      handler: async ({ hl, app, params, query }) => {
        const endpoint = await endpointOf(hl, app, params.endpoint_id as string);
        return endpointStatsToJson(
          await hl.store.countDeliveries({
            endpointId: endpoint.id,
            ...(query.since !== undefined && { since: query.since }),
            ...(query.until !== undefined && { until: query.until }),
          }),
        );
      },
    }),
  ];
}

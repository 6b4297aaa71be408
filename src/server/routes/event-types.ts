import type { EventTypeInput } from "../../delivery/event-types.js";
import { listSchemas } from "../openapi.js";
import { noContent, type RouteSpec, route } from "../routing.js";
import {
  eventTypeIn,
  eventTypeListQuery,
  eventTypeOut,
  eventTypePatch,
  eventTypeUpdate,
  expungeQuery,
} from "../schemas.js";
import { eventTypeToJson, listOut } from "../serialize.js";

const TAG = "Event Type";

type EventTypeFields = {
  description?: string | undefined;
  archived?: boolean | undefined;
  featureFlag?: string | null | undefined;
  featureFlags?: string[] | null | undefined;
  schemas?: Record<string, unknown> | null | undefined;
};

/** Svix's fields → the engine's; `featureFlags` (one at most) stands for `featureFlag`. */
function toEngine(body: EventTypeFields, replace: boolean): Omit<EventTypeInput, "name"> {
  const featureFlag =
    body.featureFlag !== undefined
      ? body.featureFlag
      : body.featureFlags !== undefined
        ? (body.featureFlags?.[0] ?? null)
        : undefined;
  return {
    ...((replace || body.description !== undefined) && { description: body.description ?? "" }),
    ...((replace || body.archived !== undefined) && { archived: body.archived ?? false }),
    ...((replace || featureFlag !== undefined) && { featureFlag: featureFlag ?? null }),
    ...((replace || body.schemas !== undefined) && { schemas: body.schemas ?? null }),
  };
}

/** /api/v1/event-type: the catalogue (any key may read it; the admin key changes it). */
export function eventTypeRoutes(): RouteSpec[] {
  return [
    route({
      method: "GET",
      url: "/api/v1/event-type",
      operationId: "v1.event-type.list",
      summary: "List event types in name order (schemas with with_content=true)",
      tag: TAG,
      auth: "key",
      query: eventTypeListQuery,
      responses: { 200: { description: "A page of event types", schema: listSchemas.eventTypes } },
      handler: async ({ hl, query }) =>
        listOut(
          await hl.eventTypes.list({
            limit: query.limit,
            includeArchived: query.include_archived ?? false,
            ...(query.iterator && { cursor: query.iterator }),
          }),
          (type) => eventTypeToJson(type, query.with_content ?? false),
        ),
    }),
    route({
      method: "POST",
      url: "/api/v1/event-type",
      operationId: "v1.event-type.create",
      summary: "Create an event type; payloads of a type with schemas are validated against the highest version",
      tag: TAG,
      auth: "admin",
      body: eventTypeIn,
      responses: { 201: { description: "The new event type", schema: eventTypeOut } },
      handler: async ({ hl, body, reply }) => {
        const created = await hl.eventTypes.create({ name: body.name, ...toEngine(body, false) });
        reply.code(201);
        return eventTypeToJson(created);
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/event-type/:event_type_name",
      operationId: "v1.event-type.get",
      summary: "Get an event type with its schemas",
      tag: TAG,
      auth: "key",
      responses: { 200: { description: "The event type", schema: eventTypeOut } },
      handler: async ({ hl, params }) => eventTypeToJson(await hl.eventTypes.get(params.event_type_name as string)),
    }),
    route({
      method: "PUT",
      url: "/api/v1/event-type/:event_type_name",
      operationId: "v1.event-type.update",
      summary: "Replace an event type, or create it",
      tag: TAG,
      auth: "admin",
      body: eventTypeUpdate,
      responses: { 200: { description: "The event type", schema: eventTypeOut } },
      handler: async ({ hl, params, body }) =>
        eventTypeToJson(
          await hl.eventTypes.update(params.event_type_name as string, toEngine(body, true), { upsert: true }),
        ),
    }),
    route({
      method: "PATCH",
      url: "/api/v1/event-type/:event_type_name",
      operationId: "v1.event-type.patch",
      summary: "Change some fields of an event type",
      tag: TAG,
      auth: "admin",
      body: eventTypePatch,
      responses: { 200: { description: "The event type", schema: eventTypeOut } },
      handler: async ({ hl, params, body }) =>
        eventTypeToJson(await hl.eventTypes.update(params.event_type_name as string, toEngine(body, false))),
    }),
    route({
      method: "DELETE",
      url: "/api/v1/event-type/:event_type_name",
      operationId: "v1.event-type.delete",
      summary: "Archive an event type (it stays usable), or remove it with expunge=true",
      tag: TAG,
      auth: "admin",
      query: expungeQuery,
      responses: { 204: { description: "Archived or removed" } },
      handler: async ({ hl, params, query, reply }) => {
        await hl.eventTypes.delete(params.event_type_name as string, { expunge: query.expunge ?? false });
        return noContent(reply);
      },
    }),
  ];
}

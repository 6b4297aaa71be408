import { listSchemas } from "../openapi.js";
import { noContent, type RouteSpec, route } from "../routing.js";
import { appCreateQuery, applicationIn, applicationOut, applicationPatch, pageQuery } from "../schemas.js";
import { applicationToJson, listOut, pageOptions } from "../serialize.js";

const TAG = "Application";

/** /api/v1/app: Svix's application routes; apps are addressed by id or uid. */
export function appRoutes(): RouteSpec[] {
  return [
    route({
      method: "GET",
      url: "/api/v1/app",
      operationId: "v1.application.list",
      summary: "List applications (newest first)",
      tag: TAG,
      auth: "admin",
      query: pageQuery,
      responses: { 200: { description: "A page of applications", schema: listSchemas.applications } },
      handler: async ({ hl, query }) => listOut(await hl.apps.list(pageOptions(query)), applicationToJson, query),
    }),
    route({
      method: "POST",
      url: "/api/v1/app",
      operationId: "v1.application.create",
      summary: "Create an application (with get_if_exists=true: return the one with this uid if it exists)",
      tag: TAG,
      auth: "admin",
      query: appCreateQuery,
      body: applicationIn,
      responses: {
        200: { description: "The existing application (get_if_exists)", schema: applicationOut },
        201: { description: "The new application", schema: applicationOut },
      },
      handler: async ({ hl, body, query, reply }) => {
        const input = { name: body.name, uid: body.uid ?? null, metadata: body.metadata ?? {} };
        if (query.get_if_exists) {
          const { app, created } = await hl.apps.getOrCreate(input);
          reply.code(created ? 201 : 200);
          return applicationToJson(app);
        }
        reply.code(201);
        return applicationToJson(await hl.apps.create(input));
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id",
      operationId: "v1.application.get",
      summary: "Get an application",
      tag: TAG,
      auth: "app",
      responses: { 200: { description: "The application", schema: applicationOut } },
      handler: async ({ app }) => applicationToJson(app),
    }),
    route({
      method: "PUT",
      url: "/api/v1/app/:app_id",
      operationId: "v1.application.update",
      summary: "Replace an application, or create it (with the path's id or uid as its uid)",
      tag: TAG,
      auth: "app-upsert",
      body: applicationIn,
      responses: {
        200: { description: "The updated application", schema: applicationOut },
        201: { description: "The new application", schema: applicationOut },
      },
      handler: async ({ hl, body, params, maybeApp, reply }) => {
        const { app, created } = await hl.apps.upsert(maybeApp?.id ?? (params.app_id as string), {
          name: body.name,
          ...(body.uid !== undefined && { uid: body.uid }),
          metadata: body.metadata ?? {},
        });
        reply.code(created ? 201 : 200);
        return applicationToJson(app);
      },
    }),
    route({
      method: "PATCH",
      url: "/api/v1/app/:app_id",
      operationId: "v1.application.patch",
      summary: "Change some fields of an application",
      tag: TAG,
      auth: "app",
      body: applicationPatch,
      responses: { 200: { description: "The updated application", schema: applicationOut } },
      handler: async ({ hl, app, body }) =>
        applicationToJson(
          await hl.apps.update(app.id, {
            ...(body.name !== undefined && { name: body.name }),
            ...(body.uid !== undefined && { uid: body.uid }),
            ...(body.metadata !== undefined && { metadata: body.metadata }),
          }),
        ),
    }),
    route({
      method: "DELETE",
      url: "/api/v1/app/:app_id",
      operationId: "v1.application.delete",
      summary: "Delete an application with its endpoints, messages and attempts",
      tag: TAG,
      auth: "admin",
      responses: { 204: { description: "Deleted" } },
      handler: async ({ hl, params, reply }) => {
        await hl.apps.delete(params.app_id as string);
        return noContent(reply);
      },
    }),
  ];
}

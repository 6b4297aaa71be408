import { z } from "zod";
import type { EventTypes } from "../delivery/event-types.js";
import { openApiWebhooks } from "../delivery/openapi-webhooks.js";
import type { RouteSpec } from "./routing.js";
import * as s from "./schemas.js";

/** Response schemas documented once, under these names, in `components.schemas`. */
const COMPONENTS: Array<[string, z.ZodType]> = [
  ["HttpErrorOut", s.httpError],
  ["HTTPValidationError", s.httpValidationError],
  ["ApplicationOut", s.applicationOut],
  ["EndpointOut", s.endpointOut],
  ["EndpointSecretOut", s.endpointSecretOut],
  ["EndpointHeadersOut", s.endpointHeadersOut],
  ["EndpointStats", s.endpointStats],
  ["RecoverOut", s.recoverOut],
  ["MessageOut", s.messageOut],
  ["MessageAttemptOut", s.messageAttemptOut],
  ["EventTypeOut", s.eventTypeOut],
  ["ApiKeyOut", s.apiKeyOut],
  ["EmptyResponse", s.emptyResponse],
  ["StatusOut", s.statusOut],
];

export const listSchemas = {
  applications: s.listResponse(s.applicationOut),
  endpoints: s.listResponse(s.endpointOut),
  messages: s.listResponse(s.messageOut),
  attempts: s.listResponse(s.messageAttemptOut),
  eventTypes: s.listResponse(s.eventTypeOut),
};
COMPONENTS.push(
  ["ListResponseApplicationOut", listSchemas.applications],
  ["ListResponseEndpointOut", listSchemas.endpoints],
  ["ListResponseMessageOut", listSchemas.messages],
  ["ListResponseMessageAttemptOut", listSchemas.attempts],
  ["ListResponseEventTypeOut", listSchemas.eventTypes],
);

type JsonSchema = Record<string, unknown>;

/** Drops what only adds noise: date-time regexes beside `format`, and ± 2^53 bounds on integers. */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (value === null || typeof value !== "object") return value;
  const out: JsonSchema = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === "pattern" && (value as JsonSchema).format === "date-time") continue;
    if ((key === "minimum" || key === "maximum") && Math.abs(Number(item)) === Number.MAX_SAFE_INTEGER) continue;
    out[key] = tidy(item);
  }
  return out;
}

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return tidy(rest) as JsonSchema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function errorResponse(description: string, name = "HttpErrorOut") {
  return { description, content: { "application/json": { schema: ref(name) } } };
}

/** The query schema's properties, one OpenAPI parameter each. */
function queryParameters(schema: z.ZodType | undefined): unknown[] {
  if (schema === undefined) return [];
  const object = jsonSchema(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: object.required?.includes(name) ?? false,
    schema: property,
    // Lists travel comma-separated (`event_types=a,b`), as Svix's clients send them.
    ...(property.type === "array" && { style: "form", explode: false }),
  }));
}

/**
 * OpenAPI 3.1 of every route in `specs` — the same table the server
 * registers — with request and response schemas from the zod schemas the
 * server parses with.
 */
export function buildOpenApi(specs: readonly RouteSpec[], version: string): Record<string, unknown> {
  const names = new Map<z.ZodType, string>(COMPONENTS.map(([name, schema]) => [schema, name]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const path = spec.url.replace(/:([A-Za-z_]+)/g, "{$1}");
    const pathParameters = [...spec.url.matchAll(/:([A-Za-z_]+)/g)].map((match) => ({
      name: match[1],
      in: "path",
      required: true,
      schema: { type: "string" },
      ...(match[1] === "app_id" && { description: "The app's id or uid" }),
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(spec.responses)) {
      const name = response.schema ? names.get(response.schema) : undefined;
      responses[status] =
        response.schema === undefined && response.contentType === undefined
          ? { description: response.description }
          : {
              description: response.description,
              content: {
                [response.contentType ?? "application/json"]: {
                  schema: name
                    ? ref(name)
                    : response.schema
                      ? jsonSchema(response.schema, "output")
                      : { type: "string" },
                },
              },
            };
    }
    if (spec.body !== undefined || spec.query !== undefined) {
      responses["422"] = errorResponse("Validation error: `detail` names each field", "HTTPValidationError");
    }
    if (spec.body !== undefined) {
      responses["400"] = errorResponse("The body is not valid JSON");
      responses["413"] = errorResponse("The body is larger than the limit");
    }
    if (spec.auth !== "none") {
      responses["401"] = errorResponse("No API key, or an unknown one");
      responses["429"] = errorResponse("Over the key's rate limit: retry after the Retry-After header's seconds");
    }
    if (spec.auth === "admin") responses["403"] = errorResponse("The route needs the admin key");
    if (spec.auth === "app" || spec.auth === "app-upsert" || path.includes("{")) {
      responses["404"] = errorResponse("Not found (also: another app's resource with an app-scoped key)");
    }
    if (spec.method === "POST") {
      responses["409"] = errorResponse("Conflict, or an Idempotency-Key reused with another request");
    }
    const parameters = [...pathParameters, ...queryParameters(spec.query)];
    if (spec.method === "POST") {
      parameters.push({
        name: "idempotency-key",
        in: "header",
        required: false,
        description: "The same key with the same request within 24 h replays the first response",
        schema: { type: "string", maxLength: 256 },
      });
    }
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[spec.method.toLowerCase()] = {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: [spec.tag],
      ...(spec.auth === "none" && { security: [] }),
      ...(parameters.length > 0 && { parameters }),
      ...(spec.body !== undefined && {
        requestBody: {
          required: spec.method !== "POST" || !spec.url.endsWith("/resend"),
          content: { "application/json": { schema: jsonSchema(spec.body, "input") } },
        },
      }),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "hookline",
      version,
      description:
        "Durable webhooks. The /api/v1 routes answer as Svix's API does (same paths, JSON shapes and status codes), so Svix's clients work unchanged.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API key: `hl_…`" } },
      schemas: Object.fromEntries(COMPONENTS.map(([name, schema]) => [name, jsonSchema(schema, "output")])),
    },
  };
}

/**
 * `doc` (from {@link buildOpenApi}) with the event catalogue as it is now:
 * each event type a webhook whose request body is its payload's JSON Schema.
 * A change made through this process shows at once, one made by another
 * process within `readCacheTtlMs`.
 */
export async function withWebhooks(
  doc: Record<string, unknown>,
  eventTypes: EventTypes,
): Promise<Record<string, unknown>> {
  const { webhooks, schemas } = openApiWebhooks(await eventTypes.listAll());
  const components = doc.components as { schemas: Record<string, unknown> };
  return { ...doc, webhooks, components: { ...components, schemas: { ...components.schemas, ...schemas } } };
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { ApiKey } from "../delivery/api-keys.js";
import type { Hookline } from "../delivery/hookline.js";
import type { AppRecord } from "../store/store.js";
import { type AuthMode, authenticate, requireAdmin, resolveApp, resolveAppForUpsert } from "./auth.js";
import { type FieldNames, zodValidationError } from "./errors.js";
import type { Idempotency } from "./idempotency.js";
import { stateOf } from "./state.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One documented response of a route. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Not JSON (the Prometheus exposition). */
  contentType?: string;
}

export interface RouteContext<B, Q> {
  request: FastifyRequest;
  reply: FastifyReply;
  hl: Hookline;
  params: Record<string, string>;
  body: B;
  query: Q;
  /** The caller's API key (routes with auth). */
  readonly key: ApiKey;
  /** The app `:app_id` names, checked against the key (`app` routes). */
  readonly app: AppRecord;
  /** For `app-upsert` routes: the app, or null when the admin names one that does not exist. */
  readonly maybeApp: AppRecord | null;
}

/**
 * A route of the API: method, path, who may call it, the schemas its query
 * and body are parsed with, its documented responses, and a handler that
 * makes one library call. The same table registers the routes and writes
 * /openapi.json, so the documentation cannot drift from the server.
 */
export interface RouteSpec<B = unknown, Q = unknown> {
  method: HttpMethod;
  /** Fastify syntax: `/api/v1/app/:app_id`. */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  auth: AuthMode;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Success responses by status; error responses are documented from `auth` and the method. */
  responses: Record<number, ResponseSpec>;
  /** Engine option names → this route's field names, for error messages. */
  fields?: FieldNames;
  /**
   * The body is kept as raw bytes (a Buffer, any content type, up to this
   * many bytes) instead of parsed JSON: for inbound webhooks, whose
   * signatures cover the exact bytes. No Idempotency-Key handling.
   */
  rawBodyLimit?: number;
  handler(context: RouteContext<B, Q>): Promise<unknown>;
}

/** Declares a route with its body and query types inferred from the schemas. */
export function route<B = undefined, Q = Record<string, never>>(spec: RouteSpec<B, Q>): RouteSpec {
  return spec as unknown as RouteSpec;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw zodValidationError(where, result.error.issues);
  return result.data;
}

/** Answers with no body (Svix's 204s). */
export function noContent(reply: FastifyReply): FastifyReply {
  return reply.code(204).send();
}

/** Registers the routes with auth (onRequest, before the body is read), idempotency (POST) and parsing. */
export function registerRoutes(
  app: FastifyInstance,
  hl: Hookline,
  idempotency: Idempotency,
  specs: readonly RouteSpec[],
): void {
  for (const spec of specs) {
    const onRequest = async (request: FastifyRequest) => {
      if (spec.auth === "none") return;
      const state = stateOf(request);
      const key = await authenticate(hl, request);
      state.apiKey = key;
      if (spec.auth === "admin") requireAdmin(key);
      const appParam = (request.params as Record<string, string | undefined>).app_id;
      if (appParam !== undefined && (spec.auth === "app" || spec.auth === "app-upsert")) {
        const found =
          spec.auth === "app" ? await resolveApp(hl, key, appParam) : await resolveAppForUpsert(hl, key, appParam);
        if (found !== null) state.app = found;
      }
    };
    const register = (scope: FastifyInstance) =>
      scope.route({
        method: spec.method,
        url: spec.url,
        config: { fields: spec.fields ?? {} },
        onRequest,
        ...(spec.method === "POST" &&
          spec.rawBodyLimit === undefined && {
            preHandler: (request: FastifyRequest, reply: FastifyReply) => idempotency.begin(request, reply),
            onSend: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
              try {
                await idempotency.complete(request, reply, payload);
              } catch (error) {
                // The response stands; only its replay is lost (the store went away meanwhile).
                request.log.warn({ err: error }, "could not keep the idempotency record");
              }
              return payload;
            },
          }),
        handler: async (request, reply) => {
          const state = stateOf(request);
          const query = spec.query ? parse(spec.query, request.query ?? {}, "query") : {};
          const body = spec.body ? parse(spec.body, request.body ?? {}, "body") : undefined;
          const context: RouteContext<unknown, unknown> = {
            request,
            reply,
            hl,
            params: request.params as Record<string, string>,
            body,
            query,
            get key() {
              if (state.apiKey === undefined) throw new Error(`route ${spec.url} has no API key`);
              return state.apiKey;
            },
            get app() {
              if (state.app === undefined) throw new Error(`route ${spec.url} has no app`);
              return state.app;
            },
            get maybeApp() {
              return state.app ?? null;
            },
          };
          return spec.handler(context);
        },
      });
    const rawBodyLimit = spec.rawBodyLimit;
    if (rawBodyLimit === undefined) {
      register(app);
      continue;
    }
    // Its own scope, so the raw parser applies to this route only.
    app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: rawBodyLimit }, (_request, body, done) =>
        done(null, body),
      );
      register(scope);
    });
  }
}

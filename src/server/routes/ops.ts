import type { Hookline } from "../../delivery/hookline.js";
import { ApiError } from "../errors.js";
import type { ServerMetrics } from "../metrics.js";
import { noContent, type RouteSpec, route } from "../routing.js";
import { apiKeyIn, apiKeyOut, statusOut } from "../schemas.js";

const READY_TIMEOUT_MS = 2_000;

/** The store answers within the timeout, or a 503. */
async function ready(hl: Hookline): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      hl.store.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("store ping timed out")), READY_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    throw new ApiError(503, "not_ready", "the store does not answer", { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Health, readiness, metrics, the OpenAPI document and API keys. */
export function opsRoutes(deps: {
  metrics: ServerMetrics;
  openApi: (hl: Hookline) => Promise<Record<string, unknown>>;
}): RouteSpec[] {
  return [
    route({
      method: "GET",
      url: "/api/v1/health",
      operationId: "v1.health.get",
      summary: "Svix's health check: the API server is up",
      tag: "Health",
      auth: "none",
      responses: { 204: { description: "Up" } },
      handler: async ({ reply }) => noContent(reply),
    }),
    route({
      method: "GET",
      url: "/healthz",
      operationId: "healthz",
      summary: "Liveness: the process answers",
      tag: "Operations",
      auth: "none",
      responses: { 200: { description: "Up", schema: statusOut } },
      handler: async () => ({ status: "ok" }),
    }),
    route({
      method: "GET",
      url: "/readyz",
      operationId: "readyz",
      summary: "Readiness: the store answers (503 otherwise)",
      tag: "Operations",
      auth: "none",
      responses: {
        200: { description: "Ready", schema: statusOut },
        503: { description: "The store does not answer" },
      },
      handler: async ({ hl }) => {
        await ready(hl);
        return { status: "ok" };
      },
    }),
    route({
      method: "GET",
      url: "/metrics",
      operationId: "metrics",
      summary:
        "Prometheus metrics: deliveries by outcome, attempt durations, queue depth, oldest due delivery, disabled endpoints",
      tag: "Operations",
      auth: "none",
      responses: { 200: { description: "The exposition", contentType: "text/plain" } },
      handler: async ({ reply }) => {
        const { contentType, body } = await deps.metrics.render();
        return reply.type(contentType).send(body);
      },
    }),
    route({
      method: "GET",
      url: "/openapi.json",
      operationId: "openapi",
      summary: "This document; its webhooks section lists the event types with their payload schemas",
      tag: "Operations",
      auth: "none",
      responses: { 200: { description: "OpenAPI 3.1" } },
      handler: async ({ hl }) => deps.openApi(hl),
    }),
    route({
      method: "POST",
      url: "/api/v1/auth/api-key",
      operationId: "v1.auth.create-api-key",
      summary: "Beyond Svix: create an API key that sees only one app (admin key only); the token is shown once",
      tag: "Authentication",
      auth: "admin",
      body: apiKeyIn,
      responses: { 201: { description: "The key and its token", schema: apiKeyOut } },
      handler: async ({ hl, body, reply }) => {
        const app = await hl.apps.get(body.appId);
        const { key, token } = await hl.apiKeys.create({ appId: app.id, ...(body.name && { name: body.name }) });
        reply.code(201);
        return { id: key.id, appId: app.id, token };
      },
    }),
  ];
}

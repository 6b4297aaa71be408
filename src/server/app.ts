import { readFileSync } from "node:fs";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { type Logger, pino } from "pino";
import { ConfigurationError } from "../core/errors.js";
import type { Hookline } from "../delivery/hookline.js";
import { clientErrorHandler, connectionLimits, guardConnections } from "./connection-limits.js";
import { ApiError, handleError } from "./errors.js";
import { Idempotency } from "./idempotency.js";
import { ServerMetrics } from "./metrics.js";
import { buildOpenApi, withWebhooks } from "./openapi.js";
import { createRateLimiter, type RateLimitOptions, rateLimitHook } from "./rate-limit.js";
import { appRoutes } from "./routes/apps.js";
import { endpointRoutes } from "./routes/endpoints.js";
import { eventTypeRoutes } from "./routes/event-types.js";
import { messageRoutes } from "./routes/messages.js";
import { opsRoutes } from "./routes/ops.js";
import { portalRoutes } from "./routes/portal.js";
import { sourceRoutes } from "./routes/sources.js";
import { statsRoutes } from "./routes/stats.js";
import { registerUi } from "./routes/ui.js";
import { type RouteSpec, registerRoutes } from "./routing.js";
import { stateOf } from "./state.js";
import { registerTracing } from "./tracing.js";

export interface ServerOptions {
  hookline: Hookline;
  /** Largest request body (default 1 MiB): bigger → 413. */
  bodyLimitBytes?: number;
  /** A pino logger, true for a default JSON logger, false/undefined for none. */
  logger?: Logger | boolean;
  /** Origins allowed to embed the UI in a frame (CSP frame-ancestors); none by default. */
  portalOrigins?: string[];
  /** Time a client gets to send a request's headers (default 10 s); then the connection is closed. */
  headersTimeoutMs?: number;
  /** Time a client gets to send a whole request (default 30 s); then 408 and the connection is closed. */
  requestTimeoutMs?: number;
  /** Connections open at once (default 1,000); those beyond are closed as they arrive. */
  maxConnections?: number;
  /**
   * Requests per API key (default 1,000/s, burst 2,000): beyond it, 429 with
   * `Retry-After`. `false` turns the limit off.
   */
  rateLimit?: RateLimitOptions | false;
}

const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Log paths that could hold a credential: request headers (should a
 * serializer ever include them), and any field named like a secret or token.
 * The request serializer below logs method, URL and address only.
 */
const REDACT = {
  paths: [
    "req.headers.authorization",
    "req.headers.cookie",
    'req.headers["idempotency-key"]',
    "headers.authorization",
    "authorization",
    "secret",
    "token",
    "key",
    "*.secret",
    "*.token",
    "*.key",
    "*.authorization",
  ],
  censor: "[redacted]",
};

const SERIALIZERS = {
  req: (request: FastifyRequest) => ({
    method: request.method,
    url: request.url,
    remoteAddress: request.ip,
  }),
};

/**
 * One log line per request, written when it ends and naming both the request
 * and its outcome, instead of Fastify's two (one as it arrives): under load
 * the second JSON line per request cost the API ~8–10 % of what it accepts.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error)
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, "request errored");
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, "request completed");
  }
}

function makeLogger(option: ServerOptions["logger"]): Logger | null {
  if (option === undefined || option === false) return null;
  if (option === true) return pino({ redact: REDACT, serializers: SERIALIZERS });
  return option.child({}, { redact: REDACT, serializers: SERIALIZERS });
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    return (JSON.parse(text) as { version?: string }).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * The HTTP API over a {@link Hookline} engine: Svix-compatible routes under
 * /api/v1 (so Svix's clients work unchanged), hookline's own extensions
 * (app attempt feed, app-scoped API keys), `Idempotency-Key` on every POST,
 * and /metrics, /openapi.json, /healthz, /readyz. Every action is one call of
 * the engine. The server is returned ready but not listening: call
 * `listen()`, or `inject()` in tests. Closing it does not close the engine.
 *
 * @example
 * import { createHookline } from "hookline";
 * import { sqliteStore } from "hookline/sqlite";
 * import { buildServer } from "hookline/server";
 * const hl = await createHookline({ store: sqliteStore({ path: "hookline.db" }) });
 * const { token } = (await hl.apiKeys.create({ appId: null })); // the admin key
 * const server = await buildServer({ hookline: hl, logger: true });
 * await server.listen({ host: "127.0.0.1", port: 8080 });
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const hl = options?.hookline;
  if (hl === undefined || hl === null || typeof hl.send !== "function") {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "buildServer() needs { hookline }");
  }
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "bodyLimitBytes must be a positive integer");
  }
  const limits = connectionLimits(options);
  const rateLimiter = createRateLimiter(options.rateLimit);
  const logger = makeLogger(options.logger);
  // Typed as the default instance, the contract's return type; the logger is a pino logger either way.
  const app = Fastify({
    bodyLimit,
    http: limits.http,
    requestTimeout: limits.requestTimeout,
    clientErrorHandler,
    ...(logger === null ? { logger: false } : { loggerInstance: logger as FastifyBaseLogger }),
    logController: new OneLinePerRequest(),
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  guardConnections(app.server, limits);

  // JSON only; the raw text is kept for idempotency fingerprints. An empty body is no body.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    stateOf(request).rawBody = text;
    if (text.trim().length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });

  app.setErrorHandler(handleError);
  // preParsing runs after each route's onRequest has authenticated the caller.
  if (rateLimiter !== null) app.addHook("preParsing", rateLimitHook(rateLimiter));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const error = new ApiError(404, "not_found", `no route ${request.method} ${path}`);
    return reply.code(404).send({ code: error.code, detail: error.detail });
  });

  registerTracing(app);
  const metrics = new ServerMetrics(hl);
  app.addHook("onResponse", async (request, reply) => {
    metrics.observeRequest(
      request.method,
      request.routeOptions.url ?? "unmatched",
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    // pino skips the serialising when info is off.
    request.log.info(
      { req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
      "request completed",
    );
  });

  const idempotency = new Idempotency(hl.store);
  idempotency.startSweeping((error) => app.log.warn({ err: error }, "idempotency sweep failed"));
  app.addHook("onClose", async () => {
    metrics.close();
    await idempotency.stop();
  });

  let openApi: Record<string, unknown> | null = null;
  const specs: RouteSpec[] = [
    ...opsRoutes({
      metrics,
      openApi: (hl) => {
        openApi ??= buildOpenApi(specs, packageVersion());
        return withWebhooks(openApi, hl.eventTypes);
      },
    }),
    ...appRoutes(),
    ...endpointRoutes(),
    ...messageRoutes(),
    ...eventTypeRoutes(),
    ...portalRoutes(),
    ...statsRoutes(),
    ...sourceRoutes({ metrics, bodyLimitBytes: bodyLimit }),
  ];
  registerRoutes(app, hl, idempotency, specs);
  registerUi(app, { portalOrigins: options.portalOrigins ?? [] });
  return app;
}

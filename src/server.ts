/**
 * The `hookline/server` entry: the Svix-compatible HTTP API over the durable
 * engine, as a Fastify instance that is not listening yet.
 *
 * @example
 * import { buildServer } from "hookline/server";
 * const server = await buildServer({ hookline: hl, logger: true });
 * await server.listen({ host: "127.0.0.1", port: 8080 });
 */
export { buildServer, type ServerOptions } from "./server/app.js";
export type { RateLimitOptions } from "./server/rate-limit.js";

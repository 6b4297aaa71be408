import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { Logger } from "pino";
import { createHookline, type Hookline, type HooklineOptions, memoryStore, type Store } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { buildServer, type ServerOptions } from "../src/server.js";
import { sqliteStore } from "../src/sqlite.js";
import { dropSchema, PG_URL, uniqueSchemaName } from "./support/postgres.js";

/** One engine, its API server (not listening; driven by `inject`) and an admin token. */
export interface ServerHarness {
  hl: Hookline;
  server: FastifyInstance;
  adminToken: string;
  store: Store;
  /** `inject` with a bearer token (the admin's unless given; `null` for none) and a JSON body. */
  call(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: string },
  ): Promise<LightMyRequestResponse>;
  /** Creates an app and returns its id. */
  createApp(name?: string, uid?: string): Promise<string>;
  /** A key that sees only `appId`. */
  appToken(appId: string): Promise<string>;
  close(): Promise<void>;
}

export type StoreKind = "memory" | "sqlite" | "postgres";

export interface HarnessOptions {
  store?: StoreKind;
  engine?: HooklineOptions;
  bodyLimitBytes?: number;
  logger?: Logger | boolean;
  /** Further options of the server (timeouts, connection cap, rate limit). */
  server?: Omit<ServerOptions, "hookline">;
}

export async function startHarness(options: HarnessOptions = {}): Promise<ServerHarness> {
  let dir: string | null = null;
  let schema: string | null = null;
  let store: Store;
  if (options.store === "sqlite") {
    dir = await mkdtemp(join(tmpdir(), "hookline-server-"));
    store = sqliteStore({ path: join(dir, "hookline.db") });
  } else if (options.store === "postgres") {
    schema = uniqueSchemaName();
    store = postgresStore({ connectionString: PG_URL, schema });
  } else {
    store = memoryStore();
  }
  const hl = await createHookline({ store, allowPrivateNetworks: true, retryJitterRatio: 0, ...options.engine });
  const { token: adminToken } = await hl.apiKeys.create({ appId: null, name: "admin" });
  const server = await buildServer({
    ...options.server,
    hookline: hl,
    ...(options.bodyLimitBytes !== undefined && { bodyLimitBytes: options.bodyLimitBytes }),
    ...(options.logger !== undefined && { logger: options.logger }),
  });
  const harness: ServerHarness = {
    hl,
    server,
    adminToken,
    store,
    call: (method, url, callOptions = {}) => {
      const token = callOptions.token === undefined ? adminToken : callOptions.token;
      const headers: Record<string, string> = { ...callOptions.headers };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (callOptions.rawBody !== undefined) {
        headers["content-type"] ??= "application/json";
        return server.inject({ method, url, headers, payload: callOptions.rawBody });
      }
      if (callOptions.body !== undefined) {
        headers["content-type"] ??= "application/json";
        return server.inject({ method, url, headers, payload: JSON.stringify(callOptions.body) });
      }
      return server.inject({ method, url, headers });
    },
    createApp: async (name = "acme", uid) => {
      const response = await harness.call("POST", "/api/v1/app", { body: { name, ...(uid !== undefined && { uid }) } });
      if (response.statusCode !== 201) throw new Error(`app create: ${response.statusCode} ${response.body}`);
      return (response.json() as { id: string }).id;
    },
    appToken: async (appId) => (await hl.apiKeys.create({ appId })).token,
    close: async () => {
      await server.close();
      await hl.close({ timeoutMs: 100 });
      if (dir !== null) await rm(dir, { recursive: true, force: true });
      if (schema !== null) await dropSchema(schema);
    },
  };
  return harness;
}

/** Resolves once `predicate` holds, checking every 20 ms; fails after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

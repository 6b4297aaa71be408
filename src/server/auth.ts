import type { FastifyRequest } from "fastify";
import { NotFoundError } from "../core/errors.js";
import type { ApiKey } from "../delivery/api-keys.js";
import type { Hookline } from "../delivery/hookline.js";
import type { AppRecord } from "../store/store.js";
import { ApiError } from "./errors.js";

/**
 * Who may call a route:
 * - `none`: anyone (health, metrics, OpenAPI);
 * - `key`: any valid key (reading the event type catalogue);
 * - `admin`: the admin key only;
 * - `app`: the admin key, or a key scoped to the app `:app_id` names;
 * - `app-upsert`: as `app`, except that the admin may name an app that does not exist yet (PUT creates it).
 */
export type AuthMode = "none" | "key" | "admin" | "app" | "app-upsert";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The key a request's `Authorization: Bearer …` header presents; a 401 when missing or unknown. */
export async function authenticate(hl: Hookline, request: FastifyRequest): Promise<ApiKey> {
  const header = request.headers.authorization;
  const token = typeof header === "string" ? BEARER.exec(header)?.[1] : undefined;
  if (token === undefined) {
    throw new ApiError(401, "authentication_failed", "send an API key as Authorization: Bearer <token>");
  }
  const key = await hl.apiKeys.verify(token);
  if (key === null) throw new ApiError(401, "authentication_failed", "invalid API key");
  if (hl.apiKeys.isExpired(key)) throw new ApiError(401, "token_expired", "this API key has expired");
  if (key.readOnly === true && request.method !== "GET" && request.method !== "HEAD") {
    throw new ApiError(403, "forbidden", "this API key is read-only");
  }
  return key;
}

/** A 403 for an app-scoped key on a route only the admin key may use. */
export function requireAdmin(key: ApiKey): void {
  if (key.appId !== null) {
    throw new ApiError(403, "forbidden", "this API key is scoped to one app; this route needs the admin key");
  }
}

/**
 * The app `idOrUid` names, if `key` may see it. An app-scoped key naming any
 * other app — existing or not, so nothing leaks — gets 403; the admin key
 * gets 404 for an app that does not exist.
 */
export async function resolveApp(hl: Hookline, key: ApiKey, idOrUid: string): Promise<AppRecord> {
  const app = await hl.apps.find(idOrUid);
  if (key.appId !== null && app?.id !== key.appId) {
    throw new ApiError(403, "forbidden", "this API key is scoped to another app");
  }
  if (app === null) throw new NotFoundError(`app ${JSON.stringify(idOrUid)} not found`);
  return app;
}

/** For PUT /app/{app_id}: the admin may name a missing app (it is created); an app key only its own. */
export async function resolveAppForUpsert(hl: Hookline, key: ApiKey, idOrUid: string): Promise<AppRecord | null> {
  if (key.appId === null) return null;
  return resolveApp(hl, key, idOrUid);
}

/** A resource of the app, or the 404 of a missing one when it belongs to another app. */
export function ownedBy<T extends { appId: string }>(app: AppRecord, resource: T, notFound: () => Error): T {
  if (resource.appId !== app.id) throw notFound();
  return resource;
}

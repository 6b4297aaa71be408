import { Agent, request } from "undici";
import { ApiError, CliError, UsageError } from "./errors.js";

export type QueryValue = string | number | boolean | undefined | null;

export interface ApiClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Bearer API key; every call but health checks needs one. */
  token: string | undefined;
  /** Time allowed for the response headers and for the body of each call (default 30 s). */
  timeoutMs?: number;
}

export interface CallOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  idempotencyKey?: string;
  /** Overrides the client's timeout for a slow call (a large recovery). */
  timeoutMs?: number;
}

/** One page of a list route: Svix's envelope. */
export interface ListResponse<T> {
  data: T[];
  iterator: string | null;
  prevIterator?: string | null;
  done: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Bytes of a non-JSON error body quoted in the error message. */
const ERROR_EXCERPT_CHARS = 200;

/**
 * A small client of hookline's HTTP API (Svix's routes and hookline's
 * extensions) on one keep-alive undici Agent. Every error status becomes an
 * {@link ApiError} carrying the service's `code` and `detail`.
 */
export class ApiClient {
  readonly baseUrl: URL;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #agent = new Agent({ keepAliveTimeout: 10_000, connections: 32 });

  constructor(options: ApiClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new UsageError(`--url ${JSON.stringify(options.url)} is not a valid URL`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new UsageError(`--url must be http or https, got ${base.protocol}`);
    }
    this.baseUrl = base;
    this.#token = options.token || undefined;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Fails early, as a usage error, when no token was given. */
  requireToken(): this {
    if (!this.#token) throw new UsageError("no API token: pass --token or set HOOKLINE_TOKEN");
    return this;
  }

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>("GET", path, options);
  }

  post<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.call<T>("POST", path, { ...options, body });
  }

  delete(path: string, options: CallOptions = {}): Promise<unknown> {
    return this.call("DELETE", path, options);
  }

  /** Sends one request; resolves with the parsed JSON body (undefined for an empty one). */
  async call<T>(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    options: CallOptions = {},
  ): Promise<T> {
    const url = new URL(this.baseUrl.pathname.replace(/\/$/, "") + path, this.baseUrl);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "hookline-cli" };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(url, {
        method,
        headers,
        body,
        dispatcher: this.#agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      const reason = (error as { code?: string }).code ?? (error as Error).message;
      throw new CliError(`cannot reach ${this.baseUrl.origin}: ${reason}`, 1, { cause: error });
    }
    const text = await response.body.text();
    if (response.statusCode >= 400) throw errorFrom(response.statusCode, text);
    if (text.length === 0) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new CliError(`the service answered ${response.statusCode} with a body that is not JSON`, 1, {
        cause: error,
      });
    }
  }

  /** Follows `iterator` until `done` (or `maxItems`), returning one merged envelope. */
  async listAll<T>(
    path: string,
    query: Record<string, QueryValue> = {},
    maxItems = Infinity,
  ): Promise<ListResponse<T>> {
    const data: T[] = [];
    let iterator: string | null | undefined = (query.iterator as string | undefined) ?? undefined;
    for (;;) {
      const page: ListResponse<T> = await this.get<ListResponse<T>>(path, {
        query: { limit: 250, ...query, iterator },
      });
      data.push(...page.data);
      if (page.done || page.iterator === null || page.data.length === 0 || data.length >= maxItems) {
        return { data, iterator: page.done ? null : page.iterator, done: page.done };
      }
      iterator = page.iterator;
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** `/api/v1/app/{id}/…` with every segment percent-encoded. */
export function apiPath(...segments: string[]): string {
  return `/api/v1/${segments.map((s) => encodeURIComponent(s)).join("/")}`;
}

function errorFrom(status: number, text: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const excerpt = text.trim().slice(0, ERROR_EXCERPT_CHARS);
    return new ApiError(status, `http_${status}`, excerpt || `the service answered ${status}`);
  }
  const body = (parsed ?? {}) as { code?: unknown; detail?: unknown; message?: unknown };
  const code = typeof body.code === "string" ? body.code : `http_${status}`;
  return new ApiError(status, code, describeDetail(body.detail ?? body.message, status));
}

/** Svix's `detail` is a string, or for validation errors a list of `{ loc, msg }`. */
function describeDetail(detail: unknown, status: number): string {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const { loc, msg } = (item ?? {}) as { loc?: unknown; msg?: unknown };
        const where = Array.isArray(loc) ? loc.join(".") : "";
        const what = typeof msg === "string" ? msg : JSON.stringify(item);
        return where ? `${where}: ${what}` : what;
      })
      .join("; ");
  }
  if (detail !== undefined && detail !== null) return JSON.stringify(detail);
  return `the service answered ${status}`;
}

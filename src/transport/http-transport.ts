import { isIP } from "node:net";
import { Agent } from "undici";
import { DeliveryError, HooklineError } from "../core/errors.js";
import { requireInteger } from "../core/models.js";
import { DEFAULTS } from "../core/options.js";
import { EgressPolicy, type EgressPolicyOptions } from "./egress-guard.js";
import { type TransportResponse, WebhookTransport } from "./transport.js";

export interface HttpTransportOptions extends EgressPolicyOptions {
  /** Bytes of each response body kept (default 64 KiB); the rest is discarded unread. */
  maxResponseBodyBytes?: number;
  /** Keep-alive connections per destination origin (default 32). */
  connectionsPerOrigin?: number;
  /** Idle keep-alive sockets are closed after this long (default 4 s). */
  keepAliveTimeoutMs?: number;
  /** Sent as `User-Agent` unless the request sets one. */
  userAgent?: string;
}

const CONNECTION_ERROR_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
};

/**
 * Real HTTP delivery on undici with keep-alive connection pools. The timeout
 * covers connect, headers and body; redirects are never followed (a 3xx is a
 * failed delivery with its status code); response bodies are read up to a cap
 * and the rest discarded. The egress guard is on by default: loopback,
 * private, link-local and other non-public destinations are refused before a
 * byte is sent, on literal IPs and on every address a host name resolves to.
 * A failed request throws a {@link DeliveryError} with a stable code.
 *
 * @example
 * const transport = new HttpTransport();                            // public destinations only
 * const local = new HttpTransport({ allowPrivateNetworks: true });  // for local testing
 * const dispatcher = createWebhookDispatcher({ registry, transport });
 * await transport.close();
 */
export class HttpTransport extends WebhookTransport {
  readonly #policy: EgressPolicy;
  readonly #agent: Agent;
  readonly #maxResponseBodyBytes: number;
  readonly #userAgent: string;
  #closing: Promise<void> | undefined;

  constructor(options: HttpTransportOptions = {}) {
    super();
    this.#policy = new EgressPolicy(options);
    const maxResponseBodyBytes = options.maxResponseBodyBytes ?? DEFAULTS.maxResponseBodyBytes;
    const connections = options.connectionsPerOrigin ?? DEFAULTS.connectionsPerOrigin;
    const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs;
    requireInteger("maxResponseBodyBytes", maxResponseBodyBytes, 0);
    requireInteger("connectionsPerOrigin", connections, 1);
    requireInteger("keepAliveTimeoutMs", keepAliveTimeoutMs, 1);
    this.#maxResponseBodyBytes = maxResponseBodyBytes;
    this.#userAgent = options.userAgent ?? DEFAULTS.userAgent;
    // undici's Agent never follows redirects unless a redirect interceptor is added: a 3xx comes back as is.
    this.#agent = new Agent({
      connections,
      pipelining: 1,
      keepAliveTimeout: keepAliveTimeoutMs,
      keepAliveMaxTimeout: keepAliveTimeoutMs,
      connect: { lookup: this.#policy.lookup() },
    });
  }

  async send(
    url: string,
    payload: string,
    headers: Readonly<Record<string, string>>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportResponse> {
    const target = this.#target(url);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new DeliveryError(
        "HOOKLINE_DELIVERY_TRANSPORT_FAILED",
        `timeoutMs must be a positive number, got ${timeoutMs}`,
      );
    }
    if (signal?.aborted) {
      // Checked before undici sees the request: given an aborted signal it still opens a connection.
      throw new DeliveryError("HOOKLINE_DELIVERY_ABORTED", "delivery aborted", { cause: signal.reason });
    }
    const cap = this.#maxResponseBodyBytes;
    const agent = this.#agent;
    const toError = (error: unknown, reason: unknown) => this.#deliveryError(error, reason, target);
    // One promise, no AbortController/AbortSignal, no Readable for the
    // response: undici's handler API hands us the abort function and the
    // body chunks directly, which is most of the per-request overhead saved.
    return new Promise<TransportResponse>((resolve, reject) => {
      let abortRequest: ((reason: Error) => void) | undefined;
      let abortReason: Error | undefined;
      let settled = false;
      let statusCode = 0;
      let responseHeaders: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      const settle = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error === null) {
          resolve({
            statusCode,
            body: Buffer.concat(chunks, size).toString("utf8"),
            headers: flattenHeaders(responseHeaders),
          });
        } else {
          reject(toError(error, abortReason));
        }
      };
      const abort = (reason: Error) => {
        abortReason ??= reason;
        abortRequest?.(reason);
        settle(reason);
      };
      const timer = setTimeout(
        () => abort(new DeliveryError("HOOKLINE_DELIVERY_TIMEOUT", `no complete response within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () =>
        abort(new DeliveryError("HOOKLINE_DELIVERY_ABORTED", "delivery aborted", { cause: signal?.reason }));
      signal?.addEventListener("abort", onAbort, { once: true });
      agent.dispatch(
        {
          origin: target.origin,
          path: target.pathname + target.search,
          method: "POST",
          headers: hasHeader(headers, "user-agent") ? headers : { "user-agent": this.#userAgent, ...headers },
          body: payload,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        {
          onRequestStart(controller: { abort(reason: Error): void }) {
            abortRequest = (reason) => controller.abort(reason);
            if (abortReason !== undefined) controller.abort(abortReason);
          },
          onResponseStart(_c: unknown, status: number, hdrs: Record<string, string | string[] | undefined>) {
            statusCode = status;
            responseHeaders = hdrs;
          },
          onResponseData(controller: { abort(reason: Error): void }, chunk: Buffer) {
            if (settled) return;
            const room = cap - size;
            if (chunk.length >= room) {
              if (room > 0) chunks.push(chunk.subarray(0, room));
              size = cap;
              settle(null);
              // Stop reading: the connection is dropped instead of downloading the rest.
              controller.abort(new Error("response body cap reached"));
              return;
            }
            chunks.push(chunk);
            size += chunk.length;
          },
          onResponseEnd() {
            settle(null);
          },
          onResponseError(_c: unknown, error: Error) {
            settle(error);
          },
        } as unknown as Parameters<Agent["dispatch"]>[1],
      );
    });
  }

  /** Closes every pooled connection. Safe to call more than once. */
  override close(): Promise<void> {
    // undici rejects a second close() once the agent is destroyed, so every caller shares the first one.
    this.#closing ??= this.#agent.close().then(() => undefined);
    return this.#closing;
  }

  #target(url: string): URL {
    let target: URL;
    try {
      target = new URL(url);
    } catch (error) {
      throw new DeliveryError("HOOKLINE_DELIVERY_INVALID_URL", `invalid URL ${JSON.stringify(url)}`, { cause: error });
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      throw new DeliveryError(
        "HOOKLINE_DELIVERY_INVALID_URL",
        `unsupported URL scheme ${JSON.stringify(target.protocol)}: only http and https are delivered`,
      );
    }
    // The URL parser has already normalised odd IPv4 forms (127.1, 2130706433, 0x7f.1).
    const host = target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname;
    if (isIP(host) !== 0) this.#policy.assertAllowed(host, host);
    return target;
  }

  /** Our own abort reason (timeout, caller's abort) if there was one, else undici's error classified. */
  #deliveryError(error: unknown, abortReason: unknown, target: URL): HooklineError {
    if (abortReason instanceof DeliveryError) return abortReason;
    const found = findCause(error);
    if (found instanceof HooklineError) return found;
    const code = (found as { code?: string } | undefined)?.code ?? "";
    const where = target.host;
    if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
      return new DeliveryError("HOOKLINE_DELIVERY_TIMEOUT", `${where} did not answer in time`, { cause: error });
    }
    const what = CONNECTION_ERROR_CODES[code];
    if (what !== undefined) {
      return new DeliveryError("HOOKLINE_DELIVERY_CONNECTION_FAILED", `${what}: ${where}`, { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new DeliveryError("HOOKLINE_DELIVERY_TRANSPORT_FAILED", `request to ${where} failed: ${message}`, {
      cause: error,
    });
  }
}

/** The first HooklineError in a cause chain, else the innermost error with a `code`. */
function findCause(error: unknown): unknown {
  let current: unknown = error;
  let withCode: unknown;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof HooklineError) return current;
    if ((current as { code?: unknown }).code !== undefined) withCode ??= current;
    const errors = (current as { errors?: unknown }).errors;
    const inner = Array.isArray(errors) ? errors.find((e) => e instanceof HooklineError) : undefined;
    if (inner) return inner;
    current = (current as { cause?: unknown }).cause;
  }
  return withCode ?? error;
}

/** Header names are case-insensitive: `User-Agent` from the caller must replace ours, not be sent beside it. */
function hasHeader(headers: Readonly<Record<string, string>>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

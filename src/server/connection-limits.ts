import { type Server, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { ConfigurationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import type { ApiErrorCode } from "./errors.js";

/** The slow-client protections of {@link connectionLimits}, as given in `ServerOptions`. */
export interface ConnectionLimitOptions {
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
}

/** The resolved limits: fastify's options (`http`, `requestTimeout`) and the connection cap. */
export interface ConnectionLimits {
  http: { headersTimeout: number; connectionsCheckingInterval: number };
  requestTimeout: number;
  maxConnections: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `${name} must be a positive integer`);
  }
  return value;
}

/**
 * Resolves the limits against the defaults. node:http checks its header and
 * request timeouts on an interval (30 s by default), which would let a short
 * timeout run far over; checking at a quarter of the headers timeout (at most
 * every second) keeps the overrun small.
 */
export function connectionLimits(options: ConnectionLimitOptions): ConnectionLimits {
  const headersTimeout = positiveInteger(
    "headersTimeoutMs",
    options.headersTimeoutMs ?? DEFAULTS.serverHeadersTimeoutMs,
  );
  const requestTimeout = positiveInteger(
    "requestTimeoutMs",
    options.requestTimeoutMs ?? DEFAULTS.serverRequestTimeoutMs,
  );
  if (headersTimeout > requestTimeout) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "headersTimeoutMs must not exceed requestTimeoutMs");
  }
  return {
    http: {
      headersTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
    },
    requestTimeout,
    maxConnections: positiveInteger("maxConnections", options.maxConnections ?? DEFAULTS.serverMaxConnections),
  };
}

/**
 * Applies what fastify's options cannot: the connection cap, and a deadline
 * for a connection's first byte. node:http's headers timeout starts with the
 * first byte of a request, so a client that connects and stays silent would
 * otherwise hold its connection (and a place under the cap) indefinitely.
 */
export function guardConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  const timeoutMs = limits.http.headersTimeout;
  server.on("connection", (socket: Socket) => {
    const timer = setTimeout(() => {
      // A client that sent something is under node:http's own headers timeout (which answers 408).
      if (socket.bytesRead === 0) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  });
}

const CLIENT_ERRORS: Record<string, [number, ApiErrorCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, "request_timeout", "the request did not arrive in time"],
  HPE_HEADER_OVERFLOW: [431, "headers_too_large", "the request headers are larger than the limit"],
};

/**
 * Fastify's `clientErrorHandler`: what node:http reports before a request
 * reaches a route (a timeout, oversized headers, a malformed request) is
 * answered as every other error, `{ code, detail }`, and the connection closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, detail] = CLIENT_ERRORS[error.code ?? ""] ?? [400, "bad_request", "malformed HTTP request"];
  // As node:http does: no answer over a response already under way.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) {
    const body = JSON.stringify({ code, detail });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

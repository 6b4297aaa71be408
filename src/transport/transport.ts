/** What a transport reports back for one request. */
export interface TransportResponse {
  statusCode: number;
  /** The response body, possibly cut to a cap. */
  body: string;
  /** Response headers, lower-case names, when the transport has them (used for `Retry-After`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * How a signed webhook leaves the process. The seed's abstract transport:
 * subclass it, or use {@link HttpTransport} for real HTTP and
 * {@link HTTPWebhookTransport} to delegate to a function. A transport either
 * returns the response (any status) or throws when no response came back.
 *
 * @example
 * class Recorder extends WebhookTransport {
 *   sent: string[] = [];
 *   send(url: string, payload: string) { this.sent.push(payload); return { statusCode: 200, body: "" }; }
 * }
 */
export abstract class WebhookTransport {
  abstract send(
    url: string,
    payload: string,
    headers: Readonly<Record<string, string>>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): TransportResponse | Promise<TransportResponse>;

  /** Releases sockets and timers the transport holds; a no-op by default. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

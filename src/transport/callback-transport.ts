import { type TransportResponse, WebhookTransport } from "./transport.js";

/** The function an {@link HTTPWebhookTransport} delegates to. */
export type WebhookTransportHandler = (
  url: string,
  payload: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
) => TransportResponse | Promise<TransportResponse>;

/**
 * The seed's callback transport: every send is handed to a function, sync or
 * async. Without a handler it is the seed's no-op that answers 200, which is
 * what `createWebhookDispatcher()` uses by default. For real HTTP use
 * {@link HttpTransport}.
 *
 * @example
 * const transport = new HTTPWebhookTransport(async (url, payload) => ({ statusCode: 202, body: "" }));
 */
export class HTTPWebhookTransport extends WebhookTransport {
  readonly #handler: WebhookTransportHandler;

  constructor(handler?: WebhookTransportHandler) {
    super();
    this.#handler = handler ?? (() => ({ statusCode: 200, body: "" }));
  }

  send(
    url: string,
    payload: string,
    headers: Readonly<Record<string, string>>,
    timeoutMs: number,
  ): TransportResponse | Promise<TransportResponse> {
    return this.#handler(url, payload, headers, timeoutMs);
  }
}

import { WebhookVerificationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import {
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookHeaders,
  type WebhookProvider,
} from "./verify.js";

/** verifyWebhook's options without the body and headers, which an adapter takes from the request. */
export type VerifyRequestOptions = Omit<VerifyWebhookOptions, "body" | "headers">;

function tooLarge(maxBodyBytes: number): WebhookVerificationError {
  return new WebhookVerificationError("HOOKLINE_PAYLOAD_TOO_LARGE", `body is larger than ${maxBodyBytes} bytes`);
}

/** Reads a fetch body up to `maxBodyBytes`, cancelling the stream past it rather than buffering it all. */
async function readBody(request: Request, maxBodyBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length"));
  if (declared > maxBodyBytes) throw tooLarge(maxBodyBytes);
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBodyBytes) {
      await reader.cancel();
      throw tooLarge(maxBodyBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, length);
}

/**
 * Verifies a fetch API `Request` (Deno, Bun, Cloudflare Workers, Next.js
 * route handlers, Node's undici): reads the raw body bytes and checks them.
 * The request's body is consumed.
 *
 * @example
 * export async function POST(request: Request) {
 *   const event = await verifyRequest("stripe", request, { secret: process.env.STRIPE_WEBHOOK_SECRET! });
 *   return new Response(null, { status: 204 });
 * }
 */
export async function verifyRequest<TPayload = unknown>(
  provider: WebhookProvider,
  request: Request,
  options: VerifyRequestOptions,
): Promise<VerifiedWebhook<TPayload>> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.receiveMaxBodyBytes;
  const body = await readBody(request, maxBodyBytes);
  return verifyWebhook<TPayload>(provider, { ...options, body, headers: request.headers });
}

/** The parts of an Express (or any Node framework's) request the adapter reads. */
export interface RawBodyRequest {
  /** A Buffer when the route uses `express.raw({ type: "*\/*" })`. */
  body?: unknown;
  headers: WebhookHeaders;
}

/**
 * Verifies an Express request whose route parses the body with
 * `express.raw({ type: "*\/*" })`, so `req.body` is the raw Buffer. A body
 * already parsed by `express.json()` is refused with
 * HOOKLINE_VERIFICATION_INVALID_PAYLOAD: its bytes are gone.
 *
 * @example
 * app.post("/webhooks/github", express.raw({ type: "*\/*" }), (req, res) => {
 *   const event = verifyNodeRequest("github", req, { secret });
 *   res.sendStatus(204);
 * });
 */
export function verifyNodeRequest<TPayload = unknown>(
  provider: WebhookProvider,
  request: RawBodyRequest,
  options: VerifyRequestOptions,
): VerifiedWebhook<TPayload> {
  return verifyWebhook<TPayload>(provider, {
    ...options,
    body: request.body as VerifyWebhookOptions["body"],
    headers: request.headers,
  });
}

/** The Fastify instance methods {@link rawBodyParser} uses. */
export interface ContentTypeParserHost {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: "buffer"; bodyLimit?: number },
    parser: (request: unknown, body: Buffer, done: (error: Error | null, body?: Buffer) => void) => void,
  ): void;
}

/**
 * Makes a Fastify instance (or plugin scope) keep every request body as the
 * raw Buffer in `request.body`, whatever its content type. Register it inside
 * the plugin that holds the webhook routes so the rest of the app keeps its
 * JSON parser; then call {@link verifyNodeRequest} with the Fastify request.
 *
 * @example
 * app.register(async (scope) => {
 *   rawBodyParser(scope);
 *   scope.post("/webhooks/shopify", async (request, reply) => {
 *     const event = verifyNodeRequest("shopify", request, { secret });
 *     return reply.code(204).send();
 *   });
 * });
 */
export function rawBodyParser(instance: ContentTypeParserHost, options: { bodyLimit?: number } = {}): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser(
    "*",
    { parseAs: "buffer", bodyLimit: options.bodyLimit ?? DEFAULTS.receiveMaxBodyBytes },
    (_request, body, done) => done(null, body),
  );
}

/** The parts of a Hono context the adapter reads. */
export interface HonoContextLike {
  req: { arrayBuffer(): Promise<ArrayBuffer>; raw: { headers: Headers } };
}

/**
 * Verifies the request of a Hono handler. It reads the raw bytes through
 * Hono (`c.req.arrayBuffer()`, cached, so a later `c.req.json()` still
 * works) rather than re-encoding `c.req.text()`.
 *
 * @example
 * app.post("/webhooks/slack", async (c) => {
 *   const event = await verifyHonoRequest("slack", c, { secret: c.env.SLACK_SIGNING_SECRET });
 *   return c.body(null, 204);
 * });
 */
export async function verifyHonoRequest<TPayload = unknown>(
  provider: WebhookProvider,
  context: HonoContextLike,
  options: VerifyRequestOptions,
): Promise<VerifiedWebhook<TPayload>> {
  const body = new Uint8Array(await context.req.arrayBuffer());
  return verifyWebhook<TPayload>(provider, { ...options, body, headers: context.req.raw.headers });
}

import { createHmac } from "node:crypto";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterAll, describe, expect, it } from "vitest";
import {
  rawBodyParser,
  verifyHonoRequest,
  verifyNodeRequest,
  verifyRequest,
  WebhookVerificationError,
} from "../src/receive.js";

// Real frameworks on real sockets (Hono through its own fetch entry point);
// signatures computed here with node:crypto.

const SECRET = "shpss_adapter_secret";
const BODY = '{"order":{"id":7,"note":"crème brûlée"}}';
const shopifyHeaders = (body: string | Buffer, secret = SECRET) => ({
  "content-type": "application/json",
  "x-shopify-hmac-sha256": createHmac("sha256", secret).update(body).digest("base64"),
  "x-shopify-webhook-id": "wh_1",
  "x-shopify-topic": "orders/create",
});

function outcome(error: unknown): { status: number; code: string } {
  if (error instanceof WebhookVerificationError) return { status: 401, code: error.code };
  throw error;
}

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

describe("verifyRequest (fetch API)", () => {
  const request = (body: string, headers: Record<string, string>) =>
    new Request("http://127.0.0.1/webhooks", { method: "POST", body, headers });

  it("verifies a real Request and returns the parsed payload", async () => {
    const result = await verifyRequest("shopify", request(BODY, shopifyHeaders(BODY)), { secret: SECRET });
    expect(result).toMatchObject({ id: "wh_1", eventType: "orders/create", payload: JSON.parse(BODY) });
  });

  it("reads a streamed body byte for byte", async () => {
    const bytes = Buffer.from(BODY);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 5));
        controller.enqueue(bytes.subarray(5));
        controller.close();
      },
    });
    const streamed = new Request("http://127.0.0.1/webhooks", {
      method: "POST",
      body: stream,
      headers: shopifyHeaders(BODY),
      duplex: "half",
    } as RequestInit);
    expect((await verifyRequest("shopify", streamed, { secret: SECRET })).payload).toEqual(JSON.parse(BODY));
  });

  it("rejects a tampered body and a body over maxBodyBytes", async () => {
    const tampered = request(BODY.replace("7", "8"), shopifyHeaders(BODY));
    await expect(verifyRequest("shopify", tampered, { secret: SECRET })).rejects.toMatchObject({
      code: "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    });
    await expect(
      verifyRequest("shopify", request(BODY, shopifyHeaders(BODY)), { secret: SECRET, maxBodyBytes: 8 }),
    ).rejects.toMatchObject({ code: "HOOKLINE_PAYLOAD_TOO_LARGE" });
  });
});

describe("Fastify: rawBodyParser + verifyNodeRequest", () => {
  it("keeps the raw body in the webhook scope only, on a real server", async () => {
    const app = Fastify();
    await app.register(async (scope) => {
      rawBodyParser(scope);
      scope.post("/webhooks/shopify", async (request, reply) => {
        try {
          const event = verifyNodeRequest("shopify", request, { secret: SECRET });
          return { id: event.id, payload: event.payload };
        } catch (error) {
          const { status, code } = outcome(error);
          return reply.code(status).send({ code });
        }
      });
    });
    app.post("/api/json", async (request) => ({ parsed: request.body }));
    await app.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const ok = await fetch(`${base}/webhooks/shopify`, { method: "POST", body: BODY, headers: shopifyHeaders(BODY) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: "wh_1", payload: JSON.parse(BODY) });

    // Any content type, even one Fastify has no parser for, arrives as bytes.
    const text = "not json";
    const odd = await fetch(`${base}/webhooks/shopify`, {
      method: "POST",
      body: text,
      headers: { ...shopifyHeaders(text), "content-type": "application/x-odd" },
    });
    expect(await odd.json()).toEqual({ code: "HOOKLINE_VERIFICATION_INVALID_PAYLOAD" });

    const forged = await fetch(`${base}/webhooks/shopify`, {
      method: "POST",
      body: BODY,
      headers: shopifyHeaders(BODY, "other"),
    });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({ code: "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE" });

    const json = await fetch(`${base}/api/json`, {
      method: "POST",
      body: '{"a":1}',
      headers: { "content-type": "application/json" },
    });
    expect(await json.json()).toEqual({ parsed: { a: 1 } });
  });
});

describe("Express: express.raw + verifyNodeRequest", () => {
  it("verifies on a real server and refuses a body express.json already parsed", async () => {
    const app = express();
    const handler = (req: express.Request, res: express.Response) => {
      try {
        const event = verifyNodeRequest("shopify", req, { secret: SECRET });
        res.json({ id: event.id, payload: event.payload });
      } catch (error) {
        const { status, code } = outcome(error);
        res.status(status).json({ code });
      }
    };
    app.post("/webhooks/shopify", express.raw({ type: "*/*" }), handler);
    app.post("/wrong/shopify", express.json(), handler);
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const ok = await fetch(`${base}/webhooks/shopify`, { method: "POST", body: BODY, headers: shopifyHeaders(BODY) });
    expect(await ok.json()).toEqual({ id: "wh_1", payload: JSON.parse(BODY) });
    const parsed = await fetch(`${base}/wrong/shopify`, { method: "POST", body: BODY, headers: shopifyHeaders(BODY) });
    expect(parsed.status).toBe(401);
    expect(await parsed.json()).toEqual({ code: "HOOKLINE_VERIFICATION_INVALID_PAYLOAD" });
  });
});

describe("Hono: verifyHonoRequest", () => {
  it("verifies the raw bytes and leaves c.req.json() usable afterwards", async () => {
    const app = new Hono();
    app.post("/webhooks/shopify", async (c) => {
      try {
        const event = await verifyHonoRequest("shopify", c, { secret: SECRET });
        return c.json({ id: event.id, again: await c.req.json() });
      } catch (error) {
        const { code } = outcome(error);
        return c.json({ code }, 401);
      }
    });
    const ok = await app.request("/webhooks/shopify", { method: "POST", body: BODY, headers: shopifyHeaders(BODY) });
    expect(await ok.json()).toEqual({ id: "wh_1", again: JSON.parse(BODY) });
    const forged = await app.request("/webhooks/shopify", {
      method: "POST",
      body: BODY,
      headers: shopifyHeaders(`${BODY} `),
    });
    expect(forged.status).toBe(401);
  });
});

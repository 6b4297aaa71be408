/**
 * hookline's `status` filter of GET /api/v1/app/{app}/msg over a real socket:
 * one message per delivery state, each reached by a real receiver on 127.0.0.1
 * (or held back by a disabled endpoint).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerHarness, startHarness, until } from "./server-harness.js";

let harness: ServerHarness | null = null;
const receivers: Server[] = [];

afterEach(async () => {
  for (const server of receivers.splice(0)) server.closeAllConnections();
  await harness?.close();
  harness = null;
  await Promise.all(receivers.map((server) => new Promise((resolve) => server.close(resolve))));
});

function receiver(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => handle(request, response));
  });
  receivers.push(server);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)),
  );
}

describe("GET …/msg?status= (hookline extension)", () => {
  it("lists only the messages with a delivery in that state: success, pending, fail, sending", async () => {
    harness = await startHarness({ store: "sqlite", engine: { retrySchedule: [0] } });
    const h = harness;
    await h.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = h.server.server.address() as AddressInfo;
    const appId = await h.createApp();

    let hung: ServerResponse | null = null;
    const urls = {
      ok: await receiver((_, response) => response.writeHead(200).end("ok")),
      fail: await receiver((_, response) => response.writeHead(500).end("no")),
      // Answers only when the test ends, so its delivery stays "sending".
      hang: await receiver((_, response) => {
        hung = response;
      }),
    };
    const endpoint = async (url: string, eventType: string) => {
      const response = await h.call("POST", `/api/v1/app/${appId}/endpoint`, {
        body: { url, filterTypes: [eventType] },
      });
      expect(response.statusCode).toBe(201);
      return (response.json() as { id: string }).id;
    };
    const send = async (eventType: string) => {
      const response = await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType, payload: {} } });
      expect(response.statusCode).toBe(202);
      return (response.json() as { id: string }).id;
    };
    const deliveryOf = async (messageId: string) => (await h.hl.deliveries.list({ messageId })).data[0]?.status;

    // Pending: sent while no worker runs, then its endpoint is disabled, so the delivery waits.
    const held = await endpoint(urls.ok, "held");
    const pending = await send("held");
    await h.hl.endpoints.disable(held);
    await endpoint(urls.ok, "ok");
    await endpoint(urls.fail, "fail");
    await endpoint(urls.hang, "hang");
    await h.hl.start();
    const success = await send("ok");
    const fail = await send("fail");
    const sending = await send("hang");
    await until(async () => (await deliveryOf(success)) === "delivered");
    await until(async () => (await deliveryOf(fail)) === "failed");
    await until(async () => hung !== null && (await deliveryOf(sending)) === "sending");
    expect(await deliveryOf(pending)).toBe("pending");

    const list = async (query: string) => {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/app/${appId}/msg?${query}`, {
        headers: { authorization: `Bearer ${h.adminToken}` },
      });
      return { status: response.status, body: (await response.json()) as { data: { id: string }[] } };
    };
    const ids = async (query: string) => {
      const { status, body } = await list(query);
      expect(status, query).toBe(200);
      return body.data.map((m) => m.id).sort();
    };
    expect(await ids("status=0")).toEqual([success]);
    expect(await ids("status=1")).toEqual([pending]);
    expect(await ids("status=2")).toEqual([fail]);
    expect(await ids("status=3")).toEqual([sending]);
    expect(await ids("")).toEqual([pending, success, fail, sending].sort());
    // Combined with another filter, and applied to each page.
    expect(await ids("status=2&event_types=ok")).toEqual([]);
    expect(await ids("status=0&limit=1")).toEqual([]); // the newest message (the hanging one) is not delivered
    expect((await list("status=4")).status).toBe(422);
    expect((await list("status=failed")).status).toBe(422);

    // /openapi.json documents it.
    const spec = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters: { name: string; description?: string }[] }>>;
    };
    const parameter = spec.paths["/api/v1/app/{app_id}/msg"]?.get?.parameters.find((p) => p.name === "status");
    expect(parameter).toBeDefined();
    (hung as ServerResponse | null)?.writeHead(200).end("late");
  }, 30_000);
});

import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerHarness, startHarness } from "./server-harness.js";

let harness: ServerHarness | null = null;

afterEach(async () => {
  await harness?.close();
  harness = null;
});

describe("endpoint payload filters over the HTTP API (a real socket)", () => {
  it("creates, reads, changes and clears a filter; a bad operator is a 422 naming it", async () => {
    harness = await startHarness({ store: "sqlite" });
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const appId = await harness.createApp();
    const token = harness.adminToken;
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const filter = { amount: { $gte: 100 }, "customer.country": { $in: ["DE", "FR"] } };

    const created = await api("POST", `/api/v1/app/${appId}/endpoint`, { url: "http://127.0.0.1:9/hooks", filter });
    expect(created.status).toBe(201);
    expect(created.body.filter).toEqual(filter);
    const endpointId = created.body.id as string;
    const path = `/api/v1/app/${appId}/endpoint/${endpointId}`;
    expect((await api("GET", path)).body.filter).toEqual(filter);

    // Messages the filter does not take get no delivery there.
    const send = async (payload: unknown) => {
      const message = await api("POST", `/api/v1/app/${appId}/msg`, { eventType: "order.paid", payload });
      expect(message.status).toBe(202);
      return (await harness?.store.listDeliveries({ messageId: message.body.id as string }))?.data.length;
    };
    expect(await send({ amount: 150, customer: { country: "FR" } })).toBe(1);
    expect(await send({ amount: 150, customer: { country: "US" } })).toBe(0);

    // A bad operator, nested: 422 in the API's validation shape, naming the operator and its place.
    const bad = await api("PATCH", path, { filter: { $or: [{ amount: { $between: [1, 2] } }] } });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({
      code: "validation_error",
      detail: [
        {
          loc: ["body", "filter"],
          msg: expect.stringMatching(/^filter at \$or\[0\]\.amount\.\$between has an unknown operator "\$between"/),
          type: "value_error",
        },
      ],
    });
    const redos = await api("POST", `/api/v1/app/${appId}/endpoint`, {
      url: "http://127.0.0.1:9/other",
      filter: { name: { $regex: "(a+)+$" } },
    });
    expect(redos.status).toBe(422);
    expect(JSON.stringify(redos.body)).toContain("could backtrack catastrophically");
    const notAnObject = await api("PATCH", path, { filter: ["amount"] });
    expect(notAnObject.status).toBe(422);
    expect((await api("GET", path)).body.filter).toEqual(filter);

    // PATCH changes it; a PUT that leaves the extension out keeps it; null clears it.
    const changed = await api("PATCH", path, { filter: { amount: { $lt: 10 } } });
    expect(changed.status).toBe(200);
    expect(changed.body.filter).toEqual({ amount: { $lt: 10 } });
    const replaced = await api("PUT", path, { url: "http://127.0.0.1:9/hooks", description: "kept filter" });
    expect(replaced.status).toBe(200);
    expect(replaced.body.filter).toEqual({ amount: { $lt: 10 } });
    const cleared = await api("PATCH", path, { filter: null });
    expect(cleared.body.filter).toBeNull();
    expect((await api("GET", path)).body.filter).toBeNull();
    expect(await send({ amount: 150, customer: { country: "US" } })).toBe(1);

    const list = await api("GET", `/api/v1/app/${appId}/endpoint`);
    expect((list.body.data as Array<Record<string, unknown>>).map((e) => e.filter)).toEqual([null]);
  });

  it("documents the filter as a hookline extension in /openapi.json", async () => {
    harness = await startHarness();
    const doc = (await harness.call("GET", "/openapi.json")).json() as {
      components: { schemas: Record<string, { properties?: Record<string, { description?: string }> }> };
    };
    const text = JSON.stringify(doc);
    const withFilter = Object.entries(doc.components.schemas).filter(([, schema]) => schema.properties?.filter);
    expect(withFilter.length).toBeGreaterThan(0);
    for (const [, schema] of withFilter) {
      expect(schema.properties?.filter?.description ?? text).toMatch(/hookline extension: a payload filter/);
    }
    expect(text).toMatch(/\$eq \$neq \$gt \$gte \$lt \$lte \$in \$nin \$exist \$regex \$and \$or \$not/);
  });
});

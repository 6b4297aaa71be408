import type { AddressInfo } from "node:net";
import { Ordering, Svix } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerHarness, startHarness } from "./server-harness.js";

let harness: ServerHarness | null = null;

afterEach(async () => {
  await harness?.close();
  harness = null;
});

interface ListBody {
  data: Array<{ id: string }>;
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}

describe("paging over a real socket: prevIterator and order", () => {
  it("walks messages forward, back with prevIterator, and oldest first with order=ascending", async () => {
    harness = await startHarness({ store: "sqlite" });
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const appId = await harness.createApp();
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await harness.call("POST", `/api/v1/app/${appId}/msg`, {
        body: { eventType: "a.b", payload: { i } },
      });
      sent.push((response.json() as { id: string }).id);
    }
    const newestFirst = [...sent].sort().reverse();
    const list = async (query: string): Promise<ListBody> => {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/app/${appId}/msg?${query}`, {
        headers: { authorization: `Bearer ${harness?.adminToken}` },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as ListBody;
    };
    const ids = (body: ListBody) => body.data.map((m) => m.id);

    const first = await list("limit=3");
    expect(ids(first)).toEqual(newestFirst.slice(0, 3));
    expect(first.done).toBe(false);
    const second = await list(`limit=3&iterator=${first.iterator}`);
    expect(ids(second)).toEqual(newestFirst.slice(3, 6));
    expect(second.prevIterator).toBe(`-${newestFirst[3]}`);
    // Back from the second page: the first page again, newest first, with an iterator that goes forward.
    const back = await list(`limit=3&iterator=${second.prevIterator}`);
    expect(ids(back)).toEqual(newestFirst.slice(0, 3));
    expect(back.done).toBe(true);
    expect(back.iterator).toBe(newestFirst[2]);
    expect(ids(await list(`limit=3&iterator=${back.iterator}`))).toEqual(newestFirst.slice(3, 6));
    // Back from the middle of a page: the nearest newer rows, not the newest.
    const near = await list(`limit=2&iterator=-${newestFirst[5]}`);
    expect(ids(near)).toEqual(newestFirst.slice(3, 5));
    expect(near.done).toBe(false);

    const oldest = await list("limit=4&order=ascending");
    expect(ids(oldest)).toEqual([...sent].sort().slice(0, 4));
    const rest = await list(`limit=4&order=ascending&iterator=${oldest.iterator}`);
    expect(ids(rest)).toEqual([...sent].sort().slice(4));
    expect(rest.done).toBe(true);
    const rewind = await list(`limit=4&order=ascending&iterator=${rest.prevIterator}`);
    expect(ids(rewind)).toEqual([...sent].sort().slice(0, 4));
  });

  it("gives the official svix client apps and endpoints in the order it asks for, with a working prevIterator", async () => {
    harness = await startHarness();
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const svix = new Svix(harness.adminToken, { serverUrl: `http://127.0.0.1:${port}` });
    const apps = [];
    for (let i = 0; i < 5; i++) apps.push((await svix.application.create({ name: `app ${i}` })).id);
    const ascending = await svix.application.list({ order: Ordering.Ascending, limit: 2 });
    expect(ascending.data.map((a) => a.id)).toEqual([...apps].sort().slice(0, 2));
    const next = await svix.application.list({ order: Ordering.Ascending, limit: 2, iterator: ascending.iterator });
    expect(next.data.map((a) => a.id)).toEqual([...apps].sort().slice(2, 4));
    const previous = await svix.application.list({ order: Ordering.Ascending, limit: 2, iterator: next.prevIterator });
    expect(previous.data.map((a) => a.id)).toEqual([...apps].sort().slice(0, 2));

    const appId = apps[0] as string;
    const endpoints = [];
    for (let i = 0; i < 3; i++)
      endpoints.push((await svix.endpoint.create(appId, { url: `https://example.com/${i}` })).id);
    const descending = await svix.endpoint.list(appId, { order: Ordering.Descending });
    expect(descending.data.map((e) => e.id)).toEqual([...endpoints].sort().reverse());
  });
});

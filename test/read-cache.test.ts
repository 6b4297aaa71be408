import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHookline, type Hookline } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";

/** Two engines on one SQLite file stand for two processes sharing a database. */
let dir: string;
const open: Hookline[] = [];
const engine = async (readCacheTtlMs?: number) => {
  const hl = await createHookline({
    store: sqliteStore({ path: join(dir, "hookline.db") }),
    ...(readCacheTtlMs !== undefined && { readCacheTtlMs }),
  });
  open.push(hl);
  return hl;
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hookline-cache-"));
});
afterEach(async () => {
  for (const hl of open.splice(0)) await hl.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the per-process read cache of send()", () => {
  const send = (hl: Hookline) => hl.send({ eventType: "invoice.paid", payload: { amount: 1 } });

  it("applies this process's endpoint changes to the very next send", async () => {
    const hl = await engine();
    expect((await send(hl)).deliveryCount).toBe(0);
    const endpoint = await hl.endpoints.create({ url: "https://example.com/hooks" });
    expect((await send(hl)).deliveryCount).toBe(1);
    await hl.endpoints.update(endpoint.id, { eventTypes: ["user.*"] });
    expect((await send(hl)).deliveryCount).toBe(0);
    await hl.endpoints.update(endpoint.id, { eventTypes: [] });
    await hl.endpoints.disable(endpoint.id);
    expect((await send(hl)).deliveryCount).toBe(0);
    await hl.endpoints.enable(endpoint.id);
    expect((await send(hl)).deliveryCount).toBe(1);
    await hl.endpoints.delete(endpoint.id);
    expect((await send(hl)).deliveryCount).toBe(0);
  });

  it("sees another process's endpoint within the TTL, and at once with a TTL of 0", async () => {
    const cached = await engine(200);
    const uncached = await engine(0);
    const other = await engine();
    expect((await send(cached)).deliveryCount).toBe(0);
    expect((await send(uncached)).deliveryCount).toBe(0);
    await other.endpoints.create({ url: "https://example.com/hooks" });
    expect((await send(uncached)).deliveryCount).toBe(1);
    // Within the TTL the cached engine still fans out to what it read…
    expect((await send(cached)).deliveryCount).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    // …and after it, to what the database holds.
    expect((await send(cached)).deliveryCount).toBe(1);
  });

  it("validates against an event type schema changed by this process at once", async () => {
    const hl = await engine();
    await hl.endpoints.create({ url: "https://example.com/hooks" });
    await send(hl);
    await hl.eventTypes.create({
      name: "invoice.paid",
      schemas: { "1": { type: "object", properties: { amount: { type: "string" } }, required: ["amount"] } },
    });
    await expect(send(hl)).rejects.toMatchObject({ code: "HOOKLINE_PAYLOAD_INVALID" });
  });
});

describe("the per-process read cache of apps and API keys", () => {
  it("a key deleted through this process fails at once; through another, within the TTL", async () => {
    const hl = await engine(200);
    const other = await engine(200);
    const app = await hl.apps.create({ name: "shop" });
    const first = await hl.apiKeys.create({ appId: app.id });
    const second = await hl.apiKeys.create({ appId: app.id });
    expect(await hl.apiKeys.verify(first.token)).toMatchObject({ id: first.key.id });
    await hl.apiKeys.delete(first.key.id);
    expect(await hl.apiKeys.verify(first.token)).toBeNull();

    expect(await hl.apiKeys.verify(second.token)).toMatchObject({ id: second.key.id });
    await other.apiKeys.delete(second.key.id);
    // Within the TTL this process still knows the key it read…
    expect(await hl.apiKeys.verify(second.token)).toMatchObject({ id: second.key.id });
    await new Promise((resolve) => setTimeout(resolve, 250));
    // …and after it, the database says it is gone.
    expect(await hl.apiKeys.verify(second.token)).toBeNull();
  });

  it("keeps no unknown token and no missing app: another process's new key and app work at once", async () => {
    const hl = await engine(60_000);
    const other = await engine(60_000);
    const token = "hl_made-up-token-that-matches-no-key";
    expect(await hl.apiKeys.verify(token)).toBeNull();
    expect(await hl.apps.find("later")).toBeNull();
    await other.apiKeys.create({ appId: null, token });
    await other.apps.create({ name: "later", uid: "later" });
    expect(await hl.apiKeys.verify(token)).toMatchObject({ appId: null });
    expect(await hl.apps.find("later")).toMatchObject({ uid: "later", name: "later" });
    // A message to it is accepted by this process, which has not created the app itself.
    await expect(hl.send({ appId: "later", eventType: "a.b", payload: {} })).resolves.toMatchObject({ created: true });
  });

  it("an app renamed or deleted through this process is seen at once, by id and by uid", async () => {
    const hl = await engine(60_000);
    const app = await hl.apps.create({ name: "shop", uid: "shop" });
    expect(await hl.apps.find("shop")).toMatchObject({ id: app.id, name: "shop" });
    await hl.apps.update(app.id, { name: "store", uid: "store" });
    expect(await hl.apps.find("shop")).toBeNull();
    expect(await hl.apps.find("store")).toMatchObject({ id: app.id, name: "store" });
    const found = await hl.apps.find(app.id);
    if (found) found.metadata.mutated = "yes";
    expect((await hl.apps.get(app.id)).metadata).toEqual({});
    await hl.apps.delete(app.id);
    expect(await hl.apps.find(app.id)).toBeNull();
    await expect(hl.send({ appId: app.id, eventType: "a.b", payload: {} })).rejects.toMatchObject({
      code: "HOOKLINE_NOT_FOUND",
    });
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHookline, type Hookline } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";

/** Two engines on one SQLite file stand for two processes sharing a database. */
describe("the per-process read cache of send()", () => {
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
  const send = (hl: Hookline) => hl.send({ eventType: "invoice.paid", payload: { amount: 1 } });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "hookline-cache-"));
  });
  afterEach(async () => {
    for (const hl of open.splice(0)) await hl.close();
    await rm(dir, { recursive: true, force: true });
  });

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

import { statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Svix } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { createHookline, type Hookline, HTTPWebhookTransport } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import { ensureBuilt, killAll, runCli, startServe, tempDir } from "./cli-support.js";
import { type ServerHarness, startHarness, until } from "./server-harness.js";
import { FakeClock } from "./support/fake-clock.js";
import { startServer, type TestServer } from "./support/http-server.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

let hookline: Hookline | null = null;
let harness: ServerHarness | null = null;
let receiver: TestServer | null = null;

afterEach(async () => {
  await hookline?.close({ timeoutMs: 1_000 });
  hookline = null;
  await harness?.close();
  harness = null;
  await receiver?.close();
  receiver = null;
  await killAll();
});

/** Delivers everything due, however many rounds that takes. */
async function drain(hl: Hookline): Promise<void> {
  while ((await hl.processDue()) > 0) {}
}

describe("retention in the engine (SQLite, fake clock)", () => {
  it("expunges payloads after payloadMs and deletes history after historyMs, never a message still being retried", async () => {
    const clock = new FakeClock(Date.now());
    let failing = true;
    const transport = new HTTPWebhookTransport((url) => ({
      statusCode: url.endsWith("/down") && failing ? 500 : 200,
      body: "",
    }));
    const path = join(tempDir("hookline-retention"), "hookline.db");
    hookline = await createHookline({
      store: sqliteStore({ path }),
      clock,
      transport,
      retryJitterRatio: 0,
      retrySchedule: [0, 10 * DAY_MS],
      retention: { payloadMs: HOUR_MS, historyMs: 2 * HOUR_MS, batchSize: 7 },
    });
    const up = await hookline.endpoints.create({ url: "https://example.com/up" });
    const sent = [];
    for (let i = 0; i < 30; i++) sent.push(await hookline.send({ eventType: "a.b", payload: { i } }));
    const own = await hookline.send({ eventType: "a.b", payload: { own: true }, payloadRetentionMs: 10 * HOUR_MS });
    await hookline.endpoints.create({ url: "https://example.com/down" });
    const retried = await hookline.send({ eventType: "a.b", payload: { retried: true } });
    await drain(hookline);
    expect((await hookline.deliveries.list({ messageId: retried.messageId })).data.map((d) => d.status).sort()).toEqual(
      ["delivered", "pending"],
    );

    // Kept for exactly payloadMs; purged once older than that.
    clock.advance(HOUR_MS);
    expect(await hookline.purge()).toMatchObject({ expunged: 0, deleted: 0 });

    clock.advance(1);
    const first = await hookline.purge();
    // 30 payloads in batches of 7 (the fifth one short, which ends the step), then one empty history batch.
    expect(first).toMatchObject({ expunged: 30, deleted: 0, batches: 6 });
    expect(first.longestBatchMs).toBeGreaterThan(0);
    const expunged = await hookline.messages.get(must(sent[0]).messageId);
    expect(expunged.body).toBe("");
    expect(expunged.expungedAt).toBe(clock.now());
    expect((await hookline.attempts.list({ messageId: expunged.id })).data).toHaveLength(1);
    expect((await hookline.messages.get(own.messageId)).body).not.toBe("");
    expect((await hookline.messages.get(retried.messageId)).body).not.toBe("");
    await expect(
      hookline.deliveries.retry(must((await hookline.deliveries.list({ messageId: expunged.id })).data[0]).id),
    ).rejects.toMatchObject({
      code: "HOOKLINE_CONFLICT",
      message: expect.stringContaining("expunged"),
    });

    clock.advance(HOUR_MS);
    expect(await hookline.purge()).toMatchObject({ expunged: 0, deleted: 31 });
    await expect(hookline.messages.get(must(sent[0]).messageId)).rejects.toMatchObject({ code: "HOOKLINE_NOT_FOUND" });
    // The message with its own, longer retention has its payload still, but its record went with the history.
    await expect(hookline.messages.get(own.messageId)).rejects.toMatchObject({ code: "HOOKLINE_NOT_FOUND" });
    // The message still being retried keeps everything, whatever its age.
    expect((await hookline.messages.get(retried.messageId)).body).toContain("retried");
    expect(await hookline.endpoints.get(up.id)).toBeTruthy();

    // Once its last attempt is done it is purged like any other.
    failing = false;
    clock.advance(10 * DAY_MS);
    await drain(hookline);
    expect(await hookline.purge()).toMatchObject({ deleted: 1 });
  });

  it("a message's own retention expunges it before the store-wide one", async () => {
    const clock = new FakeClock(Date.now());
    hookline = await createHookline({
      clock,
      transport: new HTTPWebhookTransport(),
      retention: { payloadMs: 30 * DAY_MS },
    });
    await hookline.endpoints.create({ url: "https://example.com/up" });
    const short = await hookline.send({ eventType: "a.b", payload: { s: 1 }, payloadRetentionMs: HOUR_MS });
    const normal = await hookline.send({ eventType: "a.b", payload: { s: 2 } });
    await drain(hookline);
    clock.advance(HOUR_MS);
    expect(await hookline.purge()).toMatchObject({ expunged: 1, deleted: 0 });
    expect((await hookline.messages.get(short.messageId)).expungedAt).toBe(clock.now());
    expect((await hookline.messages.get(normal.messageId)).expungedAt).toBeUndefined();
    await expect(hookline.send({ eventType: "a.b", payload: {}, payloadRetentionMs: 0 })).rejects.toMatchObject({
      code: "HOOKLINE_CONFIGURATION_INVALID",
    });
  });

  it("keeps the SQLite file from growing once the first retention window has passed (200,000 messages)", async () => {
    const clock = new FakeClock(Date.now());
    const path = join(tempDir("hookline-retention"), "flat.db");
    hookline = await createHookline({
      store: sqliteStore({ path }),
      clock,
      transport: new HTTPWebhookTransport(),
      concurrency: 256,
      batchSize: 500,
      retention: { payloadMs: HOUR_MS, historyMs: 2 * HOUR_MS, batchSize: 500 },
    });
    const hl = hookline;
    await hl.endpoints.create({ url: "https://example.com/a" });
    const payload = {
      customer: "c".repeat(200),
      items: Array.from({ length: 10 }, (_, i) => ({ sku: `sku-${i}`, qty: i })),
    };
    const windows = 10;
    const perWindow = 20_000;
    const sizes: number[] = [];
    let longestBatchMs = 0;
    const checkpoint = new Database(path);
    for (let w = 0; w < windows; w++) {
      for (let i = 0; i < perWindow; i += 500) {
        await Promise.all(Array.from({ length: 500 }, () => hl.send({ eventType: "order.paid", payload })));
        await drain(hl);
      }
      clock.advance(HOUR_MS);
      const report = await hl.purge();
      longestBatchMs = Math.max(longestBatchMs, report.longestBatchMs);
      checkpoint.pragma("wal_checkpoint(TRUNCATE)");
      sizes.push(statSync(path).size);
    }
    checkpoint.close();
    const mb = sizes.map((s) => (s / 1e6).toFixed(1));
    console.log(
      `retention: ${windows * perWindow} messages, file size after each window (MB): ${mb.join(" ")}; longest purge batch ${longestBatchMs.toFixed(1)} ms`,
    );
    // From the third window on, each purge frees one window of history while one window arrives.
    const settled = must(sizes[2]);
    for (const size of sizes.slice(3)) expect(size).toBeLessThanOrEqual(settled * 1.05);
    expect(await hl.store.countDeliveries()).toMatchObject({ pending: 0, sending: 0 });
  }, 300_000);
});

describe("retention over the API", () => {
  it("honours payloadRetentionHours/Period, expunges content on DELETE …/content (svix client), and refuses resends", async () => {
    receiver = await startServer();
    harness = await startHarness({ store: "sqlite" });
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const svix = new Svix(harness.adminToken, { serverUrl: `http://127.0.0.1:${port}` });
    const app = await svix.application.create({ name: "acme" });
    const endpoint = await svix.endpoint.create(app.id, { url: receiver.url });
    await harness.hl.start();
    const hours = await svix.message.create(app.id, {
      eventType: "a.b",
      payload: { secret: "pii" },
      payloadRetentionHours: 5,
    });
    const days = await svix.message.create(app.id, { eventType: "a.b", payload: { x: 1 }, payloadRetentionPeriod: 2 });
    const stored = await harness.hl.messages.get(hours.id);
    expect(stored.payloadExpiresAt).toBe(stored.createdAt + 5 * HOUR_MS);
    const storedDays = await harness.hl.messages.get(days.id);
    expect(storedDays.payloadExpiresAt).toBe(storedDays.createdAt + 2 * DAY_MS);

    const both = await fetch(`http://127.0.0.1:${port}/api/v1/app/${app.id}/msg`, {
      method: "POST",
      headers: { authorization: `Bearer ${harness.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ eventType: "a.b", payload: {}, payloadRetentionHours: 1, payloadRetentionPeriod: 1 }),
    });
    expect(both.status).toBe(422);

    await until(() => receiver?.requests.length === 2);
    await until(
      async () => (await harness?.hl.deliveries.list({ messageId: hours.id }))?.data[0]?.status === "delivered",
    );
    await svix.message.expungeContent(app.id, hours.id);
    const after = await svix.message.get(app.id, hours.id);
    expect(after.payload).toBeNull();
    expect(after.eventType).toBe("a.b");
    expect((await svix.messageAttempt.listByMsg(app.id, hours.id)).data).toHaveLength(1);
    const resend = await fetch(
      `http://127.0.0.1:${port}/api/v1/app/${app.id}/msg/${hours.id}/endpoint/${endpoint.id}/resend`,
      { method: "POST", headers: { authorization: `Bearer ${harness.adminToken}` } },
    );
    expect(resend.status).toBe(409);
    expect(((await resend.json()) as { detail: string }).detail).toContain("expunged");
    expect(receiver.requests).toHaveLength(2);

    const missing = await fetch(`http://127.0.0.1:${port}/api/v1/app/${app.id}/msg/msg_missing/content`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${harness.adminToken}` },
    });
    expect(missing.status).toBe(404);
  });

  it("answers 409 to an erasure while a delivery is still being retried, and stores nothing new", async () => {
    receiver = await startServer(() => ({ status: 500, body: "down" }));
    harness = await startHarness({ engine: { retrySchedule: [0, DAY_MS] } });
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const appId = await harness.createApp();
    await harness.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: receiver.url } });
    await harness.hl.start();
    const message = (
      await harness.call("POST", `/api/v1/app/${appId}/msg`, {
        body: { eventType: "a.b", payload: { keep: true } },
      })
    ).json() as { id: string };
    await until(() => receiver?.requests.length === 1);
    const answer = await fetch(`http://127.0.0.1:${port}/api/v1/app/${appId}/msg/${message.id}/content`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${harness.adminToken}` },
    });
    expect(answer.status).toBe(409);
    expect((await harness.hl.messages.get(message.id)).body).toContain("keep");
  });
});

describe("retention in hookline serve and the CLI", () => {
  it("purges at start by --retention-days/--history-days, and `messages expunge` erases one message", async () => {
    await ensureBuilt();
    const dir = tempDir("hookline-retention-cli");
    const db = join(dir, "hookline.db");
    // Messages sent 100, 40 and 1 day ago, all delivered, written by the library with a clock set back.
    const clock = new FakeClock(Date.now() - 100 * DAY_MS);
    const key = "hookline-retention-test-admin-token";
    // serve creates the key file and registers the admin token; the library then writes old messages.
    const first = await startServe(["--db", db, "--admin-token", key]);
    await first.proc.stop("SIGTERM");
    const seed = await createHookline({
      store: sqliteStore({ path: db, encryptionKeyFile: `${db}.key` }),
      clock,
      transport: new HTTPWebhookTransport(),
    });
    const appId = (await seed.apps.create({ name: "acme" })).id;
    await seed.endpoints.create({ appId, url: "https://example.com/hook" });
    const ids: string[] = [];
    for (const ageDays of [100, 40, 1]) {
      clock.nowMs = Date.now() - ageDays * DAY_MS;
      ids.push((await seed.send({ appId, eventType: "a.b", payload: { ageDays }, bodyFormat: "payload" })).messageId);
      await drain(seed);
    }
    await seed.close();

    const serve = await startServe(["--db", db, "--admin-token", key]);
    const get = (id: string) =>
      fetch(`${serve.url}/api/v1/app/${appId}/msg/${id}`, { headers: { authorization: `Bearer ${key}` } });
    await until(async () => (await get(must(ids[0]))).status === 404);
    await until(async () => ((await (await get(must(ids[1]))).json()) as { payload: unknown }).payload === null);
    expect(((await (await get(must(ids[2]))).json()) as { payload: unknown }).payload).toEqual({ ageDays: 1 });
    // The workers' process purges; the service's process logs it.
    await until(() => serve.proc.stdout().includes("retention: expunged payloads and deleted history"));

    const env = { HOOKLINE_URL: serve.url, HOOKLINE_TOKEN: key };
    const expunged = await runCli(["messages", "expunge", must(ids[2]), "--app", appId], { env });
    expect(expunged.stderr).toBe("");
    expect(expunged.stdout).toContain(`expunged the payload of ${ids[2]}`);
    const shown = await runCli(["messages", "get", must(ids[2]), "--app", appId], { env });
    expect(shown.stdout).toContain("(payload expunged)");
  });
});

function must<T>(value: T | undefined | null): T {
  if (value === undefined || value === null) throw new Error("expected a value");
  return value;
}

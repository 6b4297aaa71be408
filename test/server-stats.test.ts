/** The dashboard's statistics routes: attempts per hour and endpoint health, over real deliveries. */
import { afterEach, describe, expect, test } from "vitest";
import { type ServerHarness, startHarness, until } from "./server-harness.js";
import { FakeClock } from "./support/fake-clock.js";
import { startServer, type TestServer } from "./support/http-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ h: ServerHarness; ok: TestServer; failing: TestServer }> {
  const h = await startHarness({ store: "sqlite", engine: { allowPrivateNetworks: true, retrySchedule: [0] } });
  cleanups.push(() => h.close());
  const ok = await startServer();
  const failing = await startServer(() => ({ status: 500, body: "no" }));
  cleanups.push(
    () => ok.close(),
    () => failing.close(),
  );
  await h.hl.start();
  return { h, ok, failing };
}

describe("statistics", () => {
  test("hourly buckets and endpoint health count the app's attempts of the last 24 hours", async () => {
    const { h, ok, failing } = await setup();
    const appId = await h.createApp("Stats");
    const good = (await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: ok.url } })).json();
    const bad = (await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: failing.url } })).json();
    for (let i = 0; i < 3; i++) {
      await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "a.b", payload: { i } } });
    }
    await until(async () => (await h.hl.attempts.list({ appId, limit: 10 })).data.length === 6);

    const hourly = await h.call("GET", `/api/v1/app/${appId}/stats/hourly`);
    expect(hourly.statusCode).toBe(200);
    const buckets = hourly.json() as {
      data: { start: string; succeeded: number; failed: number }[];
      truncated: boolean;
    };
    // 24 hours from a moment that is not on the hour start in 25 hourly buckets (24 when it is).
    expect([24, 25]).toContain(buckets.data.length);
    expect(buckets.truncated).toBe(false);
    expect(buckets.data.reduce((n, b) => n + b.succeeded, 0)).toBe(3);
    expect(buckets.data.reduce((n, b) => n + b.failed, 0)).toBe(3);
    const starts = buckets.data.map((b) => Date.parse(b.start));
    expect(starts.every((t, i) => t % 3_600_000 === 0 && (i === 0 || t - (starts[i - 1] ?? 0) === 3_600_000))).toBe(
      true,
    );

    const health = (await h.call("GET", `/api/v1/app/${appId}/stats/endpoint-health`)).json() as {
      data: { endpointId: string; attempts: number; succeeded: number; successRate: number; lastStatusCode: number }[];
    };
    const byId = new Map(health.data.map((row) => [row.endpointId, row]));
    expect(byId.get(good.id)).toMatchObject({ attempts: 3, succeeded: 3, successRate: 1, lastStatusCode: 200 });
    expect(byId.get(bad.id)).toMatchObject({ attempts: 3, succeeded: 0, successRate: 0, lastStatusCode: 500 });

    // A window that ends before the attempts: nothing in it.
    const past = new Date(Date.now() - 7_200_000).toISOString();
    const empty = (await h.call("GET", `/api/v1/app/${appId}/stats/endpoint-health?until=${past}`)).json();
    expect(empty.data).toEqual([]);
  });

  test("another app's key cannot read an app's statistics", async () => {
    const { h } = await setup();
    const mine = await h.createApp("Mine");
    const other = await h.createApp("Other");
    const token = await h.appToken(other);
    for (const path of ["hourly", "endpoint-health"]) {
      expect((await h.call("GET", `/api/v1/app/${mine}/stats/${path}`, { token })).statusCode).toBe(403);
    }
  });
});

describe("endpoint stats over a time window", () => {
  test("since/until count only the deliveries of messages sent in [since, until)", async () => {
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    const h = await startHarness({ engine: { clock } });
    cleanups.push(() => h.close());
    const appId = await h.createApp("Window");
    const endpoint = (
      await h.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: "https://example.com/hook" } })
    ).json() as { id: string };
    for (const day of [1, 2, 3]) {
      clock.nowMs = Date.UTC(2026, 5, day, 12);
      await h.call("POST", `/api/v1/app/${appId}/msg`, { body: { eventType: "a.b", payload: { day } } });
    }
    const stats = async (query: string) =>
      (await h.call("GET", `/api/v1/app/${appId}/endpoint/${endpoint.id}/stats${query}`)).json() as {
        pending: number;
      };
    expect((await stats("")).pending).toBe(3);
    expect((await stats("?since=2026-06-02T00:00:00Z")).pending).toBe(2);
    expect((await stats("?since=2026-06-02T00:00:00Z&until=2026-06-03T00:00:00Z")).pending).toBe(1);
    expect((await stats("?until=2026-06-01T12:00:00Z")).pending).toBe(0);
  });
});

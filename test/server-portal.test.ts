/** app-portal-access and endpoints by uid, through the official svix client against a listening hookline. */
import type { AddressInfo } from "node:net";
import { Svix } from "svix";
import { afterEach, describe, expect, test } from "vitest";
import { type Clock, systemClock } from "../src/core/clock.js";
import { type ServerHarness, startHarness } from "./server-harness.js";

let h: ServerHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function live(clock: Clock = systemClock): Promise<{ url: string; svix: Svix }> {
  h = await startHarness({ store: "memory", engine: { clock } });
  await h.server.listen({ host: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(h.server.server.address() as AddressInfo).port}`;
  return { url, svix: new Svix(h.adminToken, { serverUrl: url }) };
}

describe("app-portal-access", () => {
  test("returns an absolute portal link with an app-scoped key in its fragment", async () => {
    const { url, svix } = await live();
    const mine = await svix.application.create({ name: "Mine" });
    const theirs = await svix.application.create({ name: "Theirs" });
    const access = await svix.authentication.appPortalAccess(mine.id, {});
    const link = new URL(access.url);
    expect(link.origin).toBe(url);
    expect(link.pathname).toBe("/ui/portal");
    expect(link.search).toBe("");
    const fragment = new URLSearchParams(link.hash.slice(1));
    expect(fragment.get("key")).toBe(access.token);
    expect(fragment.get("app")).toBe(mine.id);

    const scoped = new Svix(access.token, { serverUrl: url });
    expect((await scoped.application.get(mine.id)).id).toBe(mine.id);
    await scoped.endpoint.create(mine.id, { url: "https://example.com/hook" });
    await expect(scoped.application.get(theirs.id)).rejects.toMatchObject({ code: 403 });
    await expect(scoped.application.list()).rejects.toMatchObject({ code: 403 });
    // An app key cannot mint portal links.
    await expect(scoped.authentication.appPortalAccess(mine.id, {})).rejects.toMatchObject({ code: 403 });
  });

  test("readOnly keys may read and may not write", async () => {
    const { url, svix } = await live();
    const app = await svix.application.create({ name: "Mine" });
    const access = await svix.authentication.appPortalAccess(app.id, { readOnly: true });
    expect(new URLSearchParams(new URL(access.url).hash.slice(1)).get("readOnly")).toBe("true");
    const scoped = new Svix(access.token, { serverUrl: url });
    expect((await scoped.endpoint.list(app.id)).data).toEqual([]);
    await expect(scoped.endpoint.create(app.id, { url: "https://example.com/hook" })).rejects.toMatchObject({
      code: 403,
    });
  });

  test("keys expire after `expiry` seconds of the service's clock, then answer 401 token_expired", async () => {
    let offsetMs = 0;
    const clock: Clock = { now: () => Date.now() + offsetMs, sleep: systemClock.sleep };
    const { url, svix } = await live(clock);
    const app = await svix.application.create({ name: "Mine" });
    const access = await svix.authentication.appPortalAccess(app.id, { expiry: 60 });
    const get = () => fetch(`${url}/api/v1/app/${app.id}`, { headers: { authorization: `Bearer ${access.token}` } });
    offsetMs = 59_000;
    expect((await get()).status).toBe(200);
    offsetMs = 60_001;
    const response = await get();
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: "token_expired" });
  });

  test("without expiry a link lasts 7 days", async () => {
    let offsetMs = 0;
    const clock: Clock = { now: () => Date.now() + offsetMs, sleep: systemClock.sleep };
    const { url, svix } = await live(clock);
    const app = await svix.application.create({ name: "Mine" });
    const access = await svix.authentication.appPortalAccess(app.id, {});
    const get = () => fetch(`${url}/api/v1/app/${app.id}`, { headers: { authorization: `Bearer ${access.token}` } });
    offsetMs = 7 * 86_400_000 - 1000;
    expect((await get()).status).toBe(200);
    offsetMs = 7 * 86_400_000 + 1;
    expect((await get()).status).toBe(401);
  });
});

describe("endpoints by uid", () => {
  test("an endpoint's uid works wherever its id does, within its app only", async () => {
    const { svix } = await live();
    const a = await svix.application.create({ name: "A" });
    const b = await svix.application.create({ name: "B" });
    const endpoint = await svix.endpoint.create(a.id, { url: "https://example.com/a", uid: "primary" });
    expect((await svix.endpoint.get(a.id, "primary")).id).toBe(endpoint.id);
    await svix.endpoint.patch(a.id, "primary", { description: "by uid" });
    expect((await svix.endpoint.get(a.id, endpoint.id)).description).toBe("by uid");
    await expect(svix.endpoint.get(b.id, "primary")).rejects.toMatchObject({ code: 404 });
  });
});

import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { SOURCE_PROVIDERS } from "../src/delivery/sources.js";
import { createHookline } from "../src/index.js";
import { inboundEventType } from "../src/receive/inbound.js";
import { WEBHOOK_PROVIDERS } from "../src/receive/verify.js";
import { sqliteStore } from "../src/sqlite.js";
import { cliJson, ensureBuilt, tempDir } from "./cli-support.js";
import { type ServerHarness, startHarness, until } from "./server-harness.js";
import { startServer, type TestServer } from "./support/http-server.js";

let harness: ServerHarness | null = null;
let receiver: TestServer | null = null;

afterEach(async () => {
  await harness?.close();
  harness = null;
  await receiver?.close();
  receiver = null;
});

/** A service on a real socket with an app whose one endpoint is a real receiver. */
async function service(): Promise<{ base: string; appId: string; auth: Record<string, string>; h: ServerHarness }> {
  receiver = await startServer();
  harness = await startHarness({ store: "sqlite" });
  await harness.server.listen({ host: "127.0.0.1", port: 0 });
  const { port } = harness.server.server.address() as AddressInfo;
  const appId = await harness.createApp("acme");
  await harness.call("POST", `/api/v1/app/${appId}/endpoint`, { body: { url: receiver.url } });
  await harness.hl.start();
  return {
    base: `http://127.0.0.1:${port}`,
    appId,
    auth: { authorization: `Bearer ${harness.adminToken}`, "content-type": "application/json" },
    h: harness,
  };
}

/** GitHub's scheme, computed here with node:crypto. */
function githubHeaders(secret: string, body: string, deliveryId: string, event = "push"): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": deliveryId,
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  };
}

async function messageCount(h: ServerHarness, appId: string): Promise<number> {
  return (await h.hl.messages.list({ appId, limit: 250 })).data.length;
}

describe("inbound sources", () => {
  it("turns a verified GitHub delivery into a message of the app, once, and refuses a bad signature with 401", async () => {
    const { base, appId, auth, h } = await service();
    const secret = randomBytes(16).toString("hex");
    const created = await fetch(`${base}/api/v1/app/${appId}/source`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ provider: "github", secret, name: "repo hooks" }),
    });
    expect(created.status).toBe(201);
    const source = (await created.json()) as { id: string; url: string; provider: string; secret?: string };
    expect(source).toMatchObject({ provider: "github", url: `${base}/in/${source.id}` });
    expect(JSON.stringify(source)).not.toContain(secret);

    const body = JSON.stringify({ ref: "refs/heads/main", commits: [{ id: "abc" }] });
    const deliveryId = randomUUID();
    const accepted = await fetch(source.url, {
      method: "POST",
      headers: githubHeaders(secret, body, deliveryId),
      body,
    });
    expect(accepted.status).toBe(202);
    const first = (await accepted.json()) as { id: string; eventType: string };
    expect(first.eventType).toBe("github.push");
    await until(() => receiver?.requests.length === 1);
    expect(JSON.parse(receiver?.requests[0]?.body ?? "")).toEqual(JSON.parse(body));
    expect(receiver?.requests[0]?.headers["webhook-id"]).toBe(first.id);

    // GitHub redelivers the same delivery id: the same message, nothing new sent.
    const again = await fetch(source.url, { method: "POST", headers: githubHeaders(secret, body, deliveryId), body });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(first.id);

    const before = await messageCount(h, appId);
    const forged = await fetch(source.url, {
      method: "POST",
      headers: githubHeaders("not-the-secret", body, randomUUID()),
      body,
    });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { code: string }).code).toBe("verification_failed");
    const unsigned = await fetch(source.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(unsigned.status).toBe(401);
    const tampered = await fetch(source.url, {
      method: "POST",
      headers: githubHeaders(secret, body, randomUUID()),
      body: body.replace("main", "evil"),
    });
    expect(tampered.status).toBe(401);
    expect(await messageCount(h, appId)).toBe(before);

    const unknown = await fetch(`${base}/in/src_unknown`, {
      method: "POST",
      headers: githubHeaders(secret, body, "x"),
      body,
    });
    expect(unknown.status).toBe(404);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/hookline_inbound_requests_total\{result="accepted",provider="github"\} 1/);
    expect(metrics).toMatch(/hookline_inbound_requests_total\{result="duplicate",provider="github"\} 1/);
    expect(metrics).toMatch(/hookline_inbound_requests_total\{result="rejected",provider=""\} 3/);
    expect(metrics).toMatch(/hookline_inbound_requests_total\{result="unknown_source",provider=""\} 1/);
    expect(receiver?.requests).toHaveLength(1);
  });

  it("verifies Stripe with the header Stripe's own library makes, and names the event stripe.<type>", async () => {
    const { base, appId, auth } = await service();
    const secret = `whsec_${randomBytes(16).toString("hex")}`;
    const source = (await (
      await fetch(`${base}/api/v1/app/${appId}/source`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ provider: "stripe", secret }),
      })
    ).json()) as { url: string };
    const payload = JSON.stringify({
      id: "evt_1",
      object: "event",
      type: "invoice.paid",
      data: { object: { id: "in_1" } },
    });
    const header = new Stripe("sk_test_unused").webhooks.generateTestHeaderString({ payload, secret });
    const answer = await fetch(source.url, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": header },
      body: payload,
    });
    expect(answer.status).toBe(202);
    expect(((await answer.json()) as { eventType: string }).eventType).toBe("stripe.invoice.paid");
    await until(() => receiver?.requests.length === 1);
    const stale = new Stripe("sk_test_unused").webhooks.generateTestHeaderString({
      payload,
      secret,
      timestamp: Math.floor(Date.now() / 1000) - 3_600,
    });
    const old = await fetch(source.url, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": stale },
      body: payload,
    });
    expect(old.status).toBe(401);
  });

  it("lists, gets, rotates and deletes sources; another app's key sees none of them; too large a body is 413", async () => {
    const { base, appId, auth, h } = await service();
    const secret = "first-secret";
    const source = (await (
      await fetch(`${base}/api/v1/app/${appId}/source`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ provider: "gitlab", secret }),
      })
    ).json()) as { id: string; url: string };
    const list = (await (await fetch(`${base}/api/v1/app/${appId}/source`, { headers: auth })).json()) as {
      data: Array<{ id: string }>;
    };
    expect(list.data.map((s) => s.id)).toEqual([source.id]);
    // Paging as every list pages: newest first, iterator onward, order=ascending oldest first.
    const more = [];
    for (const provider of ["github", "slack"]) {
      const created = await fetch(`${base}/api/v1/app/${appId}/source`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ provider, secret: "s" }),
      });
      more.push(((await created.json()) as { id: string }).id);
    }
    const page = async (query: string) =>
      (await (await fetch(`${base}/api/v1/app/${appId}/source?${query}`, { headers: auth })).json()) as {
        data: Array<{ id: string }>;
        iterator: string | null;
      };
    const all = [source.id, ...more];
    const first = await page("limit=2");
    expect(first.data.map((s) => s.id)).toEqual([...all].reverse().slice(0, 2));
    expect((await page(`limit=2&iterator=${first.iterator}`)).data.map((s) => s.id)).toEqual([source.id]);
    expect((await page("order=ascending")).data.map((s) => s.id)).toEqual(all);
    for (const id of more) await fetch(`${base}/api/v1/app/${appId}/source/${id}`, { method: "DELETE", headers: auth });
    const otherApp = await h.createApp("other");
    const otherToken = await h.appToken(otherApp);
    const foreign = await fetch(`${base}/api/v1/app/${otherApp}/source/${source.id}`, {
      headers: { authorization: `Bearer ${otherToken}` },
    });
    expect(foreign.status).toBe(404);

    // GitLab sends no delivery id here: a body seen before is a redelivery (200), so each send differs.
    let sends = 0;
    const send = (token: string) =>
      fetch(source.url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-gitlab-token": token, "x-gitlab-event": "Push Hook" },
        body: JSON.stringify({ object_kind: "push", n: ++sends }),
      });
    expect((await send(secret)).status).toBe(202);
    const rotated = await fetch(`${base}/api/v1/app/${appId}/source/${source.id}/secret/rotate`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ secret: "second-secret" }),
    });
    expect(rotated.status).toBe(204);
    expect((await send(secret)).status).toBe(401);
    const accepted = await send("second-secret");
    expect(accepted.status).toBe(202);
    expect(((await accepted.json()) as { eventType: string }).eventType).toBe("gitlab.Push.Hook");

    const huge = await fetch(source.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gitlab-token": "second-secret" },
      body: "x".repeat(2 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);

    expect(
      (await fetch(`${base}/api/v1/app/${appId}/source/${source.id}`, { method: "DELETE", headers: auth })).status,
    ).toBe(204);
    expect((await send("second-secret")).status).toBe(404);
  });

  it("`hookline sources add` prints the URL to give the provider", async () => {
    await ensureBuilt();
    const { base, appId } = await service();
    const added = await cliJson<{ id: string; url: string; provider: string }>(
      { url: base, token: (harness as ServerHarness).adminToken },
      ["sources", "add", "--app", appId, "--provider", "shopify", "--secret", "shpss_test"],
    );
    expect(added).toMatchObject({ provider: "shopify", url: `${base}/in/${added.id}` });
    const listed = await cliJson<{ data: Array<{ id: string }> }>(
      { url: base, token: (harness as ServerHarness).adminToken },
      ["sources", "list", "--app", appId],
    );
    expect(listed.data.map((s) => s.id)).toEqual([added.id]);
  });

  it("keeps a source's secret encrypted at rest, and a key rotation re-encrypts it", async () => {
    const path = join(tempDir("hookline-sources"), "hookline.db");
    const keyA = randomBytes(32).toString("base64");
    const keyB = randomBytes(32).toString("base64");
    const hl = await createHookline({ store: sqliteStore({ path, encryptionKey: keyA }) });
    const app = await hl.apps.create({ name: "acme" });
    const secret = `gh-${randomBytes(12).toString("hex")}`;
    const source = await hl.sources.create({ appId: app.id, provider: "github", secret });
    await hl.close();
    expect(readFileSync(path).includes(secret)).toBe(false);
    const rotating = sqliteStore({ path, encryptionKey: [keyB, keyA] });
    await rotating.migrate();
    expect(await rotating.reencryptSecrets()).toBe(1);
    await rotating.close();
    const after = await createHookline({ store: sqliteStore({ path, encryptionKey: keyB }) });
    expect((await after.sources.get(source.id)).secrets).toEqual([secret]);
    await after.close();
  });

  it("names providers as hookline/receive does, and turns provider types into event type names", () => {
    expect([...SOURCE_PROVIDERS].sort()).toEqual([...WEBHOOK_PROVIDERS].sort());
    expect(inboundEventType("shopify", "orders/create")).toBe("shopify.orders.create");
    expect(inboundEventType("github", null)).toBe("github.event");
    expect(inboundEventType("slack", "app mention!")).toBe("slack.app.mention");
  });
});

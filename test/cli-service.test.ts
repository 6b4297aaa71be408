/**
 * The client commands of the built `hookline` binary against `hookline serve`
 * running as a child process on a temporary SQLite database, with
 * `hookline listen` as the receiver. Signatures the receiver gets are checked
 * again here with node:crypto.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  type CliProcess,
  cliJson,
  ensureBuilt,
  killAll,
  newSecret,
  runCli,
  type ServeProcess,
  signV1,
  startCli,
  startServe,
  tempDir,
} from "./cli-support.js";

interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  signature: string;
  status: number;
}

interface Page<T> {
  data: T[];
  iterator: string | null;
  done: boolean;
}

type Json = Record<string, unknown>;

let dir: string;
let serve: ServeProcess;
let service: { url: string; token: string };
let receiver: CliProcess;
let receiverUrl: string;
let failing: CliProcess;
let failingUrl: string;
const secret = newSecret();

/** The webhooks `hookline listen --json` printed so far. */
const receivedBy = (listener: CliProcess): Received[] =>
  listener
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Received);

async function waitUntil<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs a `--json` client command until `accept` holds for its output (the worker records attempts a moment after they arrive). */
async function pollJson<T>(args: string[], accept: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await cliJson<T>(service, args);
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting on hookline ${args.join(" ")}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cli = (args: string[], token = service.token) =>
  runCli(args, { env: { HOOKLINE_URL: service.url, HOOKLINE_TOKEN: token } });

beforeAll(async () => {
  await ensureBuilt();
  dir = tempDir("hookline-cli-service");
  // One attempt per delivery: a failure is final at once, so recover has something to do.
  serve = await startServe(["--db", join(dir, "hookline.db"), "--retry-schedule", "0"], { persistent: true });
  expect(serve.adminToken).toMatch(/^hl_/);
  service = { url: serve.url, token: serve.adminToken ?? "" };
  receiver = startCli(["listen", "--port", "0", "--secret", secret, "--json"], {}, { persistent: true });
  receiverUrl = `${(await receiver.waitFor(/listening on (http:\/\/\S+)/))[1]}/hooks`;
  failing = startCli(["listen", "--port", "0", "--status", "500", "--json"], {}, { persistent: true });
  failingUrl = `${(await failing.waitFor(/listening on (http:\/\/\S+)/))[1]}/fail`;
}, 120_000);
afterEach(() => killAll());
afterAll(() => killAll({ all: true }));

describe("against hookline serve", () => {
  let appId: string;
  let endpointId: string;
  let messageId: string;

  test("apps create, list and get", async () => {
    const app = await cliJson<Json>(service, ["apps", "create", "Shop", "--uid", "shop"]);
    expect(app).toMatchObject({ name: "Shop", uid: "shop" });
    expect(app.id).toMatch(/^app_/);
    appId = app.id as string;
    const list = await cliJson<Page<Json>>(service, ["apps"]);
    expect(list.data.map((a) => a.id)).toContain(appId);
    expect(list.done).toBe(true);
    expect((await cliJson<Json>(service, ["apps", "get", "shop"])).id).toBe(appId);

    const table = await cli(["apps", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+UID\s+NAME\s+CREATED\n/);
    expect(table.stdout).toMatch(new RegExp(`${appId}\\s+shop\\s+Shop`));
  });

  test("endpoints add (with a secret and event types) and list", async () => {
    const endpoint = await cliJson<Json>(service, [
      "endpoints",
      "add",
      receiverUrl,
      "--app",
      "shop",
      "--secret",
      secret,
      "--event-types",
      "invoice.paid,invoice.failed",
      "--description",
      "the test receiver",
    ]);
    expect(endpoint).toMatchObject({ url: receiverUrl, filterTypes: ["invoice.paid", "invoice.failed"], secret });
    endpointId = endpoint.id as string;
    const list = await cliJson<Page<Json>>(service, ["endpoints", "list", "--app", appId]);
    expect(list.data.map((e) => e.id)).toEqual([endpointId]);
    const table = await cli(["endpoints", "--app", "shop"]);
    expect(table.stdout).toMatch(
      new RegExp(`${endpointId}\\s+${receiverUrl}\\s+invoice.paid,invoice.failed\\s+enabled`),
    );
  });

  test("send delivers a signed webhook that verifies independently", async () => {
    const message = await cliJson<Json>(service, [
      "send",
      "invoice.paid",
      "--app",
      "shop",
      "--data",
      '{"id":"in_1","amount":4200}',
      "--event-id",
      "in_1:paid",
    ]);
    expect(message).toMatchObject({ eventType: "invoice.paid", eventId: "in_1:paid" });
    messageId = message.id as string;
    const webhook = await waitUntil("the webhook", () =>
      receivedBy(receiver).find((r) => r.headers["webhook-id"] === messageId),
    );
    expect(webhook).toMatchObject({ method: "POST", path: "/hooks", signature: "valid", status: 200 });
    expect(JSON.parse(webhook.body)).toEqual({ id: "in_1", amount: 4200 });
    const ts = Number(webhook.headers["webhook-timestamp"]);
    const expected = signV1(secret, messageId, ts, webhook.body);
    expect(webhook.headers["webhook-signature"]?.split(" ")).toContain(expected);
    expect(webhook.headers["svix-signature"]).toBe(webhook.headers["webhook-signature"]);

    // The same event id again is the same message, and nothing more is sent.
    const again = await cliJson<Json>(service, [
      "send",
      "invoice.paid",
      "--app",
      "shop",
      "--data",
      "{}",
      "--event-id",
      "in_1:paid",
    ]);
    expect(again.id).toBe(messageId);
  });

  test("messages list and get", async () => {
    const list = await cliJson<Page<Json>>(service, ["messages", "list", "--app", "shop"]);
    expect(list.data.map((m) => m.id)).toContain(messageId);
    const message = await cliJson<Json>(service, ["messages", "get", messageId, "--app", "shop"]);
    expect(message.payload).toEqual({ id: "in_1", amount: 4200 });
    const table = await cli(["messages", "get", messageId, "--app", "shop"]);
    expect(table.stdout).toMatch(/event type:\s+invoice\.paid/);
    expect(table.stdout).toContain('"amount": 4200');
  });

  test("attempts list: of the app, of a message, of an endpoint", async () => {
    const all = await pollJson<Page<Json>>(["attempts", "list", "--app", "shop"], (page) =>
      page.data.some((a) => a.msgId === messageId),
    );
    const attempt = all.data.find((a) => a.msgId === messageId);
    expect(attempt).toMatchObject({ endpointId, status: 0, statusText: "success", responseStatusCode: 200 });
    const byMsg = await cliJson<Page<Json>>(service, ["attempts", "--app", "shop", "--msg", messageId]);
    expect(byMsg.data.map((a) => a.id)).toEqual([attempt?.id]);
    const byEndpoint = await cliJson<Page<Json>>(service, [
      "attempts",
      "list",
      "--app",
      "shop",
      "--endpoint",
      endpointId,
    ]);
    expect(byEndpoint.data.map((a) => a.id)).toContain(attempt?.id);
    const both = await cliJson<Page<Json>>(service, [
      "attempts",
      "--app",
      "shop",
      "--msg",
      messageId,
      "--endpoint",
      endpointId,
    ]);
    expect(both.data).toHaveLength(1);
    const table = await cli(["attempts", "--app", "shop", "--msg", messageId]);
    expect(table.stdout).toMatch(/TIMESTAMP\s+ID\s+MESSAGE\s+ENDPOINT\s+STATUS\s+CODE\s+MS\s+TRIGGER/);
    expect(table.stdout).toMatch(/success\s+200\s+\d+\s+scheduled/);
  });

  test("resend makes a manual attempt that arrives again", async () => {
    const before = receivedBy(receiver).filter((r) => r.headers["webhook-id"] === messageId).length;
    const result = await cli(["resend", messageId, endpointId, "--app", "shop"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`resending ${messageId} to ${endpointId}`);
    await waitUntil(
      "the resent webhook",
      () => receivedBy(receiver).filter((r) => r.headers["webhook-id"] === messageId).length > before,
    );
    const attempts = await pollJson<Page<Json>>(
      ["attempts", "--app", "shop", "--msg", messageId],
      (page) => page.data.length >= 2,
    );
    expect(attempts.data.map((a) => a.triggerType).sort()).toEqual([0, 1]);
  });

  test("rotate: the new secret signs, the old one too during the grace period", async () => {
    const rotated = await cliJson<Json>(service, [
      "endpoints",
      "rotate",
      endpointId,
      "--app",
      "shop",
      "--grace-period",
      "600",
    ]);
    const newKey = rotated.key as string;
    expect(newKey).toMatch(/^whsec_/);
    expect(newKey).not.toBe(secret);
    expect((await cliJson<Json>(service, ["endpoints", "secret", endpointId, "--app", "shop"])).key).toBe(newKey);
    const message = await cliJson<Json>(service, ["send", "invoice.failed", "--app", "shop", "--data", '{"n":2}']);
    const webhook = await waitUntil("the webhook after rotation", () =>
      receivedBy(receiver).find((r) => r.headers["webhook-id"] === message.id),
    );
    const ts = Number(webhook.headers["webhook-timestamp"]);
    const entries = webhook.headers["webhook-signature"]?.split(" ");
    expect(entries).toContain(signV1(newKey, message.id as string, ts, webhook.body));
    expect(entries).toContain(signV1(secret, message.id as string, ts, webhook.body));
    expect(webhook.signature).toBe("valid");
  });

  test("recover re-sends what failed since a date", async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const endpoint = await cliJson<Json>(service, [
      "endpoints",
      "add",
      failingUrl,
      "--app",
      "shop",
      "--event-types",
      "order.created",
    ]);
    const message = await cliJson<Json>(service, ["send", "order.created", "--app", "shop", "--data", '{"order":1}']);
    await waitUntil("the failed attempt", () =>
      receivedBy(failing).some((r) => r.headers["webhook-id"] === message.id),
    );
    await pollJson<Page<Json>>(["attempts", "--app", "shop", "--msg", message.id as string], (page) =>
      page.data.some((a) => a.statusText === "fail"),
    );
    const result = await cli(["endpoints", "recover", endpoint.id as string, "--app", "shop", "--since", since]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`recovery of ${endpoint.id} finished: 1 delivery re-queued`);
    await waitUntil(
      "the recovered delivery",
      () => receivedBy(failing).filter((r) => r.headers["webhook-id"] === message.id).length >= 2,
    );
    const rm = await cli(["endpoints", "rm", endpoint.id as string, "--app", "shop"]);
    expect(rm.code).toBe(0);
    const list = await cliJson<Page<Json>>(service, ["endpoints", "--app", "shop"]);
    expect(list.data.map((e) => e.id)).toEqual([endpointId]);
  });

  test("tail follows new attempts until SIGINT", async () => {
    const tail = startCli(["tail", "--app", "shop", "--json", "--lines", "0", "--interval", "100"], {
      HOOKLINE_URL: service.url,
      HOOKLINE_TOKEN: service.token,
    });
    // Give the first poll time to mark what exists as seen.
    await new Promise((r) => setTimeout(r, 500));
    const message = await cliJson<Json>(service, ["send", "invoice.paid", "--app", "shop", "--data", '{"tail":true}']);
    await tail.waitFor(new RegExp(`"msgId":"${message.id}"`), 10_000, "stdout");
    const lines = tail
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msgId: message.id, statusText: "success" });
    expect((await tail.stop("SIGINT")).code).toBe(0);

    const history = startCli(["tail", "--app", "shop", "--lines", "2"], {
      HOOKLINE_URL: service.url,
      HOOKLINE_TOKEN: service.token,
    });
    await history.waitFor(
      new RegExp(`success\\s+200\\s+\\d+ms\\s+${message.id}\\s+->\\s+${endpointId}`),
      10_000,
      "stdout",
    );
    expect((await history.stop("SIGINT")).code).toBe(0);
    expect(history.stdout().trim().split("\n")).toHaveLength(2);
  });

  test("keys create: an app key sees its app and nothing else", async () => {
    const other = await cliJson<Json>(service, ["apps", "create", "Other"]);
    const key = await cliJson<Json>(service, ["keys", "create", "--app", "shop"]);
    expect(key).toMatchObject({ appId });
    expect(key.token).toMatch(/^hl_/);
    const own = await cli(["messages", "--app", appId, "--json"], key.token as string);
    expect(own.code, own.stderr).toBe(0);
    const foreign = await cli(["messages", "--app", other.id as string], key.token as string);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/^\w+: /);
    const keyForKey = await cli(["keys", "create", "--app", appId], key.token as string);
    expect(keyForKey.code).toBe(1);
  });

  test("API errors exit 1 with code: detail", async () => {
    const missing = await cli(["apps", "get", "app_nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^not_found: /);
    const badToken = await cli(["apps"], "hl_not_a_key");
    expect(badToken.code).toBe(1);
    expect(badToken.stderr.trim()).toMatch(/^\w+: /);
    const badUrl = await cli(["endpoints", "add", "ftp://example.com", "--app", "shop"]);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/url/i);
  });

  test("endpoints add --filter stores a payload filter; a bad operator exits 1 naming it", async () => {
    const filter = { amount: { $gte: 100 }, "customer.country": { $in: ["DE", "FR"] } };
    const added = await cliJson(service, [
      "endpoints",
      "add",
      `${receiverUrl}/filtered`,
      "--app",
      "shop",
      "--filter",
      JSON.stringify(filter),
    ]);
    expect(added.filter).toEqual(filter);
    const shown = await cliJson(service, ["endpoints", "get", String(added.id), "--app", "shop"]);
    expect(shown.filter).toEqual(filter);
    const bad = await cli([
      "endpoints",
      "add",
      `${receiverUrl}/bad`,
      "--app",
      "shop",
      "--filter",
      '{"amount":{"$between":[1,2]}}',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/validation_error: .*filter at amount\.\$between has an unknown operator "\$between"/);
    const notJson = await cli(["endpoints", "add", `${receiverUrl}/bad`, "--app", "shop", "--filter", "{amount"]);
    expect(notJson.code).not.toBe(0);
    expect(notJson.stderr).toMatch(/Not valid JSON/);
    expect((await cli(["endpoints", "rm", String(added.id), "--app", "shop"])).code).toBe(0);
  });

  test("the service's logs hold no API key and no endpoint secret", () => {
    const logs = `${serve.proc.stdout()}\n${serve.proc.stderr()}`;
    const token = service.token;
    // The one plain-text line that shows the admin key on first start, and nothing else.
    expect(logs.split(token).length - 1).toBe(1);
    expect(logs).toMatch(new RegExp(`^admin API key: ${token}$`, "m"));
    expect(logs).not.toContain(secret.slice(6));
    for (const line of logs.split("\n").filter((l) => l.startsWith("{"))) {
      expect(line).not.toContain(token);
      expect(line).not.toMatch(/whsec_|hl_[A-Za-z0-9_-]{20}/);
    }
  });
});

describe("hookline serve lifecycle", () => {
  test("SIGTERM stops gracefully; a restart keeps the admin key; --admin-token registers one", async () => {
    const db = join(tempDir("hookline-cli-serve"), "h.db");
    const first = await startServe(["--db", db]);
    expect(first.adminToken).toMatch(/^hl_/);
    const stopped = await first.proc.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    expect(first.proc.stdout()).toMatch(/"msg":"stopped"/);

    const explicit = "hl_explicit-admin-token-for-tests";
    const second = await startServe(["--db", db], { env: { HOOKLINE_ADMIN_TOKEN: explicit } });
    expect(second.adminToken).toBeUndefined();
    for (const token of [first.adminToken ?? "", explicit]) {
      const result = await runCli(["apps", "--json"], { env: { HOOKLINE_URL: second.url, HOOKLINE_TOKEN: token } });
      expect(result.code, result.stderr).toBe(0);
    }
    expect(second.proc.stdout()).not.toContain(explicit);
    expect((await second.proc.stop("SIGINT")).code).toBe(0);
  });

  test("--no-api runs the workers only; --no-workers the API only", async () => {
    const db = join(tempDir("hookline-cli-serve"), "h.db");
    const workers = startCli(["serve", "--db", db, "--no-api"]);
    await workers.waitFor(/delivery workers running \(no API\)/, 20_000, "stdout");
    expect(workers.stdout()).not.toContain("admin API key");
    const exit = await workers.stop("SIGTERM");
    expect(exit, `${workers.stdout()}\n${workers.stderr()}`).toEqual({ code: 0, signal: null });

    const api = await startServe(["--db", db, "--no-workers"]);
    expect(api.proc.stdout()).toMatch(/"workers":"off"/);
    const health = await runCli(["apps", "--json"], {
      env: { HOOKLINE_URL: api.url, HOOKLINE_TOKEN: api.adminToken ?? "" },
    });
    expect(health.code).toBe(0);
    expect((await api.proc.stop("SIGTERM")).code).toBe(0);
  });

  test("a port in use is a failure: exit 1 with the reason", async () => {
    const db = join(tempDir("hookline-cli-serve"), "h.db");
    const holder = await startServe(["--db", db]);
    const port = new URL(holder.url).port;
    const result = await runCli(["serve", "--db", join(tempDir("hookline-cli-serve"), "h2.db"), "--port", port]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("EADDRINUSE");
  });
});

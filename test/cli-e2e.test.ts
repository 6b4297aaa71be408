/**
 * End to end, as an operator would run it: `hookline serve` as a child process
 * on a temporary SQLite database, an endpoint pointing at `hookline listen`,
 * 1,000 messages sent over the HTTP API (keep-alive, 16 at a time), the
 * server SIGKILLed part-way and restarted on the same database — and every
 * message arrives, with a signature checked here with node:crypto.
 */
import { join } from "node:path";
import { Pool } from "undici";
import { afterEach, expect, test } from "vitest";
import {
  cliJson,
  ensureBuilt,
  freePort,
  killAll,
  newSecret,
  type ServeProcess,
  signV1,
  startCli,
  startServe,
  tempDir,
} from "./cli-support.js";

const MESSAGES = 1_000;
const KILL_AFTER_ACCEPTED = 400;
const CONCURRENCY = 16;

afterEach(() => killAll());

interface Received {
  headers: Record<string, string>;
  body: string;
  signature: string;
}

test("1,000 messages over the API survive a SIGKILL of the server: every one is delivered", async () => {
  await ensureBuilt();
  const dir = tempDir("hookline-cli-e2e");
  const db = join(dir, "hookline.db");
  const port = await freePort();
  const secret = newSecret();
  // Short leases so the killed server's claims expire quickly; retries soon after a failure.
  const serveArgs = [
    "--db",
    db,
    "--port",
    String(port),
    "--lease-ms",
    "1500",
    "--retry-schedule",
    "0,200,500,1000,2000",
  ];

  const receiver = startCli(["listen", "--port", "0", "--secret", secret, "--json"]);
  const receiverUrl = `${(await receiver.waitFor(/listening on (http:\/\/\S+)/))[1]}/e2e`;
  const received = (): Received[] =>
    receiver
      .stdout()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Received);

  let server: ServeProcess = await startServe(serveArgs);
  const token = server.adminToken ?? "";
  expect(token).toMatch(/^hl_/);
  const service = { url: server.url, token };
  const app = await cliJson<{ id: string }>(service, ["apps", "create", "e2e"]);
  await cliJson(service, ["endpoints", "add", receiverUrl, "--app", app.id, "--secret", secret]);

  // Send over keep-alive connections; a request the dying server never answered is sent again
  // with the same eventId, which returns the first message instead of creating a second one.
  const pool = new Pool(server.url, { connections: CONCURRENCY });
  const messageIds = new Map<number, string>();
  let next = 0;
  let accepted = 0;
  let retried = 0;
  let killed: Promise<void> | null = null;
  let deliveredBeforeKill = 0;
  const restart = async () => {
    deliveredBeforeKill = received().length;
    server.proc.child.kill("SIGKILL");
    await server.proc.exited;
    server = await startServe(serveArgs);
  };
  const sendOne = async (i: number) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const response = await pool.request({
          method: "POST",
          path: `/api/v1/app/${app.id}/msg`,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ eventType: "e2e.test", eventId: `evt-${i}`, payload: { i } }),
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await response.body.text();
        if (response.statusCode === 200 || response.statusCode === 202) {
          messageIds.set(i, (JSON.parse(text) as { id: string }).id);
          return;
        }
        if (response.statusCode < 500) throw new Error(`message ${i}: ${response.statusCode} ${text}`);
      } catch (error) {
        if (String(error).includes(`message ${i}:`)) throw error;
        // The server is down or restarting: try again.
      }
      retried++;
      if (Date.now() > deadline) throw new Error(`message ${i} was never accepted`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const sender = async () => {
    for (let i = next++; i < MESSAGES; i = next++) {
      await sendOne(i);
      if (++accepted === KILL_AFTER_ACCEPTED) killed = restart();
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));
    await killed;
  } finally {
    await pool.close();
  }
  expect(messageIds.size).toBe(MESSAGES);
  expect(deliveredBeforeKill).toBeLessThan(MESSAGES);
  expect(server.adminToken).toBeUndefined();

  // Every message arrives (the killed server's leases expire and the new one delivers them).
  const deadline = Date.now() + 60_000;
  const uniqueIds = () => new Set(received().map((r) => r.headers["webhook-id"]));
  while (uniqueIds().size < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

  const deliveries = received();
  const perId = new Map<string, number>();
  for (const delivery of deliveries) {
    const id = delivery.headers["webhook-id"] ?? "";
    perId.set(id, (perId.get(id) ?? 0) + 1);
    // Checked here with node:crypto, independently of the receiver's verdict.
    const ts = Number(delivery.headers["webhook-timestamp"]);
    expect(delivery.headers["webhook-signature"]?.split(" ")).toContain(signV1(secret, id, ts, delivery.body));
    expect(delivery.headers["svix-id"]).toBe(id);
    expect(delivery.signature).toBe("valid");
  }
  const expectedIds = new Set(messageIds.values());
  const missing = [...expectedIds].filter((id) => !perId.has(id));
  const unexpected = [...perId.keys()].filter((id) => !expectedIds.has(id));
  const duplicates = [...perId.values()].filter((n) => n > 1).length;
  const payloads = new Set(deliveries.map((d) => (JSON.parse(d.body) as { i: number }).i));
  console.log(
    `e2e: ${MESSAGES} messages accepted (${retried} requests retried across the kill), ` +
      `${deliveredBeforeKill} delivered before the SIGKILL, ${deliveries.length} deliveries in all, ` +
      `${perId.size} unique webhook-ids, ${duplicates} delivered more than once, ${missing.length} missing`,
  );
  expect(missing).toEqual([]);
  expect(unexpected).toEqual([]);
  expect(payloads.size).toBe(MESSAGES);
  // At least once: a redelivery happens only for attempts the killed server had in flight.
  expect(duplicates).toBeLessThanOrEqual(200);

  // The retried requests created no second message: the eventId made them idempotent.
  const messages = await cliJson<{ data: unknown[] }>({ url: server.url, token }, [
    "messages",
    "list",
    "--app",
    app.id,
    "--all",
  ]);
  expect(messages.data).toHaveLength(MESSAGES);

  expect((await server.proc.stop("SIGTERM")).code).toBe(0);
  expect((await receiver.stop("SIGINT")).code).toBe(0);
}, 180_000);

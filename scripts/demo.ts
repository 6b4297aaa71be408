/**
 * A two-minute tour: a local receiver on 127.0.0.1 with three endpoints (one
 * healthy, one that fails twice then recovers, one that never answers in
 * time), the seed dispatcher delivering over real HTTP with retries, and the
 * results as a table. Run with `npm run demo`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  createWebhookDispatcher,
  type DeliveryResult,
  generateSecret,
  HttpTransport,
  StandardWebhook,
  WebhookConfig,
  WebhookEvent,
  WebhookEventType,
  WebhookVerificationError,
} from "../src/index.js";

const secret = generateSecret();
const verifier = new StandardWebhook(secret);
const TIMEOUT_MS = 500;
const flakyFailures = new Map<string, number>();
const received = { verified: 0, rejected: 0 };

const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    try {
      verifier.verify(body, req.headers);
      received.verified++;
    } catch (error) {
      received.rejected++;
      if (!(error instanceof WebhookVerificationError)) throw error;
    }
    const eventId = String(req.headers["webhook-id"]);
    if (req.url === "/flaky") {
      const failures = flakyFailures.get(eventId) ?? 0;
      if (failures < 2) {
        flakyFailures.set(eventId, failures + 1);
        res.writeHead(503).end("try again");
        return;
      }
    }
    if (req.url === "/slow") return; // never answers; the transport's timeout ends the attempt
    res.writeHead(200).end("ok");
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

// The receiver is on loopback, which the egress guard refuses by default.
const transport = new HttpTransport({ allowPrivateNetworks: true });
const dispatcher = createWebhookDispatcher({
  transport,
  onAttempt: (r) =>
    console.log(
      `  attempt ${r.attempt} → ${r.webhookId.padEnd(8)} ${r.status.padEnd(9)} ${r.statusCode ?? "-"} ${r.error ?? ""}`,
    ),
});
for (const name of ["healthy", "flaky", "slow"]) {
  dispatcher.registry.register(
    name,
    new WebhookConfig({ url: `${base}/${name}`, secret, maxRetries: 3, retryDelayMs: 200, timeoutMs: TIMEOUT_MS }),
  );
}

console.log(`receiver listening on ${base}; endpoints /healthy, /flaky (fails twice), /slow (never answers)\n`);
const results: Array<{ event: WebhookEvent; result: DeliveryResult }> = [];
for (const [eventType, payload] of [
  [WebhookEventType.CREATED, { invoice: "in_1001", amount: 4200, currency: "EUR" }],
  [WebhookEventType.UPDATED, { invoice: "in_1001", status: "paid" }],
] as const) {
  const event = new WebhookEvent({ eventType, payload, source: "demo" });
  console.log(`dispatching ${eventType} (${event.eventId})`);
  for (const result of await dispatcher.dispatchWithRetry(event)) results.push({ event, result });
}

const rows = results.map(({ event, result }) => [
  result.webhookId,
  event.eventType,
  result.status,
  String(result.statusCode ?? "-"),
  String(result.attempt),
  result.error ?? "",
]);
printTable(["webhook", "event", "status", "code", "attempts", "error"], rows);
console.log(`\nreceiver: ${received.verified} signatures verified, ${received.rejected} rejected`);

await transport.close();
receiver.closeAllConnections();
receiver.close();

function printTable(header: string[], body: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of body) console.log(line(row));
}

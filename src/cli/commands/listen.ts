import http from "node:http";
import type { AddressInfo } from "node:net";
import { Command } from "commander";
import type { StandardWebhook } from "../../signing/standard-webhooks.js";
import { CliError } from "../errors.js";
import { parseInteger, parsePort } from "../options.js";
import { printLine } from "../output.js";
import { describeFailure, parseSecret, verifierFor } from "./verify.js";

/** Bodies larger than this are refused with 413: a webhook is small. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Characters of a body printed in the readable format; --json prints it all. */
const PRINTED_BODY_CHARS = 16 * 1024;
/** Headers the readable format prints (the JSON format prints every header). */
const INTERESTING = /^(content-type|user-agent|idempotency-key|webhook-.*|svix-.*|x-webhook-.*)$/;

interface ListenFlags {
  port: number;
  host: string;
  secret?: string;
  status: number;
  rejectInvalid?: boolean;
  tolerance?: number;
  json?: boolean;
}

/** What `listen` saw of one request; `--json` prints exactly this, one object a line. */
export interface ReceivedWebhook {
  receivedAt: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The raw body as UTF-8. */
  body: string;
  /** `valid` or `invalid` with a secret; `unchecked` without one. */
  signature: "valid" | "invalid" | "unchecked";
  error?: { code: string; message: string };
  /** The status code answered. */
  status: number;
}

/**
 * `hookline listen`: a local receiver that prints every webhook it gets and,
 * given the endpoint's secret, whether its signature verifies. It answers
 * `--status` (200) to everything — a debugging tool should not make the
 * sender retry — unless `--reject-invalid` is set: then a webhook whose
 * signature fails gets 401, as a real receiver would answer.
 */
export function listenCommand(): Command {
  return new Command("listen")
    .description("receive webhooks locally: print each one and, with --secret, verify its signature")
    .option("-p, --port <port>", "port to listen on (0: any free port)", parsePort, 4000)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--secret <secret>", "verify signatures with this secret (whsec_…, whpk_… or raw)", parseSecret)
    .option("--status <code>", "status code to answer", parseInteger(200, 599), 200)
    .option("--reject-invalid", "answer 401 when a signature does not verify (needs --secret)")
    .option("--tolerance <seconds>", "accepted clock distance of webhook-timestamp (default 300)", parseInteger(0))
    .option("--json", "print each webhook as one JSON object a line (every header, the raw body)")
    .action(async (flags: ListenFlags) => {
      if (flags.rejectInvalid && !flags.secret) throw new CliError("--reject-invalid needs --secret", 2);
      await listen(flags);
    });
}

async function listen(flags: ListenFlags): Promise<void> {
  const verifier = flags.secret ? verifierFor(flags.secret, flags.tolerance) : null;
  const counts = { total: 0, valid: 0, invalid: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (tooLarge) {
        res.writeHead(413, { "content-type": "text/plain" }).end("body too large\n");
        process.stderr.write(`refused ${req.method} ${req.url}: body over ${MAX_BODY_BYTES} bytes\n`);
        return;
      }
      const received = inspect(req, Buffer.concat(chunks), verifier, flags);
      counts.total++;
      if (received.signature === "valid") counts.valid++;
      if (received.signature === "invalid") counts.invalid++;
      res.writeHead(received.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ received: true, signature: received.signature }));
      if (flags.json) printLine(JSON.stringify(received));
      else printLine(describe(received));
    });
    req.on("error", () => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  // Listen for signals before announcing the port: whoever reads it may stop us at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new CliError(`cannot listen on ${flags.host}:${flags.port}: ${error.code ?? error.message}`)),
    );
    server.listen(flags.port, flags.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = flags.host.includes(":") ? `[${flags.host}]` : flags.host;
  process.stderr.write(
    `listening on http://${host}:${port} — ${verifier ? "verifying signatures" : "not verifying signatures (no --secret)"}; Ctrl-C to stop\n`,
  );
  await stopped;
  process.stderr.write(
    `received ${counts.total} webhook${counts.total === 1 ? "" : "s"}` +
      (verifier ? ` (${counts.valid} valid, ${counts.invalid} invalid)` : "") +
      "\n",
  );
}

function inspect(
  req: http.IncomingMessage,
  body: Buffer,
  verifier: StandardWebhook | null,
  flags: ListenFlags,
): ReceivedWebhook {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  const received: ReceivedWebhook = {
    receivedAt: new Date().toISOString(),
    method: req.method ?? "?",
    path: req.url ?? "/",
    headers,
    body: body.toString("utf8"),
    signature: "unchecked",
    status: flags.status,
  };
  if (verifier) {
    try {
      verifier.verifySignature(body, req.headers);
      received.signature = "valid";
    } catch (error) {
      received.signature = "invalid";
      received.error = describeFailure(error);
      if (flags.rejectInvalid) received.status = 401;
    }
  }
  return received;
}

function describe(received: ReceivedWebhook): string {
  const lines = [`--- ${received.receivedAt}  ${received.method} ${received.path}  -> ${received.status}`];
  for (const [name, value] of Object.entries(received.headers)) {
    if (INTERESTING.test(name)) lines.push(`  ${name}: ${value}`);
  }
  if (received.signature === "valid") lines.push("  signature: valid");
  else if (received.signature === "invalid") {
    lines.push(`  signature: INVALID — ${received.error?.message} (${received.error?.code})`);
  }
  let text = received.body;
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON: print it as it came.
  }
  if (text.length > PRINTED_BODY_CHARS) {
    text = `${text.slice(0, PRINTED_BODY_CHARS)}\n… (${received.body.length} characters in all)`;
  }
  if (text.length > 0) lines.push(text.replace(/^/gm, "  "));
  return lines.join("\n");
}

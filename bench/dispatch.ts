/**
 * In-process dispatch throughput over real HTTP on loopback: hookline's
 * dispatcher + HttpTransport against a raw undici Pool sending the same
 * number of bytes, both with 32 requests in flight, to a node:http receiver
 * in a separate process (bench/receiver.mjs).
 *
 * The machine is shared and has two cores (one for us, one for the
 * receiver), so the two are run alternately, A B A B, and compared by median.
 *
 * Run alone with `npx tsx bench/dispatch.ts`, or through `npm run bench`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Pool } from "undici";
import {
  createWebhookDispatcher,
  createWebhookRegistry,
  HttpTransport,
  WebhookConfig,
  WebhookEvent,
  WebhookStatus,
} from "../src/index.js";
import {
  type BenchOptions,
  type BenchReport,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  median,
} from "./common.js";

export const IN_FLIGHT = 32;
const REQUEST_TIMEOUT_MS = 5_000;
/** A run gives up early after this many failed requests: the numbers would be meaningless anyway. */
const MAX_FAILURES = 100;
const RATIO_TARGET = 0.8;
const SECRET = `whsec_${Buffer.alloc(24, 0x5a).toString("base64")}`;
const RECEIVER_PATH = fileURLToPath(new URL("./receiver.mjs", import.meta.url));

/** A plausible ~0.9 KiB application payload; the event envelope brings the body to ~1 KiB. */
const PAYLOAD_TEMPLATE = {
  object: "invoice",
  id: "in_0",
  customer: { id: "cus_9s6XKzkNRiz8i3", email: "billing@example.com", name: "Example Corp" },
  currency: "eur",
  amountDue: 129_900,
  amountPaid: 129_900,
  status: "paid",
  lines: Array.from({ length: 6 }, (_, i) => ({
    id: `il_${i}`,
    description: `Seat licence, tier ${i + 1}`,
    quantity: i + 1,
    unitAmount: 21_650,
    taxRates: ["txr_standard"],
  })),
  metadata: { orderId: "ord_58231", region: "eu-west" },
};

export function newEvent(sequence: number): WebhookEvent {
  return new WebhookEvent({ eventType: "invoice.paid", payload: { ...PAYLOAD_TEMPLATE, id: `in_${sequence}` } });
}

/** The receiver child process and a way to ask it for its CPU time. */
export class Receiver {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: ChildProcess, port: number, lines: AsyncIterator<string>) {
    this.#child = child;
    this.port = port;
    this.#lines = lines;
  }

  static async start(): Promise<Receiver> {
    const child = spawn(process.execPath, [RECEIVER_PATH], { stdio: ["pipe", "pipe", "inherit"] });
    // Backstop for a crash between here and stop(): never leave the receiver running.
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    try {
      if (child.stdout === null) throw new Error("receiver has no stdout");
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = await withTimeout(lines.next(), 10_000, "receiver did not report its port");
      const port = Number(first.value);
      if (first.done || !Number.isInteger(port) || port <= 0) throw new Error(`receiver printed ${first.value}`);
      return new Receiver(child, port, lines);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  /** The receiver's user + system CPU time so far, in microseconds. */
  async cpuMicros(): Promise<number> {
    this.#child.stdin?.write("cpu\n");
    const line = await withTimeout(this.#lines.next(), 5_000, "receiver did not report its CPU time");
    const match = /^cpu (\d+)$/.exec(line.done ? "" : line.value);
    if (match === null) throw new Error(`receiver answered ${JSON.stringify(line.value)}`);
    return Number(match[1]);
  }

  /** Closes its stdin (its signal to exit), then escalates to SIGTERM and SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.stdin?.end();
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (await settlesWithin(exited, 2_000)) return;
      child.kill(signal);
    }
    await settlesWithin(exited, 2_000);
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  try {
    await withTimeout(promise, timeoutMs, "timeout");
    return true;
  } catch {
    return false;
  }
}

export interface RunResult {
  requestsPerSecond: number;
  completed: number;
  failed: number;
  firstError: string | null;
  /** Our process's CPU time per completed request, µs. */
  senderCpuMicrosPerRequest: number;
  /** Share of one core the receiver used during the measured window (1 = saturated). */
  receiverCoreShare: number;
}

/** Sends one request: null when it was answered 200 "ok" (or delivered), else why not. Never throws. */
type SendOne = () => Promise<string | null>;

interface LaneTotals {
  completed: number;
  failed: number;
  /** The first failure's reason, to say why a run is invalid. */
  firstError: string | null;
}

/**
 * Keeps IN_FLIGHT `send` calls outstanding until `durationMs` has passed,
 * then waits for the stragglers. Bounded by the deadline, by each request's
 * timeout and by MAX_FAILURES.
 */
async function keepInFlight(send: SendOne, durationMs: number): Promise<LaneTotals> {
  const deadline = performance.now() + durationMs;
  const totals: LaneTotals = { completed: 0, failed: 0, firstError: null };
  const lane = async () => {
    while (performance.now() < deadline && totals.failed < MAX_FAILURES) {
      const error = await send();
      if (error === null) {
        totals.completed++;
      } else {
        totals.failed++;
        totals.firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return totals;
}

async function measureRun(receiver: Receiver, send: SendOne, warmupMs: number, durationMs: number): Promise<RunResult> {
  // Warm-up opens the 32 connections and lets the JIT settle; not counted,
  // but a warm-up that fails says the measured run would fail too.
  const warmup = await keepInFlight(send, warmupMs);
  if (warmup.completed === 0) throw new Error(`every warm-up request failed: ${warmup.firstError}`);
  const receiverCpuBefore = await receiver.cpuMicros();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { completed, failed, firstError } = await keepInFlight(send, durationMs);
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const receiverCpu = (await receiver.cpuMicros()) - receiverCpuBefore;
  return {
    requestsPerSecond: (completed * 1000) / elapsedMs,
    completed,
    failed,
    firstError,
    senderCpuMicrosPerRequest: completed > 0 ? (cpu.user + cpu.system) / completed : Number.NaN,
    receiverCoreShare: receiverCpu / (elapsedMs * 1000),
  };
}

/** A: a bare undici Pool, 32 connections, the same body size as ours, each response body consumed. */
export async function runBaseline(
  receiver: Receiver,
  body: string,
  warmupMs: number,
  durationMs: number,
): Promise<RunResult> {
  const pool = new Pool(`http://127.0.0.1:${receiver.port}`, { connections: IN_FLIGHT, pipelining: 1 });
  const send: SendOne = async () => {
    try {
      const response = await pool.request({
        path: "/hook",
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
      const text = await response.body.text();
      return response.statusCode === 200 && text === "ok" ? null : `HTTP ${response.statusCode} ${text.slice(0, 80)}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  };
  try {
    return await measureRun(receiver, send, warmupMs, durationMs);
  } finally {
    await pool.close();
  }
}

/** B: hookline's dispatcher and HttpTransport, a new event (fresh id, canonical JSON, signatures) per request. */
async function runHookline(receiver: Receiver, warmupMs: number, durationMs: number): Promise<RunResult> {
  const transport = new HttpTransport({ allowPrivateNetworks: true });
  const registry = createWebhookRegistry();
  registry.register(
    "bench",
    new WebhookConfig({
      url: `http://127.0.0.1:${receiver.port}/hook`,
      secret: SECRET,
      maxRetries: 0,
      timeoutMs: REQUEST_TIMEOUT_MS,
    }),
  );
  const dispatcher = createWebhookDispatcher({ registry, transport });
  let sequence = 0;
  const send: SendOne = async () => {
    const [result] = await dispatcher.dispatch(newEvent(sequence++));
    if (result === undefined) return "no webhook matched the event";
    return result.status === WebhookStatus.DELIVERED ? null : `${result.status}: ${result.error ?? result.statusCode}`;
  };
  try {
    return await measureRun(receiver, send, warmupMs, durationMs);
  } finally {
    await transport.close();
  }
}

/** Runs the dispatch benchmark (A B A B), prints a table and returns the ratio check. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const durationMs = options.durationMs;
  const warmupMs = Math.min(1_000, Math.max(100, Math.round(durationMs / 5)));
  // The baseline sends exactly as many body bytes as one of our deliveries.
  const body = newEvent(0).toJson();

  console.log(
    `\n## Dispatch — POST ${Buffer.byteLength(body)} B bodies to a node:http receiver in another process on 127.0.0.1,` +
      ` ${IN_FLIGHT} in flight, ${warmupMs} ms warm-up + ${durationMs} ms measured per run, A B A B\n`,
  );
  const receiver = await Receiver.start();
  const runs: { kind: "baseline" | "hookline"; result: RunResult }[] = [];
  try {
    for (let pass = 0; pass < 2; pass++) {
      runs.push({ kind: "baseline", result: await runBaseline(receiver, body, warmupMs, durationMs) });
      runs.push({ kind: "hookline", result: await runHookline(receiver, warmupMs, durationMs) });
    }
  } finally {
    await receiver.stop();
  }

  console.log(
    formatTable(
      ["run", "req/s", "completed", "failed", "sender CPU µs/req", "receiver core"],
      runs.map(({ kind, result }) => [
        kind === "baseline" ? "A raw undici Pool" : "B hookline dispatch",
        formatCount(result.requestsPerSecond),
        formatCount(result.completed),
        formatCount(result.failed),
        Number.isFinite(result.senderCpuMicrosPerRequest) ? result.senderCpuMicrosPerRequest.toFixed(1) : "n/a",
        `${Math.round(result.receiverCoreShare * 100)}%`,
      ]),
    ),
  );
  const failed = runs.reduce((sum, { result }) => sum + result.failed, 0);
  if (failed > 0) {
    const reason = runs.find(({ result }) => result.firstError !== null)?.result.firstError;
    throw new Error(`${failed} requests failed (first: ${reason}); the dispatch figures are not valid`);
  }

  const medianOf = (kind: "baseline" | "hookline", figure: (result: RunResult) => number) =>
    median(runs.filter((run) => run.kind === kind).map((run) => figure(run.result)));
  const baseline = medianOf("baseline", (result) => result.requestsPerSecond);
  const ours = medianOf("hookline", (result) => result.requestsPerSecond);
  const ratio = ours / baseline;
  // CPU per request moves less than req/s when a neighbour steals cycles: a cross-check of the ratio.
  const cpuRatio =
    medianOf("baseline", (result) => result.senderCpuMicrosPerRequest) /
    medianOf("hookline", (result) => result.senderCpuMicrosPerRequest);
  console.log(
    `\nmedian req/s: raw undici Pool ${formatCount(baseline)}, hookline dispatch ${formatCount(ours)}` +
      ` → ${formatRatio(ratio)} (target ≥ ${formatRatio(RATIO_TARGET)});` +
      ` sender CPU per request, raw / hookline: ${formatRatio(cpuRatio)}`,
  );
  return { checks: [{ name: "dispatch req/s / raw undici Pool", ratio, target: RATIO_TARGET }] };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

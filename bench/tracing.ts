/**
 * What the tracing hooks cost when no OpenTelemetry SDK is registered (the
 * API alone, a no-op): one delivery attempt through `attemptDelivery` over an
 * in-process transport that answers 200 at once — the attempt path without
 * the network, where any overhead shows most — bare (the baseline), and
 * wrapped in `traceAttempt` as the worker runs it, without and with a stored
 * `traceparent`. Also the send hooks alone, in ns per send.
 *
 * Run alone with `npx tsx bench/tracing.ts`, or through `npm run bench`.
 */
import { pathToFileURL } from "node:url";
import { trace } from "@opentelemetry/api";
import { systemClock } from "../src/core/clock.js";
import { SignatureAlgorithm } from "../src/core/enums.js";
import { attemptDelivery, type DeliveryRequest } from "../src/delivery/deliver.js";
import { endSendSpan, startSendSpan, traceAttempt } from "../src/delivery/tracing.js";
import { signingKeyFor } from "../src/signing/secrets.js";
import { type TransportResponse, WebhookTransport } from "../src/transport/transport.js";
import {
  type BenchOptions,
  type BenchReport,
  clamp,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  median,
} from "./common.js";
import { jsonPayload } from "./signing.js";

const ROUNDS = 15;
/** Operations between two clock reads. */
const OPS_PER_BATCH = 64;
/** The traced attempt path should keep this share of the bare one's rate (1.0 = no cost). */
const TARGET = 0.95;
const STORED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

const BASELINE = "attemptDelivery (baseline)";
const BASELINE_HEADER = "attemptDelivery, traceparent set by hand (baseline)";
const TRACED = "traceAttempt + attemptDelivery";
const TRACED_STORED = "traceAttempt + attemptDelivery, stored traceparent";
const SEND_HOOKS = "send hooks alone (startSendSpan + endSendSpan)";

/** Answers 200 without I/O, and counts the traceparent headers it is handed. */
class InstantTransport extends WebhookTransport {
  traceparents = 0;
  readonly #response: TransportResponse = { statusCode: 200, body: "ok" };
  send(_url: string, _payload: string, headers: Readonly<Record<string, string>>): TransportResponse {
    if (headers.traceparent !== undefined) this.traceparents++;
    return this.#response;
  }
}

interface Task {
  name: string;
  /** The task measured just before this one in every round, whose rate this one is divided by. */
  relativeTo?: string;
  op: () => Promise<unknown> | unknown;
}

/** Operations per second of one task over about `budgetMs`. */
async function rateOf(task: Task, budgetMs: number): Promise<number> {
  let ops = 0;
  let elapsed = 0;
  const started = performance.now();
  while (elapsed < budgetMs) {
    for (let n = 0; n < OPS_PER_BATCH; n++) await task.op();
    ops += OPS_PER_BATCH;
    elapsed = performance.now() - started;
  }
  return (ops * 1000) / elapsed;
}

/**
 * Per task, the median rate over ROUNDS rounds and the median of its
 * per-round ratios to its baseline. Each ratio pairs two runs made one
 * after the other, so a neighbour's load that comes and goes over the rounds
 * (the machines are shared) lands on both sides of it.
 */
async function measure(
  tasks: readonly Task[],
  perTaskMs: number,
): Promise<Map<string, { rate: number; ratio: number | null }>> {
  for (const task of tasks) await rateOf(task, perTaskMs); // warm-up: every path compiled before timing
  const rates = new Map<string, number[]>(tasks.map((task) => [task.name, []]));
  const ratios = new Map<string, number[]>(tasks.map((task) => [task.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const thisRound = new Map<string, number>();
    for (const task of tasks) {
      const rate = await rateOf(task, perTaskMs);
      thisRound.set(task.name, rate);
      rates.get(task.name)?.push(rate);
      if (task.relativeTo !== undefined) ratios.get(task.name)?.push(rate / (thisRound.get(task.relativeTo) ?? rate));
    }
  }
  return new Map(
    tasks.map((task) => [
      task.name,
      {
        rate: median(rates.get(task.name) ?? []),
        ratio: task.relativeTo === undefined ? null : median(ratios.get(task.name) ?? []),
      },
    ]),
  );
}

/** Runs the tracing-overhead benchmark, prints its table and returns the ratio checks. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  // The API's own tracer provider, not an SDK's: this measures the no-op path.
  if (trace.getTracerProvider().getTracer("probe").startSpan("probe").isRecording()) {
    throw new Error("an OpenTelemetry SDK is registered; this benchmark measures the API alone");
  }
  const perTaskMs = clamp(Math.round(options.durationMs * 0.012), 10, 60);
  const transport = new InstantTransport();
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const request: DeliveryRequest = {
    url: "https://example.com/hooks",
    body: jsonPayload(1024),
    msgId: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    eventType: "invoice.paid",
    secret,
    signatureAlgorithm: SignatureAlgorithm.HMAC_SHA256,
    signingKeys: [signingKeyFor(secret)],
    timeoutMs: 10_000,
    traceparent: null,
  };
  const bare = (traceparent: string | null) => () => {
    request.traceparent = traceparent;
    return attemptDelivery(transport, request, systemClock);
  };
  const traced = (stored: string | null) => () =>
    traceAttempt(
      { endpointId: "ep_1", messageId: "msg_1", eventType: "invoice.paid", attemptNumber: 1, traceparent: stored },
      // As the worker does: its request for each attempt has the field already.
      (traceparent) => bare(traceparent)(),
    );
  const sendResult = { message: { id: "msg_1", appId: "app_1" }, deliveryCount: 3, created: true };
  // Each traced task right after its baseline: their ratio is taken within each round.
  const tasks: Task[] = [
    { name: BASELINE, op: bare(null) },
    { name: TRACED, relativeTo: BASELINE, op: traced(null) },
    { name: BASELINE_HEADER, op: bare(STORED) },
    { name: TRACED_STORED, relativeTo: BASELINE_HEADER, op: traced(STORED) },
    {
      name: SEND_HOOKS,
      op: () => {
        const { span } = startSendSpan("invoice.paid", undefined);
        endSendSpan(span, sendResult);
      },
    },
  ];
  const outcome = await traced(STORED)();
  if (!outcome.succeeded || transport.traceparents !== 1) throw new Error("the traced attempt path did not run");

  console.log(
    `\n## Tracing hooks, no SDK registered — attempts/s over an in-process transport, 1 KiB body, median of ${ROUNDS} rounds × ${perTaskMs} ms per task\n`,
  );
  const results = await measure(tasks, perTaskMs);
  const result = (name: string) => results.get(name) ?? { rate: Number.NaN, ratio: Number.NaN };
  const rows = tasks.map((task) => {
    const { rate, ratio } = result(task.name);
    const note =
      task.name === SEND_HOOKS
        ? `${Math.round(1e9 / rate)} ns per send`
        : ratio === null
          ? "baseline"
          : `${formatRatio(ratio)} of ${task.relativeTo}`;
    return [task.name, formatCount(rate), note];
  });
  console.log(formatTable(["task", "ops/s", "ratio"], rows));
  return {
    checks: [
      {
        name: "attempt path with tracing hooks, no SDK / without",
        ratio: result(TRACED).ratio ?? Number.NaN,
        target: TARGET,
      },
      {
        name: "attempt path with tracing hooks, stored traceparent, no SDK / header set by hand",
        ratio: result(TRACED_STORED).ratio ?? Number.NaN,
        target: TARGET,
      },
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

/**
 * Signing throughput: hookline's seed HMAC and Standard Webhooks `v1` against
 * raw node:crypto (the floor any wrapper pays) and against the
 * `standardwebhooks` package (pure-JS SHA-256, what receivers commonly use).
 *
 * Run alone with `npx tsx bench/signing.ts`, or through `npm run bench`.
 */
import { createHmac } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Webhook } from "standardwebhooks";
import { Bench } from "tinybench";
import { StandardWebhook, WebhookSignature } from "../src/index.js";
import {
  type BenchOptions,
  type BenchReport,
  clamp,
  durationFromEnv,
  formatCount,
  formatRatio,
  formatTable,
  median,
  type RatioCheck,
} from "./common.js";

const SEED_SECRET = "hookline-bench-seed-secret";
// A fixed 24-byte key so every run signs the same bytes; shared by our
// StandardWebhook and the package so they compute identical signatures.
const V1_KEY = Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 37 + 11) & 0xff));
const V1_SECRET = `whsec_${V1_KEY.toString("base64")}`;
const MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

const PAYLOAD_SIZES = [
  { label: "1 KiB", bytes: 1024 },
  { label: "16 KiB", bytes: 16 * 1024 },
] as const;

/**
 * Each tinybench sample runs the operation this many times, so the ~100 ns
 * cost of reading the clock stays small next to a 1 KiB HMAC (~3 µs).
 */
const OPS_PER_SAMPLE = 16;
/**
 * Rounds over the whole task list; each task's figure is its median across
 * rounds. Interleaving rounds spreads a noisy neighbour's bursts over every
 * task instead of landing on whichever ran at that moment.
 */
const ROUNDS = 3;

// Task names, also used to look up rates for the ratio checks. "verify"
// parses the JSON body on both sides (what a receiver calls); the "no parse"
// pair isolates the signature check, since JSON.parse costs both the same.
const RAW_SEED = "raw createHmac hex";
const SEED_SIGN = "WebhookSignature.sign";
const RAW_V1 = "raw createHmac base64 (v1 content)";
const OUR_V1_SIGN = "StandardWebhook.sign (v1)";
const OUR_V1_VERIFY = "StandardWebhook.verify (v1)";
const OUR_V1_CHECK = "StandardWebhook.verifySignature (no parse)";
const PKG_SIGN = "standardwebhooks sign";
const PKG_VERIFY = "standardwebhooks verify";
const PKG_CHECK = "standardwebhooks verify (jsonParse: false)";

const SEED_SIGN_TARGET = 0.9;
const V1_VS_PACKAGE_TARGET = 3;

/** A JSON object of exactly `bytes` ASCII bytes, shaped like a real webhook payload. */
export function jsonPayload(bytes: number): string {
  const items: string[] = [];
  const close = ',"pad":""}';
  let body = '{"items":[';
  for (let i = 0; ; i++) {
    const item = JSON.stringify({ id: `item_${i}`, name: `Line item ${i}`, quantity: i % 7, unitAmount: 1999 + i });
    const next = `${body}${items.length > 0 ? "," : ""}${item}`;
    if (next.length + 1 + close.length > bytes) break;
    items.push(item);
    body = next;
  }
  const pad = "x".repeat(bytes - body.length - 1 - close.length);
  const json = `${body}],"pad":"${pad}"}`;
  if (Buffer.byteLength(json) !== bytes) {
    throw new Error(`payload is ${Buffer.byteLength(json)} bytes, wanted ${bytes}`);
  }
  JSON.parse(json); // the verify paths parse it; fail here, not mid-benchmark
  return json;
}

interface SigningTask {
  name: string;
  /** The task whose rate this one is divided by in the table, if any. */
  relativeTo?: string;
  op: () => unknown;
}

/** Keeps results observable so the JIT cannot drop the work that produced them. */
let sink = 0;
function consume(value: unknown): void {
  if (typeof value === "string") sink += value.length;
  else if (value === true) sink += 1;
  else if (value !== null && typeof value === "object") sink += 2;
}

/** The tasks for one payload size, after checking every implementation agrees on the signatures. */
function tasksFor(payload: string, signedAt: Date): SigningTask[] {
  const timestampSeconds = Math.floor(signedAt.getTime() / 1000);
  const ours = new StandardWebhook(V1_SECRET, { now: () => signedAt.getTime() });
  const theirs = new Webhook(V1_SECRET);

  const rawSeed = () => createHmac("sha256", SEED_SECRET).update(payload).digest("hex");
  const rawV1 = () =>
    `v1,${createHmac("sha256", V1_KEY).update(`${MSG_ID}.${timestampSeconds}.${payload}`).digest("base64")}`;
  const seedSignature = rawSeed();
  const v1Signature = rawV1();
  const headers = {
    "webhook-id": MSG_ID,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": v1Signature,
  };

  // A verify that throws or returns false is fast and would make a
  // meaningless benchmark, so check every path once before timing it.
  if (WebhookSignature.sign(payload, SEED_SECRET) !== seedSignature) throw new Error("seed sign ≠ node:crypto");
  if (!WebhookSignature.verify(payload, SEED_SECRET, seedSignature)) throw new Error("seed verify rejected");
  if (ours.sign(MSG_ID, signedAt, payload) !== v1Signature) throw new Error("hookline v1 sign ≠ node:crypto");
  if (theirs.sign(MSG_ID, signedAt, payload) !== v1Signature) throw new Error("standardwebhooks sign ≠ node:crypto");
  ours.verify(payload, headers);
  ours.verifySignature(payload, headers);
  theirs.verify(payload, headers);
  theirs.verify(payload, headers, { jsonParse: false });

  return [
    { name: RAW_SEED, op: rawSeed },
    { name: SEED_SIGN, relativeTo: RAW_SEED, op: () => WebhookSignature.sign(payload, SEED_SECRET) },
    {
      name: "WebhookSignature.verify",
      relativeTo: RAW_SEED,
      op: () => WebhookSignature.verify(payload, SEED_SECRET, seedSignature),
    },
    { name: RAW_V1, op: rawV1 },
    { name: OUR_V1_SIGN, relativeTo: PKG_SIGN, op: () => ours.sign(MSG_ID, signedAt, payload) },
    { name: OUR_V1_VERIFY, relativeTo: PKG_VERIFY, op: () => ours.verify(payload, headers) },
    { name: OUR_V1_CHECK, relativeTo: PKG_CHECK, op: () => ours.verifySignature(payload, headers) },
    { name: PKG_SIGN, relativeTo: RAW_V1, op: () => theirs.sign(MSG_ID, signedAt, payload) },
    // The package reads Date.now() itself; `signedAt` is a few seconds old at most, well inside its 5 min window.
    { name: PKG_VERIFY, relativeTo: RAW_V1, op: () => theirs.verify(payload, headers) },
    { name: PKG_CHECK, relativeTo: RAW_V1, op: () => theirs.verify(payload, headers, { jsonParse: false }) },
  ];
}

/** Operations per second of every task, the median over ROUNDS interleaved rounds. */
async function measure(tasks: readonly SigningTask[], perTaskMs: number): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>(tasks.map((task) => [task.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({
      time: perTaskMs,
      warmupTime: Math.max(25, perTaskMs / 4),
      // Surface a broken task as an error instead of a fast "errored" result.
      throws: true,
    });
    // Rotate the start so no task always runs first (coldest) or last.
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[(i + round) % tasks.length] as SigningTask;
      bench.add(
        task.name,
        () => {
          for (let n = 0; n < OPS_PER_SAMPLE; n++) consume(task.op());
        },
        { async: false },
      );
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== "completed") throw new Error(`signing task ${task.name} ended ${result.state}`);
      // period = total time / samples: the mean, so GC pauses are paid by whoever allocates.
      samples.get(task.name)?.push((OPS_PER_SAMPLE * 1000) / result.period);
    }
  }
  return new Map([...samples].map(([name, values]) => [name, median(values)]));
}

/** Runs the signing benchmarks, prints one table per payload size and returns the ratio checks. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  // 300 ms per task and round at the default 5 s: 2 sizes × 10 tasks × 3 rounds ≈ 23 s with warm-up.
  const perTaskMs = clamp(Math.round(options.durationMs * 0.06), 20, 300);
  // Whole seconds, as the headers carry them; "now" for our verify is pinned to it.
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const checks: RatioCheck[] = [];

  console.log(
    `\n## Signing — ops/s, median of ${ROUNDS} rounds × ${perTaskMs} ms per task, ${OPS_PER_SAMPLE} ops per sample`,
  );
  for (const size of PAYLOAD_SIZES) {
    const tasks = tasksFor(jsonPayload(size.bytes), signedAt);
    const rates = await measure(tasks, perTaskMs);
    const rate = (name: string) => rates.get(name) ?? Number.NaN;
    const rows = tasks.map((task) => [
      task.name,
      formatCount(rate(task.name)),
      task.relativeTo === undefined
        ? "baseline"
        : `${formatRatio(rate(task.name) / rate(task.relativeTo))} of ${task.relativeTo}`,
    ]);
    console.log(`\n### ${size.label} payload\n`);
    console.log(formatTable(["task", "ops/s", "ratio"], rows));

    checks.push(
      {
        name: `seed sign / raw createHmac, ${size.label}`,
        ratio: rate(SEED_SIGN) / rate(RAW_SEED),
        target: SEED_SIGN_TARGET,
      },
      {
        name: `v1 sign / standardwebhooks, ${size.label}`,
        ratio: rate(OUR_V1_SIGN) / rate(PKG_SIGN),
        target: V1_VS_PACKAGE_TARGET,
      },
      {
        name: `v1 verify / standardwebhooks, ${size.label}`,
        ratio: rate(OUR_V1_VERIFY) / rate(PKG_VERIFY),
        target: V1_VS_PACKAGE_TARGET,
      },
      {
        name: `v1 verify, no parse / standardwebhooks, ${size.label}`,
        ratio: rate(OUR_V1_CHECK) / rate(PKG_CHECK),
        target: V1_VS_PACKAGE_TARGET,
      },
    );
  }
  if (sink === 0) console.log("(sink empty)"); // never true; reading it keeps `sink` live
  return { checks };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

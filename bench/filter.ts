/**
 * What an endpoint's payload filter costs at fan-out: a compiled five-clause
 * filter (a number range, an `$in` list, a value anywhere in an array, a
 * `$neq` and a `$regex`) evaluated against ~1 KiB order payloads, beside a
 * hand-written JavaScript function making the same checks (the baseline),
 * measured round by round in the same run. Also, for scale, `JSON.parse` of
 * the same payloads: a send with filtered endpoints parses its body once.
 *
 * Run alone with `npx tsx bench/filter.ts`, or through `npm run bench`.
 */
import { pathToFileURL } from "node:url";
import { compileFilter } from "../src/delivery/filter.js";
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

const ROUNDS = 15;
/** Evaluations between two clock reads. */
const OPS_PER_BATCH = 1024;
const TARGET_PER_SECOND = 500_000;
const RATIO_FLOOR = 0.05;

const FILTER = {
  amount: { $gte: 100 },
  "customer.country": { $in: ["DE", "FR", "NL", "AT", "BE"] },
  "items.sku": "SKU-42",
  "metadata.channel": { $neq: "test" },
  "customer.email": { $regex: "@example\\.com$" },
};

const COUNTRIES = new Set<unknown>(["DE", "FR", "NL", "AT", "BE"]);
const EMAIL = /@example\.com$/u;

interface Order {
  amount?: unknown;
  customer?: { country?: unknown; email?: unknown };
  items?: Array<{ sku?: unknown }>;
  metadata?: { channel?: unknown };
}

/** The same five checks written by hand for this payload's shape (no arrays of arrays, no missing-path subtleties). */
function handWritten(payload: Order): boolean {
  const { amount, customer, items, metadata } = payload;
  if (typeof amount !== "number" || amount < 100) return false;
  if (customer === undefined || !COUNTRIES.has(customer.country)) return false;
  if (items === undefined || !items.some((item) => item.sku === "SKU-42")) return false;
  if (metadata !== undefined && metadata.channel === "test") return false;
  return typeof customer.email === "string" && EMAIL.test(customer.email);
}

/** Sixteen ~1 KiB orders that vary in every checked field, so both functions see every branch. */
function payloads(): Order[] {
  const countries = ["DE", "FR", "US", "NL", "JP", "AT", "BE", "IT"];
  return Array.from({ length: 16 }, (_, i) => ({
    id: `ord_${(1_000_000 + i * 7919).toString(36)}`,
    type: "order.paid",
    createdAt: new Date(Date.UTC(2026, 0, 1, 12, i)).toISOString(),
    amount: [250, 99, 1200, 100][i % 4],
    currency: "EUR",
    customer: {
      id: `cus_${i}`,
      name: "Erika Mustermann",
      email: i % 5 === 0 ? `buyer${i}@elsewhere.org` : `buyer${i}@example.com`,
      country: countries[i % countries.length],
      address: { street: "Unter den Linden 1", city: "Berlin", zip: "10117" },
      billing: { street: "Friedrichstraße 43", city: "Berlin", zip: "10969", vatId: `DE${String(123456789 + i)}` },
      phone: "+49 30 1234567",
    },
    items: Array.from({ length: 3 }, (_, j) => ({
      sku: j === 2 && i % 3 !== 1 ? "SKU-42" : `SKU-${100 + i + j}`,
      name: "Widget, blue, large",
      quantity: j + 1,
      unitPrice: 19.99 + j,
    })),
    shipping: { method: "express", carrier: "DHL", tracking: `JJD${String(1e12 + i)}` },
    metadata: {
      channel: i % 7 === 3 ? "test" : "web",
      campaign: "spring-sale",
      referrer: "newsletter",
      agent: "Mozilla/5.0 (X11; Linux x86_64)",
    },
    totals: { subtotal: 62.97, shipping: 4.9, tax: 11.96, discount: 0, total: 79.83 },
    notes: "Leave the parcel with the neighbour if nobody answers the door.",
  }));
}

/** Evaluations per second of `op` over about `budgetMs`, cycling through the sixteen inputs. */
function rateOf<T>(op: (input: T) => boolean, inputs: readonly T[], budgetMs: number): number {
  let ops = 0;
  let matched = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    for (let n = 0; n < OPS_PER_BATCH; n++) if (op(inputs[n & 15] as T)) matched++;
    ops += OPS_PER_BATCH;
    elapsed = performance.now() - started;
  }
  // Keeps the evaluations observable, so none of them can be optimised away.
  if (matched > ops) throw new Error("unreachable");
  return (ops * 1000) / elapsed;
}

/** Runs the filter benchmark, prints its table and returns its checks. */
export async function main(options: BenchOptions = { durationMs: durationFromEnv() }): Promise<BenchReport> {
  const perTaskMs = clamp(Math.round(options.durationMs * 0.012), 10, 60);
  const inputs = payloads();
  const bodies = inputs.map((payload) => JSON.stringify(payload));
  const evaluate = compileFilter(FILTER);
  // Both functions must agree on every payload, and the payloads must go both ways.
  const verdicts = inputs.map((payload) => evaluate(payload));
  if (verdicts.some((verdict, i) => verdict !== handWritten(inputs[i] as Order))) {
    throw new Error("the compiled filter and the hand-written function disagree");
  }
  if (!verdicts.includes(true) || !verdicts.includes(false))
    throw new Error("the payloads do not exercise both outcomes");
  const averageBytes = Math.round(bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0) / bodies.length);
  const parse = (body: string) => JSON.parse(body) !== null;

  console.log(
    `\n## Payload filters — evaluations/s of a 5-clause filter, ${averageBytes}-byte payloads (${verdicts.filter(Boolean).length} of ${inputs.length} match), median of ${ROUNDS} rounds × ${perTaskMs} ms per task\n`,
  );
  // Warm-up: every path compiled before timing.
  rateOf(handWritten, inputs, perTaskMs);
  rateOf(evaluate, inputs, perTaskMs);
  rateOf(parse, bodies, perTaskMs);
  const baseline: number[] = [];
  const compiled: number[] = [];
  const ratios: number[] = [];
  const parsed: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const base = rateOf(handWritten, inputs, perTaskMs);
    const filter = rateOf(evaluate, inputs, perTaskMs);
    baseline.push(base);
    compiled.push(filter);
    ratios.push(filter / base);
    parsed.push(rateOf(parse, bodies, perTaskMs));
  }
  const rate = median(compiled);
  const ratio = median(ratios);
  console.log(
    formatTable(
      ["task", "evaluations/s", "ratio"],
      [
        ["hand-written function (baseline)", formatCount(median(baseline)), "baseline"],
        ["compileFilter evaluator", formatCount(rate), `${formatRatio(ratio)} of the baseline`],
        ["JSON.parse of the payload (for scale)", formatCount(median(parsed)), ""],
      ],
    ),
  );
  return {
    checks: [
      { name: "filter evaluations/s, 5 clauses, ~1 KiB payload", ratio: rate, target: TARGET_PER_SECOND, unit: "/s" },
      // Interpreting a filter costs about ten times the checks written by hand; the floor catches regressions.
      { name: "filter evaluator / hand-written function", ratio, target: RATIO_FLOOR },
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../src/core/errors.js";
import { compileFilter, EndpointFilters, FILTER_LIMITS } from "../src/delivery/filter.js";
import { createHookline } from "../src/index.js";
import { sqliteStore } from "../src/sqlite.js";
import { startServer } from "./support/http-server.js";

const order = {
  amount: 250,
  currency: "EUR",
  paid: true,
  note: null,
  customer: { id: "cus_1", country: "DE", address: { city: "Berlin", zip: "10115" } },
  tags: ["vip", "b2b"],
  items: [
    { sku: "A-1", qty: 2, price: 100 },
    { sku: "B-2", qty: 1, price: 50 },
  ],
  matrix: [
    [1, 2],
    [3, 4],
  ],
};

const matches = (filter: unknown, payload: unknown = order) => compileFilter(filter)(payload);

function refused(filter: unknown): ConfigurationError {
  try {
    compileFilter(filter);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe("HOOKLINE_CONFIGURATION_INVALID");
    return error as ConfigurationError;
  }
  throw new Error(`filter ${JSON.stringify(filter)} was accepted`);
}

describe("compileFilter: operators", () => {
  it("an empty filter takes every payload, even a scalar", () => {
    expect(matches({})).toBe(true);
    expect(matches({}, "text")).toBe(true);
    expect(matches({}, null)).toBe(true);
  });

  it("$eq and a plain value compare scalars strictly and JSON values deeply", () => {
    expect(matches({ currency: "EUR" })).toBe(true);
    expect(matches({ currency: { $eq: "EUR" } })).toBe(true);
    expect(matches({ currency: "USD" })).toBe(false);
    expect(matches({ amount: "250" })).toBe(false);
    expect(matches({ paid: true, note: null })).toBe(true);
    expect(matches({ note: { $eq: null } })).toBe(true);
    expect(matches({ customer: { id: "cus_1", country: "DE", address: { zip: "10115", city: "Berlin" } } })).toBe(true);
    expect(matches({ customer: { id: "cus_1" } })).toBe(false); // not a subset match
    expect(matches({ tags: ["vip", "b2b"] })).toBe(true);
    expect(matches({ tags: ["b2b", "vip"] })).toBe(false); // arrays in order
    expect(matches({ missing: null })).toBe(false); // missing is not null
  });

  it("$neq is the negation of $eq: a missing field satisfies it", () => {
    expect(matches({ currency: { $neq: "USD" } })).toBe(true);
    expect(matches({ currency: { $neq: "EUR" } })).toBe(false);
    expect(matches({ missing: { $neq: 1 } })).toBe(true);
    expect(matches({ tags: { $neq: "vip" } })).toBe(false); // an element equals it
  });

  it("$gt $gte $lt $lte compare numbers with numbers and strings with strings only", () => {
    expect(matches({ amount: { $gt: 249 } })).toBe(true);
    expect(matches({ amount: { $gt: 250 } })).toBe(false);
    expect(matches({ amount: { $gte: 250 } })).toBe(true);
    expect(matches({ amount: { $lt: 251 } })).toBe(true);
    expect(matches({ amount: { $lte: 249 } })).toBe(false);
    expect(matches({ amount: { $gte: 100, $lte: 300 } })).toBe(true);
    expect(matches({ currency: { $gt: "EUA" } })).toBe(true);
    expect(matches({ currency: { $lt: "EUA" } })).toBe(false);
    // Type mismatches never hold, in either direction.
    expect(matches({ amount: { $gt: "100" } })).toBe(false);
    expect(matches({ amount: { $lt: "999" } })).toBe(false);
    expect(matches({ currency: { $gt: 0 } })).toBe(false);
    expect(matches({ paid: { $gte: 0 } })).toBe(false);
    expect(matches({ note: { $lte: 0 } })).toBe(false);
    expect(matches({ missing: { $lt: 1 } })).toBe(false);
    expect(matches({ customer: { $gt: "" } })).toBe(false);
  });

  it("$in and $nin test membership of scalars", () => {
    expect(matches({ "customer.country": { $in: ["DE", "FR"] } })).toBe(true);
    expect(matches({ "customer.country": { $in: ["IT"] } })).toBe(false);
    expect(matches({ "customer.country": { $in: [] } })).toBe(false);
    expect(matches({ amount: { $in: ["250"] } })).toBe(false);
    expect(matches({ note: { $in: [null] } })).toBe(true);
    expect(matches({ tags: { $in: ["vip"] } })).toBe(true);
    expect(matches({ "customer.country": { $nin: ["IT", "ES"] } })).toBe(true);
    expect(matches({ "customer.country": { $nin: ["DE"] } })).toBe(false);
    expect(matches({ missing: { $nin: ["x"] } })).toBe(true);
    expect(matches({ tags: { $nin: ["b2b"] } })).toBe(false);
  });

  it("$exist tells whether the path resolves to anything (null counts)", () => {
    expect(matches({ note: { $exist: true } })).toBe(true);
    expect(matches({ missing: { $exist: true } })).toBe(false);
    expect(matches({ missing: { $exist: false } })).toBe(true);
    expect(matches({ "customer.address.zip": { $exist: true } })).toBe(true);
    expect(matches({ "customer.address.zip.x": { $exist: true } })).toBe(false); // through a string
    expect(matches({ "items.sku": { $exist: true } })).toBe(true);
    expect(matches({ "items.colour": { $exist: false } })).toBe(true);
    expect(matches({ toString: { $exist: true } })).toBe(false); // own properties only
    expect(matches({ "tags.length": { $exist: true } })).toBe(false);
  });

  it("$regex matches strings only, with optional flags", () => {
    expect(matches({ "customer.id": { $regex: "^cus_\\d+$" } })).toBe(true);
    expect(matches({ currency: { $regex: "^eur$" } })).toBe(false);
    expect(matches({ currency: { $regex: { pattern: "^eur$", flags: "i" } } })).toBe(true);
    expect(matches({ amount: { $regex: "250" } })).toBe(false);
    expect(matches({ tags: { $regex: "^b2" } })).toBe(true);
    expect(matches({ missing: { $regex: "" } })).toBe(false);
    expect(matches({ city: { $regex: "\\p{Lu}" } }, { city: "Ärhus" })).toBe(true);
  });

  it("$not negates a condition, and at the top a whole filter", () => {
    expect(matches({ amount: { $not: { $gt: 1000 } } })).toBe(true);
    expect(matches({ amount: { $not: 250 } })).toBe(false);
    expect(matches({ missing: { $not: { $exist: true } } })).toBe(true);
    expect(matches({ missing: { $not: { $gt: 1 } } })).toBe(true);
    expect(matches({ $not: { currency: "EUR" } })).toBe(false);
    expect(matches({ $not: { $not: { currency: "EUR" } } })).toBe(true);
  });

  it("$and and $or combine filters at the top and conditions on a field, nested", () => {
    expect(matches({ $or: [{ currency: "USD" }, { amount: { $gte: 200 } }] })).toBe(true);
    expect(matches({ $or: [{ currency: "USD" }, { amount: { $gte: 300 } }] })).toBe(false);
    expect(matches({ $and: [{ currency: "EUR" }, { paid: true }] })).toBe(true);
    expect(matches({ $and: [{ currency: "EUR" }, { paid: false }] })).toBe(false);
    expect(matches({ amount: { $or: [{ $lt: 0 }, { $gt: 200 }] } })).toBe(true);
    expect(matches({ amount: { $and: [{ $gt: 0 }, { $lt: 200 }] } })).toBe(false);
    expect(
      matches({
        $or: [
          { $and: [{ currency: "USD" }, { amount: { $gt: 0 } }] },
          { $and: [{ currency: "EUR" }, { $not: { "customer.country": { $in: ["FR"] } } }] },
        ],
      }),
    ).toBe(true);
    // Several entries in one object must all hold.
    expect(matches({ currency: "EUR", amount: { $lt: 0 } })).toBe(false);
  });
});

describe("compileFilter: paths", () => {
  it("dotted paths walk nested objects", () => {
    expect(matches({ "customer.address.city": "Berlin" })).toBe(true);
    expect(matches({ "customer.address.city": "Paris" })).toBe(false);
    expect(matches({ "customer.missing.city": { $exist: false } })).toBe(true);
  });

  it("an array on the path: any element; a numeric segment picks one", () => {
    expect(matches({ "items.sku": "B-2" })).toBe(true);
    expect(matches({ "items.price": { $gt: 90 } })).toBe(true);
    expect(matches({ "items.price": { $gt: 100 } })).toBe(false);
    expect(matches({ "items.0.sku": "A-1" })).toBe(true);
    expect(matches({ "items.1.sku": "A-1" })).toBe(false);
    expect(matches({ "items.2.sku": { $exist: true } })).toBe(false);
    expect(matches({ "tags.1": "b2b" })).toBe(true);
    expect(matches({ "matrix.1.0": 3 })).toBe(true);
    expect(matches({ matrix: { $in: [4] } })).toBe(false); // elements are arrays: one level only
    expect(matches({ matrix: [3, 4] })).toBe(true); // an element equals it
    // A numeric segment on an object is a property name.
    expect(matches({ "byCode.404": "not found" }, { byCode: { "404": "not found" } })).toBe(true);
  });

  it("missing fields and scalars on the way resolve to nothing", () => {
    expect(matches({ "amount.value": { $exist: false } })).toBe(true);
    expect(matches({ "amount.value": 1 })).toBe(false);
    expect(matches({ a: 1 }, null)).toBe(false);
    expect(matches({ a: 1 }, [{ a: 1 }])).toBe(true); // an array payload: any element
    expect(matches({ a: { $exist: false } }, 42)).toBe(true);
  });
});

describe("compileFilter: validation", () => {
  it("names an unknown operator and where it is", () => {
    expect(refused({ amount: { $gtx: 1 } }).message).toBe(
      'filter at amount.$gtx has an unknown operator "$gtx"; use $eq $neq $gt $gte $lt $lte $in $nin $exist $regex $and $or $not',
    );
    expect(refused({ $or: [{ a: 1 }, { "b.c": { $foo: 1 } }] }).message).toMatch(
      /^filter at \$or\[1\]\.b\.c\.\$foo .*"\$foo"/,
    );
    expect(refused({ $where: "1" }).message).toMatch(/^filter at \$where .*"\$where"/);
    expect(refused({ a: { $not: { $exists: true } } }).message).toMatch(/a\.\$not\.\$exists .*"\$exists"/);
  });

  it("refuses malformed operands", () => {
    for (const bad of [
      null,
      [],
      "x",
      { a: { $gt: true } },
      { a: { $gt: null } },
      { a: { $lt: [1] } },
      { a: { $in: "DE" } },
      { a: { $in: [{ x: 1 }] } },
      { a: { $nin: [[1]] } },
      { a: { $exist: "yes" } },
      { a: { $regex: 1 } },
      { a: { $regex: "(" } },
      { a: { $regex: { pattern: "x", flags: "g" } } },
      { a: { $regex: { pattern: "x", flags: "ii" } } },
      { a: { $regex: { pattern: "x", other: 1 } } },
      { $and: [] },
      { $or: {} },
      { $not: [] },
      { a: { $and: "x" } },
      { a: { $eq: 1, b: 2 } },
      { "": 1 },
      { "a..b": 1 },
      { a: { $eq: Number.NaN } },
      { a: { $eq: new Date(0) } },
      { a: { $gt: Number.POSITIVE_INFINITY } },
    ]) {
      refused(bad);
    }
  });

  it("enforces the limits", () => {
    let deep: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < FILTER_LIMITS.depth; i++) deep = { $not: deep };
    expect(refused(deep).message).toMatch(/deeper than 10/);
    const many = Object.fromEntries(Array.from({ length: FILTER_LIMITS.clauses + 1 }, (_, i) => [`f${i}`, i]));
    expect(refused(many).message).toMatch(/more than 64 clauses/);
    expect(compileFilter(Object.fromEntries(Object.entries(many).slice(1)))({})).toBe(false);
    refused({ a: { $in: Array.from({ length: FILTER_LIMITS.inListSize + 1 }, (_, i) => i) } });
    compileFilter({ a: { $in: Array.from({ length: FILTER_LIMITS.inListSize }, (_, i) => i) } });
    expect(refused({ a: { $regex: "a".repeat(257) } }).message).toMatch(/over 256 characters/);
    refused({ ["a".repeat(257)]: 1 });
    refused({ a: { $eq: "x".repeat(FILTER_LIMITS.jsonBytes) } });
  });
});

describe("compileFilter: $regex cannot hang", () => {
  it("refuses patterns that backtrack catastrophically, naming the rule", () => {
    const cases: Array<[string, RegExp]> = [
      ["(a+)+$", /quantified group holds a quantifier/],
      ["^(a*)*b", /quantified group/],
      ["(\\w+\\s?)+$", /quantified group/],
      ["(a|aa)+b", /quantified group holds a quantifier or an alternation/],
      ["(?:x|y){2}z", /quantified group/],
      ["((a+))+c", /quantified group/],
      ["(a)\\1", /backreferences/],
      ["(?<x>a)\\k<x>", /backreferences/],
      ["a*a*a*b", /more than 2 variable-length quantifiers/],
      ["a?a?a?a?a?a?aaaaaa", /more than 2/],
      ["x{1,9}y{2,}z*", /more than 2/],
    ];
    for (const [pattern, why] of cases) {
      const error = refused({ s: { $regex: pattern } });
      expect(error.message).toContain("could backtrack catastrophically");
      expect(error.message).toMatch(why);
    }
  });

  it("accepts ordinary patterns, including quantifiers in classes, escapes and fixed repeats", () => {
    for (const pattern of [
      "^cus_[a-z0-9]+$",
      "^[^@]+@example\\.com$",
      "^(DE|FR|IT)$",
      "^(?:ab){3}$",
      "[*+?{}]",
      "\\*\\+\\{2,\\}",
      "^\\p{L}{2}$",
      "^\\u{1F600}?x",
      "(?<code>\\d{3})",
      "(?=a)a+",
      "^(a+)?b",
      "a+?b*?",
    ]) {
      expect(() => compileFilter({ s: { $regex: pattern } }), pattern).not.toThrow();
    }
  });

  it("looks at a bounded prefix of long strings, so a quadratic pattern stays cheap", () => {
    // Two quantifiers (cubic backtracking): only the first 256 code units are tried.
    const cubic = compileFilter({ s: { $regex: "a*a*b" } });
    expect(cubic({ s: "a".repeat(1_000_000) })).toBe(false);
    expect(cubic({ s: `${"a".repeat(200)}b` })).toBe(true);
    expect(cubic({ s: `${"a".repeat(300)}b` })).toBe(false); // the b lies past the prefix
    // One quantifier: the first 4096 code units.
    const one = compileFilter({ s: { $regex: "a*b" } });
    expect(one({ s: "a".repeat(1_000_000) })).toBe(false);
    expect(one({ s: `${"a".repeat(4000)}b` })).toBe(true);
    expect(one({ s: `${"a".repeat(5000)}b` })).toBe(false);
  });
});

describe("compileFilter: evaluation never throws", () => {
  it("survives payloads that are not JSON or are pathologically deep", () => {
    const evaluate = compileFilter({ "a.b.c": { $gt: 1 }, x: { $exist: true }, "l.k": 1 });
    let nested: unknown = [];
    for (let i = 0; i < 100_000; i++) nested = [nested];
    const hostile = {
      get a() {
        throw new Error("getter");
      },
    };
    for (const payload of [undefined, Symbol("s"), () => 1, 1n, hostile, { l: nested }, Object.create(null)]) {
      expect(typeof evaluate(payload)).toBe("boolean");
    }
  });

  it("property: arbitrary valid filters over arbitrary JSON payloads return a boolean", () => {
    const segment = fc.constantFrom("a", "b", "c", "0", "1", "items", "x.y");
    const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("."));
    const scalar = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -5, max: 5 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom("a", "b", "", "DE"),
    );
    const literal = fc.jsonValue({ maxDepth: 2 });
    const regex = fc.constantFrom("^a", "b$", "\\d+", "^[a-z]*$", "(?:ab)+", ".");
    const { condition } = fc.letrec<{ condition: unknown; operators: unknown }>((tie) => ({
      condition: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        scalar,
        tie("operators"),
        fc.record({ $not: tie("condition") }),
        fc.record({ $or: fc.array(tie("condition"), { minLength: 1, maxLength: 2 }) }),
      ),
      operators: fc.record(
        {
          $eq: literal,
          $neq: literal,
          $gt: fc.oneof(fc.integer(), fc.string()),
          $gte: fc.oneof(fc.integer(), fc.string()),
          $lt: fc.integer(),
          $lte: fc.string(),
          $in: fc.array(scalar, { maxLength: 4 }),
          $nin: fc.array(scalar, { maxLength: 4 }),
          $exist: fc.boolean(),
          $regex: regex,
        },
        { requiredKeys: [] },
      ),
    }));
    const filter = fc.letrec<{ filter: unknown }>((tie) => ({
      filter: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.dictionary(path, condition, { maxKeys: 3 }),
        fc.record({ $and: fc.array(tie("filter"), { minLength: 1, maxLength: 2 }) }),
        fc.record({ $or: fc.array(tie("filter"), { minLength: 1, maxLength: 2 }) }),
        fc.record({ $not: tie("filter") }),
      ),
    })).filter;
    const payload = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(segment, fc.jsonValue({ maxDepth: 3 })),
      fc.record({ a: fc.array(fc.record({ b: fc.jsonValue({ maxDepth: 2 }) }), { maxLength: 3 }) }),
    );
    let cases = 0;
    let matched = 0;
    let compiled = 0;
    fc.assert(
      fc.property(filter, fc.array(payload, { minLength: 1, maxLength: 5 }), (candidate, payloads) => {
        let evaluate: ((payload: unknown) => boolean) | undefined;
        try {
          evaluate = compileFilter(candidate);
          compiled++;
        } catch (error) {
          // Only the limits may refuse a filter built from valid operators.
          expect((error as Error).message).toMatch(/more than 64 clauses|deeper than 10/);
          return;
        }
        for (const value of payloads) {
          cases++;
          const result = evaluate(value);
          expect(typeof result).toBe("boolean");
          if (result) matched++;
          // Evaluating twice gives the same answer: no state is kept between payloads.
          expect(evaluate(value)).toBe(result);
        }
      }),
      { numRuns: 2000 },
    );
    console.log(`filter property: ${compiled} filters compiled, ${cases} evaluations, ${matched} matched`);
    expect(compiled).toBeGreaterThan(1500);
    expect(matched).toBeGreaterThan(0);
    expect(matched).toBeLessThan(cases);
  });
});

describe("EndpointFilters", () => {
  it("compiles once per endpoint version and skips the payload when no endpoint has a filter", () => {
    const errors: string[] = [];
    const filters = new EndpointFilters((id) => errors.push(id));
    const plain = { id: "ep_1", updatedAt: 1 };
    let parsed = 0;
    const payload = () => {
      parsed++;
      return { amount: 5 };
    };
    expect(filters.select([plain], payload)).toEqual([plain]);
    expect(parsed).toBe(0);
    const small = { id: "ep_2", updatedAt: 1, filter: { amount: { $lt: 10 } } };
    const large = { id: "ep_3", updatedAt: 1, filter: { amount: { $gte: 10 } } };
    expect(filters.select([plain, small, large], payload)).toEqual([plain, small]);
    expect(parsed).toBe(1);
    // A new version of the endpoint (updatedAt moved) is compiled again.
    const changed = { ...large, updatedAt: 2, filter: { amount: 5 } };
    expect(filters.select([changed], payload)).toEqual([changed]);
    // A stored filter that does not compile takes nothing and is reported.
    const broken = { id: "ep_4", updatedAt: 1, filter: { amount: { $bogus: 1 } } };
    expect(filters.select([broken], payload)).toEqual([]);
    expect(filters.select([broken], payload)).toEqual([]);
    expect(errors).toEqual(["ep_4"]);
  });
});

describe("payload filters in the engine (SQLite, a real receiver on 127.0.0.1)", () => {
  it("delivers matching messages and creates no delivery for the others; filters are validated when saved", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hookline-filter-"));
    const receiver = await startServer();
    const hl = await createHookline({
      store: sqliteStore({ path: join(dir, "filter.db") }),
      allowPrivateNetworks: true,
    });
    try {
      const big = await hl.endpoints.create({
        url: `${receiver.url}/big`,
        filter: { amount: { $gte: 100 }, "customer.country": { $in: ["DE", "FR"] } },
      });
      const all = await hl.endpoints.create({ url: `${receiver.url}/all` });
      expect(big.filter).toEqual({ amount: { $gte: 100 }, "customer.country": { $in: ["DE", "FR"] } });
      expect(all.filter).toBeUndefined();
      expect((await hl.endpoints.get(big.id)).filter).toEqual(big.filter);

      const sent = [
        { amount: 250, customer: { country: "DE" } }, // both
        { amount: 50, customer: { country: "DE" } }, // too small
        { amount: 500, customer: { country: "US" } }, // wrong country
        { amount: 100, customer: { country: "FR" } }, // both
        { amount: "900", customer: { country: "FR" } }, // a string is not a number
      ];
      const results = [];
      for (const payload of sent) results.push(await hl.send({ eventType: "order.paid", payload }));
      expect(results.map((r) => r.deliveryCount)).toEqual([2, 1, 1, 2, 1]);
      for (const [i, result] of results.entries()) {
        const deliveries = await hl.store.listDeliveries({ messageId: result.messageId });
        const expected = [0, 3].includes(i) ? [all.id, big.id] : [all.id];
        expect(deliveries.data.map((d) => d.endpointId).sort()).toEqual(expected.sort());
      }
      await hl.processDue();
      // Attempts run in parallel: compare what arrived, in any order.
      const bodies = (path: string) =>
        receiver.requests
          .filter((r) => r.url === path)
          .map((r) => JSON.stringify((JSON.parse(r.body) as { payload: unknown }).payload))
          .sort();
      const json = (payloads: unknown[]) => payloads.map((p) => JSON.stringify(p)).sort();
      expect(bodies("/big")).toEqual(json([sent[0], sent[3]]));
      expect(bodies("/all")).toEqual(json(sent));

      // The filter sees the payload's JSON: a Date is its ISO string there.
      await hl.endpoints.update(big.id, { filter: { at: { $regex: "^2026-" }, amount: { $gt: 0 } } });
      const dated = await hl.send({
        eventType: "order.paid",
        payload: { at: new Date(Date.UTC(2026, 0, 2)), amount: 1 },
      });
      expect(dated.deliveryCount).toBe(2);

      // A bad filter is refused when saved, and the endpoint keeps the one it had.
      await expect(hl.endpoints.update(big.id, { filter: { amount: { $gte: 1, $between: [1, 2] } } })).rejects.toThrow(
        /filter at amount\.\$between has an unknown operator "\$between"/,
      );
      await expect(hl.endpoints.create({ url: receiver.url, filter: { s: { $regex: "(a+)+$" } } })).rejects.toThrow(
        ConfigurationError,
      );
      expect((await hl.endpoints.get(big.id)).filter).toEqual({ at: { $regex: "^2026-" }, amount: { $gt: 0 } });

      // Removing the filter takes every payload again.
      await hl.endpoints.update(big.id, { filter: null });
      expect((await hl.endpoints.get(big.id)).filter).toBeUndefined();
      expect((await hl.send({ eventType: "order.paid", payload: { amount: 1 } })).deliveryCount).toBe(2);
    } finally {
      await hl.close({ timeoutMs: 500 });
      await receiver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Page, PageOptions } from "../src/store/store.js";
import { type ServerHarness, type StoreKind, startHarness } from "./server-harness.js";
import { postgresAvailable } from "./support/postgres.js";

const pgAvailable = await postgresAvailable();

/**
 * Random bodies, query strings and path ids against every route the server
 * registers, with the admin key: never a 5xx, the server still answers
 * afterwards, and a request answered with 4xx changes nothing stored.
 */

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

interface Route {
  method: Method;
  /** Fastify syntax: `/api/v1/app/:app_id`. */
  url: string;
  params: string[];
  queryNames: string[];
  bodyFields: string[];
  bodySchema: JsonSchema | null;
}

interface Outcome {
  status: number;
  body: string;
  contentType: string;
}

let harness: ServerHarness | null = null;
let receiver: Server | null = null;

afterEach(async () => {
  await harness?.close();
  harness = null;
  receiver?.closeAllConnections();
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
  receiver = null;
});

const METHODS = new Set<string>(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/**
 * The routes of `server.printRoutes({ commonPrefix: false })`: one line per
 * path segment, indented four characters a level, methods in parentheses.
 */
function parseRouteTree(tree: string): Array<{ method: Method; url: string }> {
  const routes: Array<{ method: Method; url: string }> = [];
  const stack: string[] = [];
  for (const line of tree.split("\n")) {
    const match = /^(.*?)(?:└── |├── )(\S+) \(([^)]+)\)$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? "").length / 4;
    const segment = match[2] ?? "";
    stack.length = depth;
    const url = (stack[depth - 1] ?? "") + segment;
    stack[depth] = url;
    for (const method of (match[3] ?? "").split(", ")) {
      if (METHODS.has(method)) routes.push({ method: method as Method, url: url.replace(/^\/\//, "/") });
    }
  }
  return routes;
}

/** The parts of JSON Schema the request bodies use. */
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
}

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

/** Every registered route, with the query names and body fields /openapi.json documents for it. */
async function enumerateRoutes(h: ServerHarness): Promise<Route[]> {
  await h.server.ready();
  const registered = parseRouteTree(h.server.printRoutes({ commonPrefix: false }));
  const doc = (await h.call("GET", "/openapi.json")).json() as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const documented = new Map<string, OpenApiOperation>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      documented.set(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`, operation);
    }
  }
  // The tree was read right: everything documented is among the routes found.
  const found = new Set(registered.map((route) => `${route.method} ${route.url}`));
  for (const name of documented.keys()) expect(found, name).toContain(name);
  return registered.map(({ method, url }) => {
    const operation = documented.get(`${method} ${url}`);
    const params = [...url.matchAll(/:([A-Za-z_]+)|\*/g)].map((m) => m[1] ?? "*");
    return {
      method,
      url,
      params,
      queryNames: (operation?.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
      bodyFields: Object.keys(operation?.requestBody?.content?.["application/json"]?.schema?.properties ?? {}),
      bodySchema: operation?.requestBody?.content?.["application/json"]?.schema ?? null,
    };
  });
}

async function all<T>(list: (options: PageOptions) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const result = await list({ limit: 250, ...(cursor !== undefined && { cursor }) });
    items.push(...result.data);
    if (result.nextCursor === null) return items;
    cursor = result.nextCursor;
  }
  throw new Error("too many pages");
}

/** What is stored: apps, endpoints, messages and event types, as one comparable text. */
async function snapshot(h: ServerHarness): Promise<string> {
  const apps = await all((o) => h.store.listApps(o));
  const endpoints = await all((o) => h.store.listEndpoints(o));
  const messages = [];
  for (const app of apps) messages.push(...(await all((o) => h.store.listMessages({ ...o, appId: app.id }))));
  const eventTypes = await all((o) => h.hl.eventTypes.list({ ...o, includeArchived: true }));
  return JSON.stringify({ apps, endpoints, messages, eventTypes });
}

/**
 * At least one app with an endpoint, a message and an attempt, and one event
 * type, for valid ids to exist. The endpoint is a local receiver, and the
 * first message is delivered once before the requests start.
 */
async function ensureFixtures(h: ServerHarness, receiverUrl: string): Promise<void> {
  let [app] = (await h.store.listApps({ limit: 1 })).data;
  if (app === undefined) app = await h.hl.apps.create({ name: "fixture", uid: `fixture-${Date.now()}` });
  if ((await h.store.listEndpoints({ appId: app.id, limit: 1 })).data.length === 0) {
    await h.hl.endpoints.create({ appId: app.id, url: receiverUrl });
  }
  if ((await h.store.listMessages({ appId: app.id, limit: 1 })).data.length === 0) {
    await h.hl.send({ appId: app.id, eventType: "user.created", payload: { id: 1 } });
  }
  if ((await h.hl.eventTypes.list({ limit: 1, includeArchived: true })).data.length === 0) {
    await h.hl.eventTypes.create({ name: "user.created", description: "a user signed up" });
  }
}

interface KnownApp {
  ids: string[];
  endpoint_id: string[];
  msg_id: string[];
  attempt_id: string[];
}

/** Ids that exist now: apps (id and uid) with their endpoints, messages and attempts; event types. */
async function knownIds(h: ServerHarness): Promise<{ apps: KnownApp[]; eventTypes: string[] }> {
  const apps: KnownApp[] = [];
  for (const app of (await h.store.listApps({ limit: 10 })).data) {
    const endpoints = (await h.store.listEndpoints({ appId: app.id, limit: 10 })).data;
    const messages = (await h.store.listMessages({ appId: app.id, limit: 10 })).data;
    const attempts = (await h.store.listAttempts({ appId: app.id, limit: 10 })).data;
    apps.push({
      ids: [app.id, ...(app.uid ? [app.uid] : [])],
      endpoint_id: endpoints.map((e) => e.id),
      msg_id: messages.map((m) => m.id),
      attempt_id: attempts.map((a) => a.id),
    });
  }
  const eventTypes = (await h.hl.eventTypes.list({ limit: 20, includeArchived: true })).data.map((t) => t.name);
  return { apps, eventTypes };
}

// ---- generators ------------------------------------------------------------

/** Lone surrogates replaced, so the text can be URL-encoded. */
const wellFormed = (text: string) =>
  text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");

/** A path id: one that exists (chosen at run time), a random one (encoded), or raw odd text. */
type PathId = { kind: "known"; index: number } | { kind: "random"; value: string } | { kind: "raw"; value: string };

const pathIdArb: fc.Arbitrary<PathId> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("known" as const), index: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("random" as const),
      value: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.string({ unit: "binary", maxLength: 40 }).map(wellFormed),
        fc.constantFrom("..", ".", " ", "null", "0", "-1", "app_", "a".repeat(300), "\u0000", "é", "user.created"),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("raw" as const), value: fc.constantFrom("%zz", "%", "a%2Fb") }),
  },
);

const COMMON_QUERY = ["limit", "iterator", "order", "since", "until", "before", "after", "status", "event_types"];

const scalarText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer({ min: -1e12, max: 1e12 }).map(String),
  fc.double().map(String),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom("true", "false", "", "null", "1e400", "NaN", "2024-13-45T99:99:99Z", "x".repeat(2_000)),
);

/** Values aimed at the documented fields, besides any JSON at all. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  scalarText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(scalarText, { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 20 }), scalarText, { maxKeys: 4 }),
  fc.constantFrom("https://example.com/x", "http://127.0.0.1:1/", "whsec_AAAA", "user.created", "not a url"),
);

/** Values a few fields need to be more than well-typed (the engine checks URLs and secrets). */
const FIELD_HINTS: Record<string, fc.Arbitrary<unknown>> = {
  url: fc.constantFrom("https://example.com/hook", "http://127.0.0.1:9/x", "https://[::1]/", "ftp://example.com/"),
  secret: fc.constantFrom("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "raw-secret-of-some-length", "whsk_x"),
  key: fc.constantFrom("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "short"),
  eventType: fc.constantFrom("user.created", "order.paid", "unknown.type"),
  filterTypes: fc.array(fc.constantFrom("user.created", "user.*", "*", "order.paid"), { maxLength: 3 }),
  schemas: fc.oneof(
    fc.constant({ "1": { type: "object", properties: { id: { type: "integer" } }, required: ["id"] } }),
    fc.dictionary(fc.constantFrom("1", "2", "v1", ""), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 2 }),
  ),
};

/** Values that satisfy `schema` (as far as these tests need), so requests get past validation. */
function schemaArb(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((branch) => schemaArb(branch, depth)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => schemaArb({ ...schema, type }, depth)));
  switch (types[0]) {
    case "string": {
      if (schema.format === "date-time") {
        return fc
          .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
          .map((d) => d.toISOString());
      }
      const maxLength = Math.min(schema.maxLength ?? 40, 40);
      const minLength = Math.min(schema.minLength ?? 0, maxLength);
      if (schema.pattern) {
        return fc
          .stringMatching(new RegExp(schema.pattern))
          .filter((text) => text.length >= minLength && text.length <= (schema.maxLength ?? Number.MAX_SAFE_INTEGER));
      }
      return fc.string({ minLength, maxLength });
    }
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000_000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(schemaArb(schema.items ?? {}, depth + 1), { maxLength: Math.min(schema.maxItems ?? 5, 5) });
    case "object":
      if (schema.properties) return objectArb(schema, depth);
      return fc.dictionary(
        fc.string({ minLength: 1, maxLength: 12 }),
        typeof schema.additionalProperties === "object"
          ? schemaArb(schema.additionalProperties, depth + 1)
          : fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 4 },
      );
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** The required properties, and some of the optional ones. */
function objectArb(schema: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const required = new Set(schema.required ?? []);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    model[name] = depth === 0 && FIELD_HINTS[name] ? FIELD_HINTS[name] : schemaArb(property, depth + 1);
  }
  return fc.record(model, { requiredKeys: [...required].filter((name) => name in model) });
}

/** A valid body with one field swapped for anything at all, or an extra field added. */
function mutatedArb(schema: JsonSchema, fields: string[]): fc.Arbitrary<unknown> {
  return fc
    .tuple(objectArb(schema, 0), fc.constantFrom(...fields, "unexpected"), fieldValue)
    .map(([body, field, value]) => ({ ...body, [field]: value }));
}

const jsonBody = (value: fc.Arbitrary<unknown>) => fc.record({ kind: fc.constant("json" as const), value });

interface RequestPlan {
  ids: PathId[];
  query: Array<[string, string]>;
  rawQuery: string | null;
  body: { kind: "none" } | { kind: "json"; value: unknown } | { kind: "raw"; text: string };
  contentType: string;
  idempotencyKey: string | null;
}

function planArb(route: Route): fc.Arbitrary<RequestPlan> {
  const queryName = fc.oneof(fc.constantFrom(...route.queryNames, ...COMMON_QUERY), fc.string({ maxLength: 12 }));
  const hasBody = route.method === "POST" || route.method === "PUT" || route.method === "PATCH";
  const fieldNames = route.bodyFields.length > 0 ? route.bodyFields : ["name"];
  const bodyArb = hasBody
    ? fc.oneof(
        ...(route.bodySchema?.properties
          ? [
              { weight: 4, arbitrary: jsonBody(objectArb(route.bodySchema, 0)) },
              { weight: 3, arbitrary: jsonBody(mutatedArb(route.bodySchema, fieldNames)) },
            ]
          : []),
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant("json" as const),
            value: fc.dictionary(fc.constantFrom(...fieldNames), fieldValue, { maxKeys: 6 }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant("json" as const), value: fc.jsonValue({ maxDepth: 3 }) }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant("raw" as const),
            text: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("{", "[1,", '{"a":}', "\u0000")),
          }),
        },
        { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
      )
    : fc.constant({ kind: "none" as const });
  return fc.record({
    ids: fc.array(pathIdArb, { minLength: route.params.length, maxLength: route.params.length }),
    query: fc.oneof(
      { weight: 1, arbitrary: fc.constant<Array<[string, string]>>([]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(queryName, scalarText), { minLength: 1, maxLength: 4 }) },
    ),
    rawQuery: fc.option(fc.constantFrom("%zz", "limit=%", "a[b]=1&a[b]=2", "limit=1&limit=2", "=&=", "?"), { freq: 8 }),
    body: bodyArb,
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant("application/json") },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "text/plain",
          "application/json; charset=latin1",
          "application/x-www-form-urlencoded",
        ),
      },
    ),
    idempotencyKey: fc.option(
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /^[\x21-\x7e]+$/.test(s)),
      { freq: 6 },
    ),
  });
}

const requestArb = (routes: Route[]) =>
  fc.nat({ max: routes.length - 1 }).chain((index) => planArb(routes[index] as Route).map((plan) => ({ index, plan })));

/** The URL a plan asks for, with ids resolved against what exists now (an endpoint of the app chosen, …). */
function urlOf(route: Route, plan: RequestPlan, known: Awaited<ReturnType<typeof knownIds>>): string {
  let i = 0;
  let app: KnownApp | undefined = known.apps[0];
  const pick = (candidates: readonly string[], index: number) =>
    candidates.length > 0 ? (candidates[index % candidates.length] ?? "") : "none";
  const path = route.url.replace(/:([A-Za-z_]+)|\*/g, (_whole, name: string | undefined) => {
    const id = plan.ids[i++] ?? { kind: "random", value: "x" };
    if (id.kind === "raw") return id.value;
    if (id.kind === "random") return encodeURIComponent(id.value);
    if (name === "app_id") {
      app = known.apps[id.index % Math.max(1, known.apps.length)];
      return encodeURIComponent(pick(app?.ids ?? [], id.index >> 4));
    }
    if (name === "event_type_name") return encodeURIComponent(pick(known.eventTypes, id.index));
    if (name === "endpoint_id" || name === "msg_id" || name === "attempt_id") {
      return encodeURIComponent(pick(app?.[name] ?? [], id.index));
    }
    return encodeURIComponent(pick(["", "index.html", "app.js"], id.index));
  });
  const query = new URLSearchParams(plan.query).toString();
  const parts = [query, plan.rawQuery ?? ""].filter((part) => part.length > 0);
  return parts.length > 0 ? `${path}?${parts.join("&")}` : path;
}

function headersOf(h: ServerHarness, plan: RequestPlan): Record<string, string> {
  const headers: Record<string, string> = { authorization: `Bearer ${h.adminToken}` };
  if (plan.body.kind !== "none") headers["content-type"] = plan.contentType;
  if (plan.idempotencyKey !== null) headers["idempotency-key"] = plan.idempotencyKey;
  return headers;
}

function payloadOf(plan: RequestPlan): string | undefined {
  if (plan.body.kind === "json") return JSON.stringify(plan.body.value) ?? "null";
  if (plan.body.kind === "raw") return plan.body.text;
  return undefined;
}

type Send = (
  method: Method,
  url: string,
  headers: Record<string, string>,
  payload: string | undefined,
) => Promise<Outcome>;

const viaInject =
  (h: ServerHarness): Send =>
  async (method, url, headers, payload) => {
    const response = await h.server.inject({ method, url, headers, ...(payload !== undefined && { payload }) });
    return {
      status: response.statusCode,
      body: response.body,
      contentType: String(response.headers["content-type"] ?? ""),
    };
  };

const viaFetch =
  (base: string): Send =>
  async (method, url, headers, payload) => {
    const response = await fetch(`${base}${url}`, { method, headers, ...(payload !== undefined && { body: payload }) });
    return {
      status: response.status,
      body: await response.text(),
      contentType: response.headers.get("content-type") ?? "",
    };
  };

interface Tally {
  requests: number;
  serverErrors: number;
  rejected: number;
  byStatus: Record<number, number>;
  failures: string[];
}

/** Runs `runs` random requests through `send`, checking each; returns what happened. */
async function explore(
  h: ServerHarness,
  routes: Route[],
  send: Send,
  runs: number,
  seed: number,
  receiverUrl: string,
): Promise<Tally> {
  const tally: Tally = { requests: 0, serverErrors: 0, rejected: 0, byStatus: {}, failures: [] };
  await fc.assert(
    fc.asyncProperty(requestArb(routes), async ({ index, plan }) => {
      const route = routes[index] as Route;
      await ensureFixtures(h, receiverUrl);
      const url = urlOf(route, plan, await knownIds(h));
      const before = await snapshot(h);
      const outcome = await send(route.method, url, headersOf(h, plan), payloadOf(plan));
      tally.requests++;
      tally.byStatus[outcome.status] = (tally.byStatus[outcome.status] ?? 0) + 1;
      const shown = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);
      const where = `${route.method} ${shown(url)} ${shown(JSON.stringify(plan.body) ?? "")} → ${outcome.status} ${shown(outcome.body)}`;
      if (outcome.status >= 500) {
        tally.serverErrors++;
        tally.failures.push(where);
      }
      expect(outcome.status, where).toBeLessThan(500);
      if (outcome.status >= 400) {
        tally.rejected++;
        expect(await snapshot(h), `stored something: ${where}`).toBe(before);
        if (url.startsWith("/api/")) {
          expect(outcome.contentType, where).toMatch(/^application\/json/);
          expect((JSON.parse(outcome.body) as { code?: unknown }).code, where).toEqual(expect.any(String));
        }
      }
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return tally;
}

async function stillServing(base: string): Promise<void> {
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect((await fetch(`${base}/api/v1/health`)).status).toBe(204);
}

function report(label: string, tally: Tally, routes: Route[]): void {
  const statuses = Object.entries(tally.byStatus)
    .map(([status, count]) => `${status}×${count}`)
    .join(" ");
  console.log(
    `property (${label}): ${tally.requests} requests over ${routes.length} routes, ${tally.serverErrors} server errors, ` +
      `${tally.rejected} rejected with nothing stored [${statuses}]`,
  );
}

interface Setup {
  h: ServerHarness;
  base: string;
  routes: Route[];
  receiverUrl: string;
}

/** A listening server, a receiver for its fixture endpoint, and one message delivered to it. */
async function listening(store: StoreKind): Promise<Setup> {
  receiver = createServer((_request, response) => response.writeHead(204).end());
  await new Promise<void>((resolve) => receiver?.listen(0, "127.0.0.1", resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  harness = await startHarness({ store });
  await harness.server.listen({ host: "127.0.0.1", port: 0 });
  const { port } = harness.server.server.address() as AddressInfo;
  const routes = await enumerateRoutes(harness);
  await ensureFixtures(harness, receiverUrl);
  await harness.hl.processDue();
  expect((await harness.store.listAttempts({ limit: 1 })).data).toHaveLength(1);
  return { h: harness, base: `http://127.0.0.1:${port}`, routes, receiverUrl };
}

describe("random requests to every route", () => {
  // A failure prints its seed; HOOKLINE_PROPERTY_SEED replays it, HOOKLINE_PROPERTY_RUNS explores further.
  const seed = Number(process.env.HOOKLINE_PROPERTY_SEED ?? Date.now() % 2 ** 31);
  const runs = Number(process.env.HOOKLINE_PROPERTY_RUNS ?? 2_000);

  it("finds every route the server registers", async () => {
    const { routes } = await listening("memory");
    const names = routes.map((route) => `${route.method} ${route.url}`);
    expect(names).toContain("POST /api/v1/app/:app_id/msg");
    expect(names).toContain("PATCH /api/v1/app/:app_id/endpoint/:endpoint_id/headers");
    expect(names).toContain("GET /api/v1/health");
    expect(routes.length).toBeGreaterThanOrEqual(40);
  });

  /** One run of `count` random requests on a fresh server over `store`. */
  async function run(store: StoreKind, transport: "inject" | "fetch", count: number, runSeed: number): Promise<void> {
    const { h, base, routes, receiverUrl } = await listening(store);
    const tally = await explore(
      h,
      routes,
      transport === "inject" ? viaInject(h) : viaFetch(base),
      count,
      runSeed,
      receiverUrl,
    );
    report(`${store}, ${transport === "inject" ? "inject" : "fetch over 127.0.0.1"}, seed ${runSeed}`, tally, routes);
    expect(tally.serverErrors).toBe(0);
    expect(tally.requests).toBe(count);
    await stillServing(base);
  }

  it("never answers 5xx and stores nothing from a rejected request (memory store, in process)", async () => {
    await run("memory", "inject", runs, seed);
  }, 60_000);

  it("never answers 5xx and stores nothing from a rejected request (SQLite store, real socket)", async () => {
    await run("sqlite", "fetch", Math.ceil(runs / 5), seed + 1);
  }, 60_000);

  it.skipIf(!pgAvailable)(
    "never answers 5xx and stores nothing from a rejected request (PostgreSQL store, real socket)",
    async () => {
      await run("postgres", "fetch", Math.ceil(runs / 5), seed + 2);
    },
    60_000,
  );

  it.skipIf(!pgAvailable)("answers 400 to NUL characters PostgreSQL cannot store, and stores nothing", async () => {
    const { h, base } = await listening("postgres");
    const [app] = (await h.store.listApps({ limit: 1 })).data;
    if (app === undefined) throw new Error("no fixture app");
    const before = await snapshot(h);
    const cases: Array<[Method, string, unknown]> = [
      ["GET", "/api/v1/app/a%00b", undefined],
      ["GET", `/api/v1/app/${app.id}/endpoint/%00`, undefined],
      ["GET", `/api/v1/app/${app.id}/msg?iterator=%00`, undefined],
      ["POST", "/api/v1/app", { name: "a\u0000b" }],
      ["POST", `/api/v1/app/${app.id}/endpoint`, { url: "https://example.com/", description: "x\u0000" }],
      ["POST", `/api/v1/app/${app.id}/msg`, { eventType: "user.created", payload: {}, eventId: "e\u0000" }],
    ];
    for (const [method, url, body] of cases) {
      const response = await fetch(`${base}${url}`, {
        method,
        headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      expect([method, url, response.status, await response.json()]).toEqual([
        method,
        url,
        400,
        { code: "bad_request", detail: "text must not contain the NUL character (U+0000)" },
      ]);
    }
    expect(await snapshot(h)).toBe(before);
  });
});

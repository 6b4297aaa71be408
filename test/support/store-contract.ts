import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "../../src/core/ids.js";
import type {
  AppRecord,
  AttemptRecord,
  ClaimedDelivery,
  ClaimOptions,
  Completion,
  DeliveryRecord,
  DeliveryStatus,
  EndpointRecord,
  MessageRecord,
  Page,
  PageOptions,
  Store,
} from "../../src/store/store.js";

export interface StoreHarness {
  store: Store;
  cleanup(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Record factories. Every time is an integer ms passed in; ids come from
// newId, so records created later in a test have larger ids (ids are the
// paging order).
// ---------------------------------------------------------------------------

/** The suite's epoch: every time in the contract tests is an offset from it. */
export const T0 = Date.UTC(2026, 0, 1);
const LEASE_MS = 30_000;
const HOUR_MS = 3_600_000;

export function makeApp(overrides: Partial<AppRecord> = {}): AppRecord {
  return { id: newId("app"), uid: null, name: "Test app", metadata: {}, createdAt: T0, updatedAt: T0, ...overrides };
}

export function makeEndpoint(appId: string, overrides: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: newId("ep"),
    appId,
    uid: null,
    url: "https://example.com/hook",
    description: "",
    secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expiresAt: null }],
    eventTypes: [],
    channels: null,
    headers: {},
    metadata: {},
    rateLimitPerSecond: null,
    signatureAlgorithm: "hmac_sha256",
    timeoutMs: 15_000,
    disabled: false,
    disabledReason: null,
    failingSince: null,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function makeMessage(appId: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  const id = newId("msg");
  return {
    id,
    appId,
    eventId: `evt_${id.slice(4)}`,
    eventType: "user.created",
    body: '{"event_id":"e","event_type":"user.created","payload":{"id":1},"source":"test","timestamp":"2026-01-01T00:00:00Z"}',
    bodyFormat: "envelope",
    channels: null,
    tags: null,
    createdAt: T0,
    ...overrides,
  };
}

export function makeDelivery(
  message: MessageRecord,
  endpointId: string,
  overrides: Partial<DeliveryRecord> = {},
): DeliveryRecord {
  return {
    id: newId("dlv"),
    messageId: message.id,
    endpointId,
    appId: message.appId,
    status: "pending",
    attemptCount: 0,
    nextAttemptAt: message.createdAt,
    leaseOwner: null,
    nextTrigger: "scheduled",
    lastStatusCode: null,
    lastError: null,
    createdAt: message.createdAt,
    updatedAt: message.createdAt,
    ...overrides,
  };
}

export function makeAttempt(delivery: DeliveryRecord, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    id: newId("att"),
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    appId: delivery.appId,
    number: delivery.attemptCount + 1,
    startedAt: T0,
    durationMs: 12,
    statusCode: 200,
    responseExcerpt: "ok",
    errorCode: null,
    error: null,
    trigger: delivery.nextTrigger,
    succeeded: true,
    ...overrides,
  };
}

interface CompletionSpec {
  /** The time the attempt started (also the attempt's startedAt). */
  at: number;
  status?: Completion["status"];
  nextAttemptAt?: number | null;
  outcome?: Completion["endpointOutcome"];
  statusCode?: number | null;
  error?: string | null;
  errorCode?: string | null;
}

/** A completion for a claimed delivery; defaults to a 200 that delivers it. */
export function makeCompletion(delivery: DeliveryRecord, owner: string, spec: CompletionSpec): Completion {
  const status = spec.status ?? "delivered";
  const succeeded = (spec.outcome ?? "succeeded") === "succeeded";
  return {
    deliveryId: delivery.id,
    owner,
    status,
    nextAttemptAt: spec.nextAttemptAt ?? null,
    endpointOutcome: spec.outcome ?? "succeeded",
    attempt: makeAttempt(delivery, {
      startedAt: spec.at,
      statusCode: spec.statusCode === undefined ? (succeeded ? 200 : 500) : spec.statusCode,
      responseExcerpt: succeeded ? "ok" : "boom",
      error: spec.error === undefined ? (succeeded ? null : "HTTP 500") : spec.error,
      errorCode: spec.errorCode ?? null,
      succeeded,
    }),
  };
}

function must<T>(value: T | null | undefined, what = "value"): T {
  if (value === null || value === undefined) throw new Error(`expected ${what} to exist`);
  return value;
}

const ids = (rows: ReadonlyArray<{ id: string }>): string[] => rows.map((r) => r.id);
const sortedIds = (rows: ReadonlyArray<{ id: string }>): string[] => ids(rows).sort();
const claimedIds = (claimed: ReadonlyArray<ClaimedDelivery>): string[] => claimed.map((c) => c.delivery.id).sort();
const newestFirst = (rows: ReadonlyArray<{ id: string }>): string[] => ids(rows).sort().reverse();

/** Walks every page; returns the pages' rows in order. */
async function walk<T extends { id: string }>(
  list: (options: PageOptions) => Promise<Page<T>>,
  limit: number,
): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await list(cursor === undefined ? { limit } : { limit, cursor });
    pages.push(page.data);
    if (page.nextCursor === null) return pages;
    expect(page.data).toHaveLength(limit);
    cursor = page.nextCursor;
  }
  throw new Error("paging never reached a page with nextCursor null");
}

// ---------------------------------------------------------------------------
// Store fixtures.
// ---------------------------------------------------------------------------

async function seedApp(store: Store, overrides: Partial<AppRecord> = {}): Promise<AppRecord> {
  const app = makeApp(overrides);
  await store.createApp(app);
  return app;
}

async function seedEndpoint(
  store: Store,
  appId: string,
  overrides: Partial<EndpointRecord> = {},
): Promise<EndpointRecord> {
  const endpoint = makeEndpoint(appId, overrides);
  await store.createEndpoint(endpoint);
  return endpoint;
}

/** One message fanned out to the given endpoints. */
async function enqueue(
  store: Store,
  appId: string,
  endpointIds: readonly string[],
  options: { message?: Partial<MessageRecord>; delivery?: Partial<DeliveryRecord> } = {},
): Promise<{ message: MessageRecord; deliveries: DeliveryRecord[] }> {
  const message = makeMessage(appId, options.message);
  const deliveries = endpointIds.map((endpointId) => makeDelivery(message, endpointId, options.delivery));
  const result = await store.insertMessage(message, deliveries);
  expect(result.created).toBe(true);
  return { message, deliveries };
}

/** One delivery for the endpoint (in its own message) with the given fields. */
async function seedDelivery(
  store: Store,
  endpoint: EndpointRecord,
  delivery: Partial<DeliveryRecord> = {},
): Promise<DeliveryRecord> {
  const { deliveries } = await enqueue(store, endpoint.appId, [endpoint.id], { delivery });
  return must(deliveries[0]);
}

/** `count` pending deliveries of one endpoint, due at firstDueAt, firstDueAt + stepMs, … (all at once by default). */
async function seedDue(
  store: Store,
  endpoint: EndpointRecord,
  count: number,
  firstDueAt: number,
  stepMs = 0,
): Promise<DeliveryRecord[]> {
  const out: DeliveryRecord[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await seedDelivery(store, endpoint, { nextAttemptAt: firstDueAt + i * stepMs }));
  }
  return out;
}

function claimOptions(owner: string, now: number, overrides: Partial<ClaimOptions> = {}): ClaimOptions {
  return { owner, now, leaseMs: LEASE_MS, limit: 100, perEndpointLimit: 100, ...overrides };
}

async function expectInvalidLimit(call: () => Promise<unknown>): Promise<void> {
  // Wrapped so a store that throws synchronously is judged the same as one that rejects.
  await expect((async () => call())()).rejects.toMatchObject({ code: "HOOKLINE_CONFIGURATION_INVALID" });
}

const NO_EFFECTS = { failingEndpoints: [], disabledEndpoints: [], lostLeases: [] };

/** Registers the contract tests (a vitest describe block named `store contract: ${name}`); `open` gives a fresh, migrated, empty store for each test. */
export function describeStoreContract(
  name: string,
  open: () => Promise<StoreHarness>,
  options?: { skip?: boolean },
): void {
  describe.skipIf(options?.skip === true)(`store contract: ${name}`, () => {
    let harness: StoreHarness | undefined;
    let store: Store;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });

    afterEach(async () => {
      const current = harness;
      harness = undefined;
      await current?.cleanup();
    });

    // -----------------------------------------------------------------------
    describe("lifecycle", () => {
      it("answers ping, names its kind, and migrate again (even twice at once) keeps the data", async () => {
        expect(["memory", "sqlite", "postgres"]).toContain(store.kind);
        await store.ping();
        const app = await seedApp(store);
        await Promise.all([store.migrate(), store.migrate()]);
        await store.ping();
        expect(await store.getApp(app.id)).toEqual(app);
      });
    });

    // -----------------------------------------------------------------------
    describe("apps", () => {
      it("creates and gets an app by id and by uid, exactly as written", async () => {
        const plain = await seedApp(store, { name: "plain" });
        const named = await seedApp(store, {
          uid: "acme-prod",
          name: "Acme ✓ «prod»",
          metadata: { team: "billing", kéy: "välue", empty: "" },
          createdAt: T0 + 1,
          updatedAt: T0 + 2,
        });
        expect(await store.getApp(plain.id)).toEqual(plain);
        expect(await store.getApp(named.id)).toEqual(named);
        expect(await store.getApp("acme-prod")).toEqual(named);
        expect(await store.getApp("app_unknown")).toBeNull();
        expect(await store.getApp("acme")).toBeNull();
      });

      it("returns copies: mutating a written or returned record changes nothing stored", async () => {
        const app = makeApp({ metadata: { a: "1" } });
        await store.createApp(app);
        const stored = structuredClone(app);
        app.name = "mutated";
        app.metadata.a = "2";
        const got = must(await store.getApp(app.id));
        expect(got).toEqual(stored);
        got.metadata.a = "3";
        got.name = "mutated again";
        expect(await store.getApp(app.id)).toEqual(stored);
      });

      it("rejects a second app with a uid already taken", async () => {
        await seedApp(store, { uid: "dup" });
        await expect((async () => store.createApp(makeApp({ uid: "dup" })))()).rejects.toThrow();
        expect((await store.listApps({})).data).toHaveLength(1);
      });

      it("lists apps newest first", async () => {
        const created = [await seedApp(store), await seedApp(store), await seedApp(store)];
        const page = await store.listApps({});
        expect(ids(page.data)).toEqual(newestFirst(created));
        expect(page.data[0]).toEqual(created[2]);
        expect(page.nextCursor).toBeNull();
      });

      it("lists oldest first with order ascending, each page's cursor walking up, and back down from any id", async () => {
        const created: AppRecord[] = [];
        for (let i = 0; i < 5; i++) created.push(await seedApp(store));
        const oldestFirst = ids(created).sort();
        const pages = await walk((options) => store.listApps({ ...options, order: "ascending" }), 2);
        expect(pages.map(ids)).toEqual([oldestFirst.slice(0, 2), oldestFirst.slice(2, 4), oldestFirst.slice(4)]);
        const above = await store.listApps({ order: "ascending", cursor: must(oldestFirst[1]), limit: 2 });
        expect(ids(above.data)).toEqual(oldestFirst.slice(2, 4));
        expect(above.nextCursor).toBe(oldestFirst[3]);
        const below = await store.listApps({ cursor: must(oldestFirst[3]), limit: 10 });
        expect(ids(below.data)).toEqual(oldestFirst.slice(0, 3).reverse());
        expect(below.nextCursor).toBeNull();
      });

      it("updateApp changes only the given fields, sets updatedAt, and returns the record", async () => {
        const app = await seedApp(store, { uid: "old-uid", name: "old", metadata: { keep: "me" } });
        const renamed = await store.updateApp(app.id, { name: "new" }, T0 + 100);
        const expected = { ...app, name: "new", updatedAt: T0 + 100 };
        expect(renamed).toEqual(expected);
        expect(await store.getApp(app.id)).toEqual(expected);

        const moved = await store.updateApp(app.id, { uid: "new-uid", metadata: { other: "x" } }, T0 + 200);
        expect(moved).toEqual({ ...expected, uid: "new-uid", metadata: { other: "x" }, updatedAt: T0 + 200 });
        expect(await store.getApp("new-uid")).toEqual(moved);
        expect(await store.getApp("old-uid")).toBeNull();

        const cleared = await store.updateApp(app.id, { uid: null }, T0 + 300);
        expect(cleared?.uid).toBeNull();
        expect(await store.getApp("new-uid")).toBeNull();
        expect(await store.updateApp("app_unknown", { name: "x" }, T0)).toBeNull();
      });

      it("updateApp leaves fields that are present but undefined unchanged", async () => {
        const app = await seedApp(store, { uid: "u1", name: "n", metadata: { a: "b" } });
        const updated = await store.updateApp(app.id, { uid: undefined, name: "m", metadata: undefined }, T0 + 5);
        const expected = { ...app, name: "m", updatedAt: T0 + 5 };
        expect(updated).toEqual(expected);
        expect(await store.getApp("u1")).toEqual(expected);
      });

      it("updateApp rejects a uid another app holds", async () => {
        await seedApp(store, { uid: "taken" });
        const other = await seedApp(store, { uid: "mine" });
        await expect((async () => store.updateApp(other.id, { uid: "taken" }, T0 + 1))()).rejects.toThrow();
        expect((await store.getApp("taken"))?.id).not.toBe(other.id);
        expect(await store.getApp("mine")).toEqual(other);
      });

      it("deleteApp removes the app with its endpoints, messages, deliveries and attempts, and nothing else", async () => {
        const doomed = await seedApp(store, { uid: "doomed" });
        const kept = await seedApp(store);
        const doomedEp = await seedEndpoint(store, doomed.id);
        const keptEp = await seedEndpoint(store, kept.id);
        const gone = await enqueue(store, doomed.id, [doomedEp.id], { delivery: { nextAttemptAt: T0 } });
        const stays = await enqueue(store, kept.id, [keptEp.id], { delivery: { nextAttemptAt: T0 } });
        const claimed = await store.claimDue(claimOptions("w1", T0));
        expect(claimed).toHaveLength(2);
        await store.complete(
          claimed.map((c) => makeCompletion(c.delivery, "w1", { at: T0 + 1 })),
          T0 + 1,
          HOUR_MS,
        );

        expect(await store.deleteApp(doomed.id)).toBe(true);
        expect(await store.getApp(doomed.id)).toBeNull();
        expect(await store.getApp("doomed")).toBeNull();
        expect(await store.getEndpoint(doomedEp.id)).toBeNull();
        expect(await store.getMessage(gone.message.id)).toBeNull();
        expect(await store.getDelivery(must(gone.deliveries[0]).id)).toBeNull();
        expect((await store.listEndpoints({ appId: doomed.id })).data).toEqual([]);
        expect((await store.listMessages({ appId: doomed.id })).data).toEqual([]);
        expect((await store.listDeliveries({ appId: doomed.id })).data).toEqual([]);
        expect((await store.listAttempts({ appId: doomed.id })).data).toEqual([]);
        expect((await store.listAttempts({ deliveryId: must(gone.deliveries[0]).id })).data).toEqual([]);
        expect(await store.countDeliveries({ appId: doomed.id })).toEqual({
          pending: 0,
          sending: 0,
          delivered: 0,
          failed: 0,
          cancelled: 0,
        });

        expect(await store.getApp(kept.id)).toEqual(kept);
        expect(await store.getEndpoint(keptEp.id)).toEqual(keptEp);
        expect(await store.getMessage(stays.message.id)).toEqual(stays.message);
        expect((await store.getDelivery(must(stays.deliveries[0]).id))?.status).toBe("delivered");
        expect((await store.listAttempts({})).data.map((a) => a.appId)).toEqual([kept.id]);
        expect(ids((await store.listApps({})).data)).toEqual([kept.id]);

        expect(await store.deleteApp(doomed.id)).toBe(false);
        expect(await store.deleteApp("app_unknown")).toBe(false);
      });

      it("after deleteApp the same event id can be sent again under a new app", async () => {
        const app = await seedApp(store);
        await enqueue(store, app.id, [], { message: { eventId: "evt-reused" } });
        expect(await store.deleteApp(app.id)).toBe(true);
        const again = await seedApp(store);
        const result = await store.insertMessage(makeMessage(again.id, { eventId: "evt-reused" }), []);
        expect(result.created).toBe(true);
      });
    });

    // -----------------------------------------------------------------------
    describe("endpoints", () => {
      it("round-trips every field, JSON fields exactly (secrets with expiry, null vs empty vs filled lists)", async () => {
        const app = await seedApp(store);
        const rich = await seedEndpoint(store, app.id, {
          uid: "ep-uid",
          url: "https://hooks.example.com/in?x=1&y=ü",
          description: 'Ünïcode ✓ and "quotes"\nnewline',
          secrets: [
            { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expiresAt: null },
            { secret: "whsec_b2xkIG9uZSBzdGlsbCBpbiBncmFjZQ==", expiresAt: T0 + 86_400_000 },
          ],
          eventTypes: ["user.created", "invoice.*"],
          channels: ["eu", "project-1"],
          headers: { "X-Tenant": "acme", "X-Ünicode": "välue ✓" },
          metadata: { owner: "ops", "with space": "a b" },
          rateLimitPerSecond: 25,
          signatureAlgorithm: "hmac_sha512",
          timeoutMs: 4_500,
          disabled: true,
          disabledReason: "manual",
          failingSince: T0 - 60_000,
          createdAt: T0 + 7,
          updatedAt: T0 + 9,
        });
        const emptyChannels = await seedEndpoint(store, app.id, { channels: [] });
        const minimal = await seedEndpoint(store, app.id, { secrets: [], eventTypes: [], channels: null });

        expect(await store.getEndpoint(rich.id)).toEqual(rich);
        expect(await store.getEndpoint(emptyChannels.id)).toEqual(emptyChannels);
        expect(await store.getEndpoint(minimal.id)).toEqual(minimal);
        expect((await store.getEndpoint(emptyChannels.id))?.channels).toEqual([]);
        expect((await store.getEndpoint(minimal.id))?.channels).toBeNull();
        expect((await store.listEndpoints({ appId: app.id })).data).toEqual([minimal, emptyChannels, rich]);
        expect(await store.getEndpoint("ep_unknown")).toBeNull();
      });

      it("lists endpoints newest first, filtered by app", async () => {
        const a = await seedApp(store);
        const b = await seedApp(store);
        const a1 = await seedEndpoint(store, a.id);
        const b1 = await seedEndpoint(store, b.id);
        const a2 = await seedEndpoint(store, a.id);
        const a3 = await seedEndpoint(store, a.id);
        expect(ids((await store.listEndpoints({ appId: a.id })).data)).toEqual([a3.id, a2.id, a1.id]);
        expect(ids((await store.listEndpoints({ appId: b.id })).data)).toEqual([b1.id]);
        expect(ids((await store.listEndpoints({})).data)).toEqual([a3.id, a2.id, b1.id, a1.id]);
        const first = await store.listEndpoints({ appId: a.id, limit: 2 });
        expect(ids(first.data)).toEqual([a3.id, a2.id]);
        expect(first.nextCursor).not.toBeNull();
        const second = await store.listEndpoints({ appId: a.id, limit: 2, cursor: must(first.nextCursor) });
        expect(ids(second.data)).toEqual([a1.id]);
        expect(second.nextCursor).toBeNull();
      });

      it("updateEndpoint changes only the given fields, sets updatedAt, and returns the record", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id, {
          uid: "u",
          description: "keep me",
          channels: ["a"],
          headers: { "X-A": "1" },
          rateLimitPerSecond: 5,
        });
        const other = await seedEndpoint(store, app.id);

        const step1 = await store.updateEndpoint(
          endpoint.id,
          { url: "https://new.example.com/", channels: null },
          T0 + 10,
        );
        const expected1 = { ...endpoint, url: "https://new.example.com/", channels: null, updatedAt: T0 + 10 };
        expect(step1).toEqual(expected1);
        expect(await store.getEndpoint(endpoint.id)).toEqual(expected1);

        const patch2 = {
          uid: null,
          secrets: [
            { secret: "whsec_bmV3IHNlY3JldA==", expiresAt: null },
            { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expiresAt: T0 + 1000 },
          ],
          eventTypes: ["order.*"],
          channels: [] as string[],
          headers: { "X-B": "2" },
          metadata: { m: "n" },
          rateLimitPerSecond: null,
          signatureAlgorithm: "hmac_sha512" as const,
          timeoutMs: 1234,
          disabled: true,
          disabledReason: "manual",
          failingSince: T0 + 5,
        };
        const step2 = await store.updateEndpoint(endpoint.id, patch2, T0 + 20);
        const expected2 = { ...expected1, ...patch2, updatedAt: T0 + 20 };
        expect(step2).toEqual(expected2);
        expect(await store.getEndpoint(endpoint.id)).toEqual(expected2);

        const step3 = await store.updateEndpoint(
          endpoint.id,
          { disabled: false, disabledReason: null, failingSince: null, channels: ["z"] },
          T0 + 30,
        );
        const expected3 = {
          ...expected2,
          disabled: false,
          disabledReason: null,
          failingSince: null,
          channels: ["z"],
          updatedAt: T0 + 30,
        };
        expect(step3).toEqual(expected3);
        expect(await store.getEndpoint(endpoint.id)).toEqual(expected3);

        expect(await store.getEndpoint(other.id)).toEqual(other);
        expect(await store.updateEndpoint("ep_unknown", { url: "https://x.example.com/" }, T0)).toBeNull();
      });

      it("updateEndpoint leaves fields that are present but undefined unchanged", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id, { uid: "keep", description: "d", channels: ["c"] });
        const updated = await store.updateEndpoint(
          endpoint.id,
          { url: "https://other.example.com/", uid: undefined, description: undefined, channels: undefined },
          T0 + 1,
        );
        const expected = { ...endpoint, url: "https://other.example.com/", updatedAt: T0 + 1 };
        expect(updated).toEqual(expected);
        expect(await store.getEndpoint(endpoint.id)).toEqual(expected);
      });

      it("deleteEndpoint removes the endpoint with its deliveries and attempts, keeping messages and other endpoints", async () => {
        const app = await seedApp(store);
        const doomed = await seedEndpoint(store, app.id);
        const kept = await seedEndpoint(store, app.id);
        const { message, deliveries } = await enqueue(store, app.id, [doomed.id, kept.id], {
          delivery: { nextAttemptAt: T0 },
        });
        const claimed = await store.claimDue(claimOptions("w1", T0));
        expect(claimed).toHaveLength(2);
        await store.complete(
          claimed.map((c) => makeCompletion(c.delivery, "w1", { at: T0 + 1 })),
          T0 + 1,
          HOUR_MS,
        );
        const [doomedDelivery, keptDelivery] = deliveries.map((d) => must(d));

        expect(await store.deleteEndpoint(doomed.id)).toBe(true);
        expect(await store.getEndpoint(doomed.id)).toBeNull();
        expect(await store.getDelivery(must(doomedDelivery).id)).toBeNull();
        expect((await store.listDeliveries({ endpointId: doomed.id })).data).toEqual([]);
        expect((await store.listAttempts({ endpointId: doomed.id })).data).toEqual([]);
        expect((await store.listAttempts({ deliveryId: must(doomedDelivery).id })).data).toEqual([]);
        expect(await store.countDeliveries({ endpointId: doomed.id })).toEqual({
          pending: 0,
          sending: 0,
          delivered: 0,
          failed: 0,
          cancelled: 0,
        });

        expect(await store.getMessage(message.id)).toEqual(message);
        expect(await store.getEndpoint(kept.id)).toEqual(kept);
        expect((await store.getDelivery(must(keptDelivery).id))?.status).toBe("delivered");
        expect((await store.listAttempts({ messageId: message.id })).data.map((a) => a.endpointId)).toEqual([kept.id]);

        expect(await store.deleteEndpoint(doomed.id)).toBe(false);
        expect(await store.deleteEndpoint("ep_unknown")).toBe(false);
      });

      it("enabledEndpoints gives the app's endpoints that are not disabled", async () => {
        const app = await seedApp(store);
        const other = await seedApp(store);
        const on1 = await seedEndpoint(store, app.id);
        await seedEndpoint(store, app.id, { disabled: true, disabledReason: "manual" });
        const on2 = await seedEndpoint(store, app.id, { failingSince: T0 });
        await seedEndpoint(store, other.id);
        const switchedOff = await seedEndpoint(store, app.id);
        await store.updateEndpoint(switchedOff.id, { disabled: true, disabledReason: "manual" }, T0 + 1);

        const enabled = await store.enabledEndpoints(app.id);
        expect(sortedIds(enabled)).toEqual(sortedIds([on1, on2]));
        expect(enabled.find((e) => e.id === on2.id)).toEqual(on2);
        expect(await store.enabledEndpoints("app_unknown")).toEqual([]);
      });
    });

    // -----------------------------------------------------------------------
    describe("messages", () => {
      it("insertMessage writes the message and its deliveries exactly", async () => {
        const app = await seedApp(store);
        const e1 = await seedEndpoint(store, app.id);
        const e2 = await seedEndpoint(store, app.id);
        const message = makeMessage(app.id, {
          eventId: "evt-1",
          eventType: "invoice.paid",
          body: '{"amount":12.5,"note":"ünïcode ✓ 🎉","nested":{"a":[1,2]}}  \r\n\ttrailing ',
          bodyFormat: "payload",
          channels: ["eu"],
          tags: ["t1", "t2"],
          createdAt: T0 + 3,
        });
        const deliveries = [
          makeDelivery(message, e1.id, { nextAttemptAt: T0 + 3 }),
          makeDelivery(message, e2.id, { nextAttemptAt: T0 + 10, nextTrigger: "manual" }),
        ];
        const result = await store.insertMessage(message, deliveries);
        expect(result).toEqual({ message, deliveryCount: 2, created: true });
        expect(await store.getMessage(message.id)).toEqual(message);
        expect(await store.getDelivery(must(deliveries[0]).id)).toEqual(deliveries[0]);
        expect(await store.getDelivery(must(deliveries[1]).id)).toEqual(deliveries[1]);
        expect((await store.listDeliveries({ messageId: message.id })).data).toEqual([...deliveries].reverse());

        const bare = makeMessage(app.id, { channels: [], tags: [] });
        expect(await store.insertMessage(bare, [])).toEqual({ message: bare, deliveryCount: 0, created: true });
        expect(await store.getMessage(bare.id)).toEqual(bare);
        expect(await store.getMessage("msg_unknown")).toBeNull();
      });

      it("addDelivery adds a delivery to a stored message, listed and claimable like the others", async () => {
        const app = await seedApp(store);
        const e1 = await seedEndpoint(store, app.id);
        const e2 = await seedEndpoint(store, app.id);
        const { message, deliveries } = await enqueue(store, app.id, [e1.id]);
        const added = makeDelivery(message, e2.id, { nextTrigger: "manual", nextAttemptAt: T0 + 5 });
        await store.addDelivery(added);
        expect(await store.getDelivery(added.id)).toEqual(added);
        expect(sortedIds((await store.listDeliveries({ messageId: message.id })).data)).toEqual(
          sortedIds([...deliveries, added]),
        );
        const claimed = await store.claimDue(claimOptions("w1", T0 + 5, { excludeEndpointIds: [e1.id] }));
        expect(claimedIds(claimed)).toEqual([added.id]);
      });

      it("is idempotent on (appId, eventId): a repeat returns the first message and writes nothing", async () => {
        const app = await seedApp(store);
        const e1 = await seedEndpoint(store, app.id);
        const e2 = await seedEndpoint(store, app.id);
        const first = makeMessage(app.id, { eventId: "evt-dup", body: '{"v":1}' });
        const firstDeliveries = [makeDelivery(first, e1.id), makeDelivery(first, e2.id)];
        expect((await store.insertMessage(first, firstDeliveries)).created).toBe(true);

        const second = makeMessage(app.id, { eventId: "evt-dup", body: '{"v":2}', eventType: "other.type" });
        const secondDeliveries = [makeDelivery(second, e1.id)];
        const repeat = await store.insertMessage(second, secondDeliveries);
        expect(repeat).toEqual({ message: first, deliveryCount: 2, created: false });
        expect(await store.getMessage(second.id)).toBeNull();
        expect(await store.getDelivery(must(secondDeliveries[0]).id)).toBeNull();
        expect((await store.listDeliveries({ messageId: second.id })).data).toEqual([]);
        expect((await store.listDeliveries({ appId: app.id })).data).toHaveLength(2);
        expect(ids((await store.listMessages({ appId: app.id })).data)).toEqual([first.id]);
      });

      it("the same event id in another app is a separate message", async () => {
        const a = await seedApp(store);
        const b = await seedApp(store);
        const eb = await seedEndpoint(store, b.id);
        const inA = makeMessage(a.id, { eventId: "evt-shared" });
        const inB = makeMessage(b.id, { eventId: "evt-shared" });
        expect((await store.insertMessage(inA, [])).created).toBe(true);
        const result = await store.insertMessage(inB, [makeDelivery(inB, eb.id)]);
        expect(result).toEqual({ message: inB, deliveryCount: 1, created: true });
        expect(await store.getMessage(inA.id)).toEqual(inA);
        expect(await store.getMessage(inB.id)).toEqual(inB);
      });

      it("two concurrent inserts of one event id create exactly one message", async () => {
        const app = await seedApp(store);
        const e1 = await seedEndpoint(store, app.id);
        const e2 = await seedEndpoint(store, app.id);
        const m1 = makeMessage(app.id, { eventId: "evt-race" });
        const m2 = makeMessage(app.id, { eventId: "evt-race" });
        const [r1, r2] = await Promise.all([
          store.insertMessage(m1, [makeDelivery(m1, e1.id)]),
          store.insertMessage(m2, [makeDelivery(m2, e1.id), makeDelivery(m2, e2.id)]),
        ]);
        expect([r1.created, r2.created].sort()).toEqual([false, true]);
        const winner = r1.created ? r1 : r2;
        expect(r1.message).toEqual(winner.message);
        expect(r2.message).toEqual(winner.message);
        expect(r1.deliveryCount).toBe(winner.deliveryCount);
        expect(r2.deliveryCount).toBe(winner.deliveryCount);
        const all = await store.listDeliveries({ appId: app.id });
        expect(all.data).toHaveLength(winner.deliveryCount);
        expect(all.data.every((d) => d.messageId === winner.message.id)).toBe(true);
        expect(ids((await store.listMessages({ appId: app.id })).data)).toEqual([winner.message.id]);
      });

      it("listMessages filters by app, event types and creation time (before/after exclusive), newest first", async () => {
        const app = await seedApp(store);
        const other = await seedApp(store);
        const at = (offset: number, eventType: string) =>
          store.insertMessage(makeMessage(app.id, { createdAt: T0 + offset, eventType }), []).then((r) => r.message);
        const m10 = await at(10, "user.created");
        const m20 = await at(20, "invoice.paid");
        const m30 = await at(30, "user.created");
        const m40 = await at(40, "user.deleted");
        await store.insertMessage(makeMessage(other.id, { createdAt: T0 + 25, eventType: "user.created" }), []);

        const list = async (filter: Omit<Parameters<Store["listMessages"]>[0], "appId">) =>
          ids((await store.listMessages({ appId: app.id, ...filter })).data);
        expect(await list({})).toEqual([m40.id, m30.id, m20.id, m10.id]);
        expect(await list({ eventTypes: ["user.created"] })).toEqual([m30.id, m10.id]);
        expect(await list({ eventTypes: ["user.created", "user.deleted"] })).toEqual([m40.id, m30.id, m10.id]);
        expect(await list({ eventTypes: ["nothing.matches"] })).toEqual([]);
        expect(await list({ before: T0 + 30 })).toEqual([m20.id, m10.id]);
        expect(await list({ after: T0 + 20 })).toEqual([m40.id, m30.id]);
        expect(await list({ after: T0 + 10, before: T0 + 40 })).toEqual([m30.id, m20.id]);
        expect(await list({ after: T0 + 10, before: T0 + 40, eventTypes: ["user.created"] })).toEqual([m30.id]);
        expect(ids((await store.listMessages({ appId: "app_unknown" })).data)).toEqual([]);

        const first = await store.listMessages({
          appId: app.id,
          eventTypes: ["user.created", "user.deleted"],
          limit: 2,
        });
        expect(ids(first.data)).toEqual([m40.id, m30.id]);
        const second = await store.listMessages({
          appId: app.id,
          eventTypes: ["user.created", "user.deleted"],
          limit: 2,
          cursor: must(first.nextCursor),
        });
        expect(ids(second.data)).toEqual([m10.id]);
        expect(second.nextCursor).toBeNull();
      });
    });

    // -----------------------------------------------------------------------
    describe("claimDue", () => {
      it("claims due pending rows and sending rows whose lease expired, and nothing else", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const now = T0 + 60_000;
        const dueEarlier = await seedDelivery(store, endpoint, { nextAttemptAt: now - 10 });
        const dueNow = await seedDelivery(store, endpoint, { nextAttemptAt: now });
        const notYet = await seedDelivery(store, endpoint, { nextAttemptAt: now + 1 });
        const leaseExpired = await seedDelivery(store, endpoint, {
          status: "sending",
          leaseOwner: "crashed-worker",
          nextAttemptAt: now,
        });
        const leaseLive = await seedDelivery(store, endpoint, {
          status: "sending",
          leaseOwner: "live-worker",
          nextAttemptAt: now + 1,
        });
        const finished = [
          await seedDelivery(store, endpoint, { status: "delivered", nextAttemptAt: null, attemptCount: 1 }),
          await seedDelivery(store, endpoint, { status: "failed", nextAttemptAt: null, attemptCount: 3 }),
          await seedDelivery(store, endpoint, { status: "cancelled", nextAttemptAt: null }),
        ];

        const claimed = await store.claimDue(claimOptions("w1", now));
        expect(claimedIds(claimed)).toEqual(sortedIds([dueEarlier, dueNow, leaseExpired]));
        for (const c of claimed) {
          expect(c.delivery).toMatchObject({ status: "sending", leaseOwner: "w1", nextAttemptAt: now + LEASE_MS });
          expect(await store.getDelivery(c.delivery.id)).toEqual(c.delivery);
        }
        expect(await store.getDelivery(notYet.id)).toEqual(notYet);
        expect(await store.getDelivery(leaseLive.id)).toEqual(leaseLive);
        for (const d of finished) expect(await store.getDelivery(d.id)).toEqual(d);
      });

      it("returns the delivery with its message and endpoint records", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id, {
          secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expiresAt: null }],
          headers: { "X-A": "b" },
          channels: ["c"],
        });
        const { message, deliveries } = await enqueue(store, app.id, [endpoint.id], {
          message: { body: '{"exact":"bytes ✓"}', tags: ["x"] },
          delivery: { nextAttemptAt: T0, attemptCount: 2, lastStatusCode: 502, lastError: "bad gateway" },
        });
        const [claimed] = await store.claimDue(claimOptions("w1", T0 + 5));
        expect(claimed).toBeDefined();
        expect(claimed?.message).toEqual(message);
        expect(claimed?.endpoint).toEqual(endpoint);
        expect(claimed?.delivery).toEqual({
          ...must(deliveries[0]),
          status: "sending",
          leaseOwner: "w1",
          nextAttemptAt: T0 + 5 + LEASE_MS,
          updatedAt: claimed?.delivery.updatedAt,
        });
      });

      it("takes the oldest nextAttemptAt first and respects the limit", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        // Ids ascend in this order; due times do not, so id order cannot pass for time order.
        const offsets = [5, 1, 4, 0, 3, 2];
        const rows: DeliveryRecord[] = [];
        for (const offset of offsets) rows.push(await seedDelivery(store, endpoint, { nextAttemptAt: T0 + offset }));
        const byDue = [...rows].sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0));

        const first = await store.claimDue(claimOptions("w1", T0 + 10, { limit: 3 }));
        expect(claimedIds(first)).toEqual(sortedIds(byDue.slice(0, 3)));
        const second = await store.claimDue(claimOptions("w1", T0 + 10, { limit: 1 }));
        expect(claimedIds(second)).toEqual(sortedIds(byDue.slice(3, 4)));
        const third = await store.claimDue(claimOptions("w1", T0 + 10, { limit: 10 }));
        expect(claimedIds(third)).toEqual(sortedIds(byDue.slice(4)));
        expect(await store.claimDue(claimOptions("w1", T0 + 10))).toEqual([]);
      });

      it("skips disabled and excluded endpoints without spending the limit on them", async () => {
        const app = await seedApp(store);
        const disabled = await seedEndpoint(store, app.id, { disabled: true, disabledReason: "manual" });
        const excluded = await seedEndpoint(store, app.id);
        const open = await seedEndpoint(store, app.id);
        const disabledRows = await seedDue(store, disabled, 5, T0);
        const excludedRows = await seedDue(store, excluded, 5, T0 + 10);
        const openRows = await seedDue(store, open, 3, T0 + 100, 1);

        const first = await store.claimDue(
          claimOptions("w1", T0 + 1000, { limit: 2, excludeEndpointIds: [excluded.id] }),
        );
        expect(claimedIds(first)).toEqual(sortedIds(openRows.slice(0, 2)));

        const rest = await store.claimDue(claimOptions("w1", T0 + 1000));
        expect(claimedIds(rest)).toEqual(sortedIds([...excludedRows, ...openRows.slice(2)]));
        for (const d of disabledRows) expect((await store.getDelivery(d.id))?.status).toBe("pending");
      });

      it("caps each endpoint at perEndpointLimit in flight, counting every owner's live leases", async () => {
        const app = await seedApp(store);
        const a = await seedEndpoint(store, app.id);
        const b = await seedEndpoint(store, app.id);
        const aRows = await seedDue(store, a, 25, T0, 1);
        const bRows = await seedDue(store, b, 5, T0 + 100);
        const now = T0 + 1000;

        const first = await store.claimDue(claimOptions("w1", now, { limit: 100, perEndpointLimit: 10 }));
        const firstA = first.filter((c) => c.delivery.endpointId === a.id);
        const firstB = first.filter((c) => c.delivery.endpointId === b.id);
        expect(firstA).toHaveLength(10);
        expect(claimedIds(firstA)).toEqual(sortedIds(aRows.slice(0, 10)));
        expect(claimedIds(firstB)).toEqual(sortedIds(bRows));

        // A is at its cap, whoever asks; B gets new work through.
        expect(await store.claimDue(claimOptions("w2", now + 1, { limit: 100, perEndpointLimit: 10 }))).toEqual([]);
        const moreB = await seedDue(store, b, 2, now);
        const second = await store.claimDue(claimOptions("w2", now + 2, { limit: 100, perEndpointLimit: 10 }));
        expect(claimedIds(second)).toEqual(sortedIds(moreB));
        expect(await store.countDeliveries({ endpointId: a.id })).toMatchObject({ sending: 10, pending: 15 });

        // Completing two of A's frees exactly two slots.
        await store.complete(
          firstA.slice(0, 2).map((c) => makeCompletion(c.delivery, "w1", { at: now + 3 })),
          now + 3,
          HOUR_MS,
        );
        const third = await store.claimDue(claimOptions("w3", now + 4, { limit: 100, perEndpointLimit: 10 }));
        expect(claimedIds(third)).toEqual(sortedIds(aRows.slice(10, 12)));
      });

      it("one endpoint at its cap never keeps other endpoints' newer rows from being claimed", async () => {
        const app = await seedApp(store);
        const busy = await seedEndpoint(store, app.id);
        const quiet = await seedEndpoint(store, app.id);
        const busyRows = await seedDue(store, busy, 25, T0, 1);
        const quietRows = await seedDue(store, quiet, 5, T0 + 1000, 1);
        const now = T0 + 5000;

        const mixed = await store.claimDue(claimOptions("w1", now, { limit: 12, perEndpointLimit: 10 }));
        expect(claimedIds(mixed)).toEqual(sortedIds([...busyRows.slice(0, 10), ...quietRows.slice(0, 2)]));

        // The busy endpoint's 15 older rows are all still due; the limit must reach past them.
        const next = await store.claimDue(claimOptions("w2", now, { limit: 3, perEndpointLimit: 10 }));
        expect(claimedIds(next)).toEqual(sortedIds(quietRows.slice(2)));
      });

      it("counts live leases held by others (even rows seeded as sending) but not expired ones", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const now = T0 + 10_000;
        const live: DeliveryRecord[] = [];
        for (let i = 0; i < 3; i++) {
          live.push(
            await seedDelivery(store, endpoint, { status: "sending", leaseOwner: "other", nextAttemptAt: now + 1 }),
          );
        }
        for (let i = 0; i < 2; i++) {
          await seedDelivery(store, endpoint, { status: "sending", leaseOwner: "crashed", nextAttemptAt: now - 1 });
        }
        await seedDue(store, endpoint, 10, T0);

        const claimed = await store.claimDue(claimOptions("w1", now, { perEndpointLimit: 5 }));
        expect(claimed).toHaveLength(2);
        for (const d of live) expect(claimedIds(claimed)).not.toContain(d.id);

        // Once those three leases run out they stop counting (and are claimable themselves).
        const later = await store.claimDue(claimOptions("w2", now + 1, { perEndpointLimit: 5 }));
        expect(later).toHaveLength(3);
      });

      it("two concurrent claims never return the same delivery, and together with a third they take every row once", async () => {
        const app = await seedApp(store);
        const rows: DeliveryRecord[] = [];
        for (let e = 0; e < 4; e++) {
          const endpoint = await seedEndpoint(store, app.id);
          rows.push(...(await seedDue(store, endpoint, 10, T0 + e)));
        }
        const now = T0 + 1000;
        const owners = ["w1", "w2", "w3", "w4"];
        const results = await Promise.all(
          owners.map((owner) => store.claimDue(claimOptions(owner, now, { limit: 15 }))),
        );
        const seen = new Map<string, string>();
        results.forEach((claimed, i) => {
          for (const c of claimed) {
            expect(seen.has(c.delivery.id), `${c.delivery.id} claimed twice`).toBe(false);
            seen.set(c.delivery.id, must(owners[i]));
            expect(c.delivery.leaseOwner).toBe(owners[i]);
          }
        });
        for (const [id, owner] of seen) expect((await store.getDelivery(id))?.leaseOwner).toBe(owner);

        const rest = await store.claimDue(claimOptions("w5", now));
        for (const c of rest) {
          expect(seen.has(c.delivery.id), `${c.delivery.id} claimed twice`).toBe(false);
          seen.set(c.delivery.id, "w5");
        }
        expect([...seen.keys()].sort()).toEqual(sortedIds(rows));
      });

      it("after the lease expires an unfinished delivery is claimable again by another owner", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const delivery = await seedDelivery(store, endpoint, { nextAttemptAt: T0 });
        const [first] = await store.claimDue(claimOptions("w1", T0, { leaseMs: 30_000 }));
        expect(first?.delivery.id).toBe(delivery.id);
        expect(first?.delivery.nextAttemptAt).toBe(T0 + 30_000);

        expect(await store.claimDue(claimOptions("w2", T0 + 29_999))).toEqual([]);
        const [again] = await store.claimDue(claimOptions("w2", T0 + 30_000, { leaseMs: 10_000 }));
        expect(again?.delivery).toMatchObject({
          id: delivery.id,
          status: "sending",
          leaseOwner: "w2",
          nextAttemptAt: T0 + 40_000,
          attemptCount: 0,
        });
        expect(await store.getDelivery(delivery.id)).toMatchObject({ leaseOwner: "w2", nextAttemptAt: T0 + 40_000 });
      });
    });

    // -----------------------------------------------------------------------
    describe("retention", () => {
      const DAY_MS = 24 * HOUR_MS;
      const NOW = T0 + 40 * DAY_MS;
      const CUTOFF = NOW - 30 * DAY_MS;

      /**
       * A message created at `createdAt` with one delivery: finished (delivered, with an attempt) to
       * `endpoint`, or left pending when `hold` is given (its endpoint, never claimed here).
       */
      async function seedFinished(
        appId: string,
        endpoint: EndpointRecord,
        createdAt: number,
        options: { hold?: EndpointRecord; message?: Partial<MessageRecord> } = {},
      ): Promise<{ message: MessageRecord; delivery: DeliveryRecord }> {
        const target = options.hold ?? endpoint;
        const { message, deliveries } = await enqueue(store, appId, [target.id], {
          message: { createdAt, ...options.message },
          delivery: { nextAttemptAt: createdAt },
        });
        const delivery = must(deliveries[0]);
        if (options.hold) return { message, delivery };
        const claimed = await store.claimDue(
          claimOptions("w1", createdAt, { limit: 1, excludeEndpointIds: [...held] }),
        );
        expect(claimedIds(claimed)).toEqual([delivery.id]);
        await store.complete([makeCompletion(delivery, "w1", { at: createdAt })], createdAt + 1, HOUR_MS);
        return { message, delivery };
      }
      const held: string[] = [];
      /** An app with an endpoint that delivers and one whose deliveries stay pending (never claimed here). */
      async function scene(): Promise<{ app: AppRecord; endpoint: EndpointRecord; hold: EndpointRecord }> {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const hold = await seedEndpoint(store, app.id);
        held.push(hold.id);
        return { app, endpoint, hold };
      }

      it("expirePayloads empties finished messages older than the cutoff or past their own expiry, and nothing else", async () => {
        const { app, endpoint, hold } = await scene();
        const old = await seedFinished(app.id, endpoint, CUTOFF - 1);
        const oldPending = await seedFinished(app.id, endpoint, CUTOFF - 2, { hold });
        const recent = await seedFinished(app.id, endpoint, CUTOFF);
        const ownExpired = await seedFinished(app.id, endpoint, NOW - DAY_MS, { message: { payloadExpiresAt: NOW } });
        const ownLonger = await seedFinished(app.id, endpoint, CUTOFF - 3, {
          message: { payloadExpiresAt: NOW + 1 },
        });
        expect(await store.expirePayloads({ before: CUTOFF, now: NOW, limit: 100 })).toBe(2);
        for (const { message } of [old, ownExpired]) {
          expect(await store.getMessage(message.id)).toEqual({ ...message, body: "", expungedAt: NOW });
          expect((await store.listAttempts({ messageId: message.id })).data).toHaveLength(1);
          expect((await store.listDeliveries({ messageId: message.id })).data[0]?.status).toBe("delivered");
        }
        for (const { message } of [oldPending, recent, ownLonger]) {
          expect(await store.getMessage(message.id)).toEqual(message);
        }
        expect(await store.expirePayloads({ before: CUTOFF, now: NOW, limit: 100 })).toBe(0);
      });

      it("expirePayloads and deleteHistory take at most `limit` messages per call, oldest first", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const seeded = [];
        for (let i = 0; i < 5; i++) seeded.push(await seedFinished(app.id, endpoint, CUTOFF - 10 + i));
        expect(await store.expirePayloads({ before: CUTOFF, now: NOW, limit: 2 })).toBe(2);
        expect((await store.getMessage(must(seeded[1]).message.id))?.expungedAt).toBe(NOW);
        expect((await store.getMessage(must(seeded[2]).message.id))?.expungedAt).toBeUndefined();
        expect(await store.expirePayloads({ before: CUTOFF, now: NOW, limit: 2 })).toBe(2);
        expect(await store.expirePayloads({ before: CUTOFF, now: NOW, limit: 2 })).toBe(1);
        expect(await store.deleteHistory({ before: CUTOFF, limit: 3 })).toBe(3);
        expect(await store.getMessage(must(seeded[2]).message.id)).toBeNull();
        expect(await store.getMessage(must(seeded[3]).message.id)).not.toBeNull();
        expect(await store.deleteHistory({ before: CUTOFF, limit: 3 })).toBe(2);
        expect(await store.deleteHistory({ before: CUTOFF, limit: 3 })).toBe(0);
      });

      it("deleteHistory removes finished messages before the cutoff with their deliveries and attempts, and keeps pending ones", async () => {
        const { app, endpoint, hold } = await scene();
        const old = await seedFinished(app.id, endpoint, CUTOFF - 1);
        const oldPending = await seedFinished(app.id, endpoint, CUTOFF - 2, { hold });
        const recent = await seedFinished(app.id, endpoint, CUTOFF);
        expect(await store.deleteHistory({ before: CUTOFF, limit: 100 })).toBe(1);
        expect(await store.getMessage(old.message.id)).toBeNull();
        expect(await store.getDelivery(old.delivery.id)).toBeNull();
        expect((await store.listAttempts({ messageId: old.message.id })).data).toEqual([]);
        expect(await store.getMessage(oldPending.message.id)).toEqual(oldPending.message);
        expect(await store.getDelivery(oldPending.delivery.id)).toEqual(oldPending.delivery);
        expect(await store.getMessage(recent.message.id)).toEqual(recent.message);
        expect((await store.listAttempts({ messageId: recent.message.id })).data).toHaveLength(1);
        // The event id is free again once its message is gone.
        const again = makeMessage(app.id, { eventId: old.message.eventId, createdAt: NOW });
        expect((await store.insertMessage(again, [])).created).toBe(true);
      });

      it("expungeMessage erases one finished message now, refuses while a delivery is pending, and a requeue then finds nothing to send", async () => {
        const { app, endpoint, hold } = await scene();
        const done = await seedFinished(app.id, endpoint, NOW - 5);
        const pending = await seedFinished(app.id, endpoint, NOW - 4, { hold });
        expect(await store.expungeMessage(done.message.id, NOW)).toBe("expunged");
        expect(await store.getMessage(done.message.id)).toEqual({ ...done.message, body: "", expungedAt: NOW });
        expect(await store.expungeMessage(done.message.id, NOW + 5)).toBe("expunged");
        expect((await store.getMessage(done.message.id))?.expungedAt).toBe(NOW);
        expect(await store.expungeMessage(pending.message.id, NOW)).toBe("in_progress");
        expect(await store.getMessage(pending.message.id)).toEqual(pending.message);
        expect(await store.expungeMessage("msg_unknown", NOW)).toBe("not_found");
        expect(await store.requeueDelivery(done.delivery.id, NOW + 10)).toBeNull();

        // A failed delivery of an expunged message is not recovered either.
        const { message, deliveries } = await enqueue(store, app.id, [endpoint.id], {
          message: { createdAt: NOW - 3 },
          delivery: { nextAttemptAt: NOW - 3 },
        });
        const failed = must(deliveries[0]);
        const claimed = await store.claimDue(claimOptions("w1", NOW, { limit: 10, excludeEndpointIds: [hold.id] }));
        expect(claimedIds(claimed)).toEqual([failed.id]);
        await store.complete(
          [makeCompletion(failed, "w1", { at: NOW, status: "failed", outcome: "failed", nextAttemptAt: null })],
          NOW + 1,
          HOUR_MS,
        );
        expect(await store.expungeMessage(message.id, NOW + 2)).toBe("expunged");
        expect(await store.recoverEndpoint(endpoint.id, NOW - DAY_MS, NOW + DAY_MS, NOW + 3)).toBe(0);
        expect((await store.getDelivery(failed.id))?.status).toBe("failed");
      });
    });

    // -----------------------------------------------------------------------
    describe("worker liveness", () => {
      const worker = (id: string, heartbeatAt: number) => ({
        id,
        host: "host-a",
        pid: 4242,
        startedAt: T0,
        heartbeatAt,
      });

      it("a heartbeat registers the worker, refreshes it, and extends only the named leases it holds", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const mine = await seedDelivery(store, endpoint, { nextAttemptAt: T0 });
        const theirs = await seedDelivery(store, endpoint, { nextAttemptAt: T0 });
        const waiting = await seedDelivery(store, endpoint, { nextAttemptAt: T0 + HOUR_MS });
        const [a] = await store.claimDue(claimOptions("w1", T0, { limit: 1 }));
        const [b] = await store.claimDue(claimOptions("w2", T0, { limit: 1 }));
        expect([a?.delivery.id, b?.delivery.id]).toEqual([mine.id, theirs.id]);

        // w1 names the other worker's delivery and a pending one too: only its own lease is extended.
        const named = [mine.id, theirs.id, waiting.id];
        await store.heartbeat(worker("w1", T0 + 1_000), named, T0 + 1_000 + LEASE_MS);
        expect(await store.listWorkers()).toEqual([worker("w1", T0 + 1_000)]);
        await store.heartbeat(worker("w1", T0 + 2_000), named, T0 + 2_000 + LEASE_MS);
        expect(await store.listWorkers()).toEqual([worker("w1", T0 + 2_000)]);

        expect(await store.getDelivery(mine.id)).toMatchObject({
          status: "sending",
          nextAttemptAt: T0 + 2_000 + LEASE_MS,
        });
        expect(await store.getDelivery(theirs.id)).toMatchObject({ status: "sending", nextAttemptAt: T0 + LEASE_MS });
        expect(await store.getDelivery(waiting.id)).toMatchObject({ status: "pending", nextAttemptAt: T0 + HOUR_MS });
        // The extended lease still counts against the endpoint and is not claimable after the first expiry.
        expect((await store.claimDue(claimOptions("w3", T0 + LEASE_MS))).map((c) => c.delivery.id)).toEqual([
          theirs.id,
        ]);
      });

      it("releaseWorker hands back every lease of that worker at once and forgets it", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const rows = [
          await seedDelivery(store, endpoint, { nextAttemptAt: T0 }),
          await seedDelivery(store, endpoint, { nextAttemptAt: T0 }),
        ];
        const other = await seedDelivery(store, endpoint, { nextAttemptAt: T0 });
        expect(await store.claimDue(claimOptions("dead", T0, { limit: 2, perEndpointLimit: 3 }))).toHaveLength(2);
        expect(await store.claimDue(claimOptions("alive", T0, { limit: 1, perEndpointLimit: 3 }))).toHaveLength(1);
        await store.heartbeat(worker("dead", T0), [], T0 + LEASE_MS);
        await store.heartbeat(worker("alive", T0), [], T0 + LEASE_MS);

        // At the cap, nothing is claimable while the dead worker's leases still count.
        expect(await store.claimDue(claimOptions("alive", T0 + 100, { perEndpointLimit: 3 }))).toEqual([]);
        expect(await store.releaseWorker("dead", T0 + 100)).toBe(2);
        expect((await store.listWorkers()).map((w) => w.id)).toEqual(["alive"]);
        for (const row of rows) {
          // Due at their claim time: ahead of anything that became due since.
          expect(await store.getDelivery(row.id)).toMatchObject({
            status: "pending",
            leaseOwner: null,
            nextAttemptAt: T0,
            attemptCount: 0,
            updatedAt: T0 + 100,
          });
        }
        expect(await store.getDelivery(other.id)).toMatchObject({ status: "sending", leaseOwner: "alive" });
        const taken = await store.claimDue(claimOptions("alive", T0 + 100, { perEndpointLimit: 3 }));
        expect(taken.map((c) => c.delivery.id).sort()).toEqual(sortedIds(rows));
        // Released once: the new leases belong to "alive", not to the forgotten worker.
        expect(await store.releaseWorker("dead", T0 + 200)).toBe(0);
        expect(await store.getDelivery(must(rows[0]).id)).toMatchObject({ status: "sending", leaseOwner: "alive" });
      });
    });

    // -----------------------------------------------------------------------
    describe("complete", () => {
      async function claimOne(owner = "w1", now = T0, leaseMs = LEASE_MS) {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        await seedDelivery(store, endpoint, { nextAttemptAt: now });
        const [claimed] = await store.claimDue(claimOptions(owner, now, { leaseMs }));
        return { app, endpoint, claimed: must(claimed, "a claimed delivery") };
      }

      it("records the attempt and applies a success to the delivery", async () => {
        const { claimed } = await claimOne();
        const completion = makeCompletion(claimed.delivery, "w1", { at: T0 + 10 });
        const effects = await store.complete([completion], T0 + 20, HOUR_MS);
        expect(effects).toEqual(NO_EFFECTS);
        expect(await store.getDelivery(claimed.delivery.id)).toEqual({
          ...claimed.delivery,
          status: "delivered",
          attemptCount: 1,
          nextAttemptAt: null,
          leaseOwner: null,
          nextTrigger: "scheduled",
          lastStatusCode: 200,
          lastError: null,
          updatedAt: T0 + 20,
        });
        expect((await store.listAttempts({ deliveryId: claimed.delivery.id })).data).toEqual([completion.attempt]);
      });

      it("a retry makes the delivery pending until nextAttemptAt; later outcomes overwrite lastStatusCode/lastError", async () => {
        const { claimed } = await claimOne();
        const id = claimed.delivery.id;
        const failure = makeCompletion(claimed.delivery, "w1", {
          at: T0 + 1,
          status: "pending",
          nextAttemptAt: T0 + 5_000,
          outcome: "failed",
          statusCode: 503,
          error: "HTTP 503",
        });
        await store.complete([failure], T0 + 2, HOUR_MS);
        expect(await store.getDelivery(id)).toMatchObject({
          status: "pending",
          attemptCount: 1,
          nextAttemptAt: T0 + 5_000,
          leaseOwner: null,
          lastStatusCode: 503,
          lastError: "HTTP 503",
          updatedAt: T0 + 2,
        });
        expect(await store.nextDueAt()).toBe(T0 + 5_000);
        expect(await store.claimDue(claimOptions("w1", T0 + 4_999))).toEqual([]);
        const [retry] = await store.claimDue(claimOptions("w2", T0 + 5_000));
        expect(retry?.delivery).toMatchObject({ id, attemptCount: 1, lastStatusCode: 503 });

        const noResponse = makeCompletion(must(retry).delivery, "w2", {
          at: T0 + 5_001,
          status: "pending",
          nextAttemptAt: T0 + 9_000,
          outcome: "failed",
          statusCode: null,
          error: "connect ECONNREFUSED",
          errorCode: "HOOKLINE_DELIVERY_CONNECTION_FAILED",
        });
        await store.complete([noResponse], T0 + 5_002, HOUR_MS);
        expect(await store.getDelivery(id)).toMatchObject({
          status: "pending",
          attemptCount: 2,
          lastStatusCode: null,
          lastError: "connect ECONNREFUSED",
        });

        const [third] = await store.claimDue(claimOptions("w3", T0 + 9_000));
        await store.complete([makeCompletion(must(third).delivery, "w3", { at: T0 + 9_001 })], T0 + 9_002, HOUR_MS);
        expect(await store.getDelivery(id)).toMatchObject({
          status: "delivered",
          attemptCount: 3,
          nextAttemptAt: null,
          lastStatusCode: 200,
          lastError: null,
        });
        const attempts = await store.listAttempts({ deliveryId: id });
        expect(attempts.data.map((a) => a.number)).toEqual([3, 2, 1]);
        expect(attempts.data[2]).toEqual(failure.attempt);
        expect(attempts.data[1]).toEqual(noResponse.attempt);
      });

      it("a final failure leaves the delivery failed with no next attempt", async () => {
        const { claimed } = await claimOne();
        await store.complete(
          [
            makeCompletion(claimed.delivery, "w1", {
              at: T0 + 1,
              status: "failed",
              outcome: "failed",
              statusCode: 400,
              error: "HTTP 400",
            }),
          ],
          T0 + 2,
          HOUR_MS,
        );
        expect(await store.getDelivery(claimed.delivery.id)).toMatchObject({
          status: "failed",
          attemptCount: 1,
          nextAttemptAt: null,
          leaseOwner: null,
          lastStatusCode: 400,
          lastError: "HTTP 400",
        });
        expect(await store.claimDue(claimOptions("w1", T0 + HOUR_MS))).toEqual([]);
        expect(await store.nextDueAt()).toBeNull();
      });

      it("a completion whose lease was taken over after expiry is recorded but leaves the delivery alone", async () => {
        const { claimed: stale } = await claimOne("w1", T0, 1_000);
        const [current] = await store.claimDue(claimOptions("w2", T0 + 1_000));
        expect(current?.delivery.id).toBe(stale.delivery.id);

        const late = makeCompletion(stale.delivery, "w1", { at: T0 + 500 });
        const effects = await store.complete([late], T0 + 1_500, HOUR_MS);
        expect(effects.lostLeases).toEqual([stale.delivery.id]);
        expect(await store.getDelivery(stale.delivery.id)).toEqual(current?.delivery);
        expect((await store.listAttempts({ deliveryId: stale.delivery.id })).data).toEqual([late.attempt]);

        const onTime = makeCompletion(must(current).delivery, "w2", { at: T0 + 1_600 });
        expect((await store.complete([onTime], T0 + 1_700, HOUR_MS)).lostLeases).toEqual([]);
        expect(await store.getDelivery(stale.delivery.id)).toMatchObject({
          status: "delivered",
          attemptCount: 1,
          leaseOwner: null,
        });
        expect((await store.listAttempts({ deliveryId: stale.delivery.id })).data).toHaveLength(2);
      });

      it("a completion after the owner released the delivery is a lost lease", async () => {
        const { claimed } = await claimOne();
        await store.release("w1", [claimed.delivery.id], T0 + 1);
        const completion = makeCompletion(claimed.delivery, "w1", { at: T0 + 2 });
        const effects = await store.complete([completion], T0 + 3, HOUR_MS);
        expect(effects.lostLeases).toEqual([claimed.delivery.id]);
        expect(await store.getDelivery(claimed.delivery.id)).toMatchObject({
          status: "pending",
          attemptCount: 0,
          nextAttemptAt: T0,
          leaseOwner: null,
          updatedAt: T0 + 1,
        });
        expect((await store.listAttempts({ deliveryId: claimed.delivery.id })).data).toEqual([completion.attempt]);
      });

      it("a late completion is still applied when no one else has claimed the delivery since", async () => {
        const { claimed } = await claimOne("w1", T0, 1_000);
        const effects = await store.complete(
          [makeCompletion(claimed.delivery, "w1", { at: T0 + 100 })],
          T0 + 5_000,
          HOUR_MS,
        );
        expect(effects.lostLeases).toEqual([]);
        expect(await store.getDelivery(claimed.delivery.id)).toMatchObject({ status: "delivered", attemptCount: 1 });
      });

      it("applies a batch: each completion on its own, only the stale one reported lost", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        await seedDue(store, endpoint, 3, T0);
        const claimed = await store.claimDue(claimOptions("w1", T0));
        expect(claimed).toHaveLength(3);
        const [c1, c2, c3] = claimed.map((c) => c.delivery);
        const batch = [
          makeCompletion(must(c1), "w1", { at: T0 + 1 }),
          makeCompletion(must(c2), "someone-else", { at: T0 + 1 }),
          makeCompletion(must(c3), "w1", {
            at: T0 + 1,
            status: "pending",
            nextAttemptAt: T0 + 60_000,
            outcome: "failed",
          }),
        ];
        const effects = await store.complete(batch, T0 + 2, HOUR_MS);
        expect(effects.lostLeases).toEqual([must(c2).id]);
        expect((await store.getDelivery(must(c1).id))?.status).toBe("delivered");
        expect(await store.getDelivery(must(c2).id)).toMatchObject({ status: "sending", leaseOwner: "w1" });
        expect(await store.getDelivery(must(c3).id)).toMatchObject({ status: "pending", nextAttemptAt: T0 + 60_000 });
        expect(sortedIds((await store.listAttempts({ endpointId: endpoint.id })).data)).toEqual(
          sortedIds(batch.map((c) => c.attempt)),
        );
      });

      it("resets nextTrigger to scheduled after a manual attempt", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const failed = await seedDelivery(store, endpoint, { status: "failed", nextAttemptAt: null, attemptCount: 5 });
        await store.requeueDelivery(failed.id, T0 + 10);
        const [claimed] = await store.claimDue(claimOptions("w1", T0 + 10));
        expect(claimed?.delivery.nextTrigger).toBe("manual");
        await store.complete(
          [
            makeCompletion(must(claimed).delivery, "w1", {
              at: T0 + 11,
              status: "pending",
              nextAttemptAt: T0 + 100,
              outcome: "failed",
            }),
          ],
          T0 + 12,
          HOUR_MS,
        );
        expect(await store.getDelivery(failed.id)).toMatchObject({
          status: "pending",
          nextTrigger: "scheduled",
          attemptCount: 6,
        });
        const [attempt] = (await store.listAttempts({ deliveryId: failed.id })).data;
        expect(attempt?.trigger).toBe("manual");
      });

      describe("endpoint health", () => {
        const LONG_LEASE = 10 * HOUR_MS;

        /** An endpoint with `count` deliveries, all claimed by w1 under a long lease. */
        async function inFlight(count: number) {
          const app = await seedApp(store);
          const endpoint = await seedEndpoint(store, app.id);
          await seedDue(store, endpoint, count, T0);
          const claimed = await store.claimDue(claimOptions("w1", T0, { leaseMs: LONG_LEASE }));
          expect(claimed).toHaveLength(count);
          return { app, endpoint, deliveries: claimed.map((c) => c.delivery) };
        }

        const fail = (d: DeliveryRecord | undefined, at: number, outcome: "failed" | "gone" = "failed") =>
          makeCompletion(must(d), "w1", {
            at,
            status: "pending",
            nextAttemptAt: at + 60_000,
            outcome,
            statusCode: outcome === "gone" ? 410 : 500,
          });
        const succeed = (d: DeliveryRecord | undefined, at: number) => makeCompletion(must(d), "w1", { at });

        it("the first failure sets failingSince and reports the endpoint once", async () => {
          const { endpoint, deliveries } = await inFlight(4);
          const e1 = await store.complete([fail(deliveries[0], T0 + 100)], T0 + 100, HOUR_MS);
          expect(e1).toEqual({
            ...NO_EFFECTS,
            failingEndpoints: [{ endpointId: endpoint.id, failingSince: T0 + 100 }],
          });
          expect(await store.getEndpoint(endpoint.id)).toMatchObject({ failingSince: T0 + 100, disabled: false });

          const e2 = await store.complete([fail(deliveries[1], T0 + 200)], T0 + 200, HOUR_MS);
          expect(e2).toEqual(NO_EFFECTS);
          expect((await store.getEndpoint(endpoint.id))?.failingSince).toBe(T0 + 100);

          // Two failures in one batch of a healthy endpoint: still one report.
          await store.complete([succeed(deliveries[2], T0 + 300)], T0 + 300, HOUR_MS);
          const other = await inFlight(2);
          const e3 = await store.complete(
            [fail(other.deliveries[0], T0 + 400), fail(other.deliveries[1], T0 + 400)],
            T0 + 400,
            HOUR_MS,
          );
          expect(e3.failingEndpoints).toEqual([{ endpointId: other.endpoint.id, failingSince: T0 + 400 }]);
        });

        it("a success clears failingSince, and the next failure starts a new run", async () => {
          const { endpoint, deliveries } = await inFlight(3);
          await store.complete([fail(deliveries[0], T0 + 100)], T0 + 100, HOUR_MS);
          expect(await store.complete([succeed(deliveries[1], T0 + 200)], T0 + 200, HOUR_MS)).toEqual(NO_EFFECTS);
          expect((await store.getEndpoint(endpoint.id))?.failingSince).toBeNull();
          const e3 = await store.complete([fail(deliveries[2], T0 + 300)], T0 + 300, HOUR_MS);
          expect(e3.failingEndpoints).toEqual([{ endpointId: endpoint.id, failingSince: T0 + 300 }]);
          expect((await store.getEndpoint(endpoint.id))?.failingSince).toBe(T0 + 300);
        });

        it("gone (410) disables the endpoint with reason gone, once, and its deliveries are no longer claimed", async () => {
          const { endpoint, deliveries } = await inFlight(3);
          const waiting = await seedDue(store, endpoint, 2, T0 + 1);
          const e1 = await store.complete([fail(deliveries[0], T0 + 100, "gone")], T0 + 100, HOUR_MS);
          expect(e1.disabledEndpoints).toEqual([{ endpointId: endpoint.id, reason: "gone" }]);
          expect(await store.getEndpoint(endpoint.id)).toMatchObject({ disabled: true, disabledReason: "gone" });
          expect(await store.enabledEndpoints(endpoint.appId)).toEqual([]);

          const e2 = await store.complete([fail(deliveries[1], T0 + 200, "gone")], T0 + 200, HOUR_MS);
          expect(e2.disabledEndpoints).toEqual([]);

          // Due rows (the waiting ones and the retry just scheduled) stay put while disabled.
          expect(await store.claimDue(claimOptions("w2", T0 + 10 * HOUR_MS))).toEqual([]);
          for (const d of waiting) expect((await store.getDelivery(d.id))?.status).toBe("pending");

          // Re-enabling lets them through again.
          await store.updateEndpoint(endpoint.id, { disabled: false, disabledReason: null }, T0 + 300);
          const claimed = await store.claimDue(claimOptions("w2", T0 + 10 * HOUR_MS));
          expect(claimedIds(claimed)).toEqual(
            sortedIds([...waiting, must(deliveries[0]), must(deliveries[1]), must(deliveries[2])]),
          );
        });

        it("failing for longer than disableAfterMs disables with reason failing, once", async () => {
          const { endpoint, deliveries } = await inFlight(5);
          const disableAfterMs = 60_000;
          await store.complete([fail(deliveries[0], T0 + 1_000)], T0 + 1_000, disableAfterMs);
          const notYet = await store.complete([fail(deliveries[1], T0 + 60_999)], T0 + 60_999, disableAfterMs);
          expect(notYet).toEqual(NO_EFFECTS);
          expect((await store.getEndpoint(endpoint.id))?.disabled).toBe(false);

          const now = await store.complete([fail(deliveries[2], T0 + 61_001)], T0 + 61_001, disableAfterMs);
          expect(now).toEqual({ ...NO_EFFECTS, disabledEndpoints: [{ endpointId: endpoint.id, reason: "failing" }] });
          expect(await store.getEndpoint(endpoint.id)).toMatchObject({
            disabled: true,
            disabledReason: "failing",
            failingSince: T0 + 1_000,
          });

          const again = await store.complete([fail(deliveries[3], T0 + 70_000)], T0 + 70_000, disableAfterMs);
          expect(again).toEqual(NO_EFFECTS);
          expect(await store.claimDue(claimOptions("w2", T0 + 10 * HOUR_MS))).toEqual([]);
        });

        it("a healthy endpoint's success changes nothing about it", async () => {
          const { endpoint, deliveries } = await inFlight(1);
          expect(await store.complete([succeed(deliveries[0], T0 + 5)], T0 + 5, HOUR_MS)).toEqual(NO_EFFECTS);
          expect(await store.getEndpoint(endpoint.id)).toMatchObject({
            failingSince: null,
            disabled: false,
            disabledReason: null,
          });
        });
      });
    });

    // -----------------------------------------------------------------------
    describe("leasing new deliveries as they are written (InsertOptions.claim)", () => {
      /** Sends one message to the endpoints with a claim; returns the result and the records as written. */
      async function sendWithClaim(appId: string, endpointIds: string[], claim: Partial<ClaimOptions> = {}) {
        const message = makeMessage(appId, { createdAt: T0 + 10 });
        const deliveries = endpointIds.map((endpointId) => makeDelivery(message, endpointId));
        const result = await store.insertMessage(message, deliveries, { claim: claimOptions("w1", T0 + 10, claim) });
        return { message, deliveries, result };
      }

      it("leases each delivery whose endpoint has room and nothing waiting, as a claim would", async () => {
        const app = await seedApp(store);
        const a = await seedEndpoint(store, app.id);
        const b = await seedEndpoint(store, app.id);
        const { deliveries, result } = await sendWithClaim(app.id, [a.id, b.id]);
        expect(result.created).toBe(true);
        expect([...(result.leased ?? [])].sort()).toEqual(sortedIds(deliveries));
        for (const d of deliveries) {
          expect(await store.getDelivery(d.id)).toEqual({
            ...d,
            status: "sending",
            leaseOwner: "w1",
            nextAttemptAt: T0 + 10 + LEASE_MS,
            updatedAt: T0 + 10,
          });
        }
        // Leased: no claim returns them, and they count against their endpoint's cap.
        expect(await store.claimDue(claimOptions("w2", T0 + 20))).toEqual([]);
        const completion = makeCompletion(must(await store.getDelivery(must(deliveries[0]).id)), "w1", { at: T0 + 20 });
        expect((await store.complete([completion], T0 + 30, HOUR_MS)).lostLeases).toEqual([]);
        expect(await store.getDelivery(must(deliveries[0]).id)).toMatchObject({ status: "delivered", attemptCount: 1 });
      });

      it("leaves pending what is excluded, over the limit, behind a waiting delivery or at the endpoint's cap", async () => {
        const app = await seedApp(store);
        const excluded = await seedEndpoint(store, app.id);
        const behind = await seedEndpoint(store, app.id);
        const full = await seedEndpoint(store, app.id);
        const free = await seedEndpoint(store, app.id);
        const spare = await seedEndpoint(store, app.id);
        const waiting = await seedDelivery(store, behind, { nextAttemptAt: T0 });
        await seedDelivery(store, full, { nextAttemptAt: T0 });
        expect(
          await store.claimDue(claimOptions("w0", T0, { limit: 1, excludeEndpointIds: [behind.id] })),
        ).toHaveLength(1);

        const { deliveries, result } = await sendWithClaim(
          app.id,
          [excluded.id, behind.id, full.id, free.id, spare.id],
          {
            limit: 1,
            perEndpointLimit: 1,
            excludeEndpointIds: [excluded.id],
          },
        );
        const [toExcluded, toBehind, toFull, toFree, toSpare] = deliveries.map((d) => d.id);
        expect(result.leased).toEqual([toFree]);
        for (const id of [toExcluded, toBehind, toFull, toSpare]) {
          expect(await store.getDelivery(must(id))).toMatchObject({
            status: "pending",
            leaseOwner: null,
            nextAttemptAt: T0 + 10,
          });
        }
        // The older delivery goes first: a claim takes it, not the newer one behind it.
        const next = await store.claimDue(claimOptions("w2", T0 + 10, { perEndpointLimit: 1, limit: 10 }));
        expect(claimedIds(next)).toEqual([waiting.id, must(toExcluded), must(toSpare)].sort());
      });

      it("leases nothing for a message whose event id was sent before", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const first = makeMessage(app.id);
        await store.insertMessage(first, [makeDelivery(first, endpoint.id, { nextAttemptAt: T0 + HOUR_MS })]);
        const again = makeMessage(app.id, { eventId: first.eventId, createdAt: T0 + 10 });
        const delivery = makeDelivery(again, endpoint.id);
        const result = await store.insertMessage(again, [delivery], { claim: claimOptions("w1", T0 + 10) });
        expect(result.created).toBe(false);
        expect(result.leased ?? []).toEqual([]);
        expect(await store.getDelivery(delivery.id)).toBeNull();
        expect(await store.countDeliveries({ endpointId: endpoint.id })).toMatchObject({ pending: 1, sending: 0 });
      });

      it("with several messages at once, leases each endpoint only up to its cap, oldest message first", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const sent = await Promise.all(
          [0, 1, 2].map(() => sendWithClaim(app.id, [endpoint.id], { perEndpointLimit: 2, limit: 1 })),
        );
        const leased = sent.flatMap((s) => s.result.leased ?? []);
        expect(leased).toEqual(sent.slice(0, 2).map((s) => must(s.deliveries[0]).id));
        expect(await store.countDeliveries({ endpointId: endpoint.id })).toMatchObject({ sending: 2, pending: 1 });
      });
    });

    // -----------------------------------------------------------------------
    describe("ordered deliveries (endpoint ordering fifo)", () => {
      it("a delivery waits parked behind an unfinished one of its group, and goes when that one is done with", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id, { ordering: "fifo" });
        const send = async (orderingKey: string, at: number) =>
          must(
            (await enqueue(store, app.id, [endpoint.id], { message: { createdAt: at }, delivery: { orderingKey } }))
              .deliveries[0],
          );
        const first = await send("", T0);
        const second = await send("", T0 + 1);
        const otherGroup = await send("customer-2", T0 + 2);
        expect(await store.getDelivery(first.id)).toMatchObject({
          status: "pending",
          nextAttemptAt: T0,
          orderingKey: "",
        });
        expect(await store.getDelivery(second.id)).toMatchObject({ status: "pending", nextAttemptAt: null });
        expect(await store.getDelivery(otherGroup.id)).toMatchObject({
          nextAttemptAt: T0 + 2,
          orderingKey: "customer-2",
        });
        expect(await store.nextDueAt()).toBe(T0);

        // One per group at a time: the parked one is never claimed.
        const claimed = await store.claimDue(claimOptions("w1", T0 + 10));
        expect(claimedIds(claimed)).toEqual(sortedIds([first, otherGroup]));
        const firstClaim = must(claimed.find((c) => c.delivery.id === first.id));

        // A retry keeps the group waiting…
        await store.complete(
          [
            makeCompletion(firstClaim.delivery, "w1", {
              at: T0 + 11,
              status: "pending",
              nextAttemptAt: T0 + 5_000,
              outcome: "failed",
            }),
          ],
          T0 + 12,
          HOUR_MS,
        );
        expect(await store.getDelivery(second.id)).toMatchObject({ status: "pending", nextAttemptAt: null });
        expect(await store.claimDue(claimOptions("w1", T0 + 100))).toEqual([]);

        // …exhausting it lets the next one go.
        const [again] = await store.claimDue(claimOptions("w1", T0 + 5_000));
        expect(again?.delivery.id).toBe(first.id);
        await store.complete(
          [makeCompletion(must(again).delivery, "w1", { at: T0 + 5_001, status: "failed", outcome: "failed" })],
          T0 + 5_002,
          HOUR_MS,
        );
        expect(await store.getDelivery(second.id)).toMatchObject({ status: "pending", nextAttemptAt: T0 + 5_002 });

        // A message sent while the group's head is in flight waits behind it, and goes once it is delivered.
        const [head] = await store.claimDue(claimOptions("w1", T0 + 5_003));
        expect(head?.delivery.id).toBe(second.id);
        const third = await send("", T0 + 5_004);
        expect(await store.getDelivery(third.id)).toMatchObject({ nextAttemptAt: null });
        await store.complete([makeCompletion(must(head).delivery, "w1", { at: T0 + 5_005 })], T0 + 5_006, HOUR_MS);
        expect(await store.getDelivery(third.id)).toMatchObject({ status: "pending", nextAttemptAt: T0 + 5_006 });
        expect(claimedIds(await store.claimDue(claimOptions("w1", T0 + 5_006)))).toEqual([third.id]);
      });

      it("an endpoint's ordering can be set and cleared; unordered endpoints and deliveries carry none", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        expect((await store.getEndpoint(endpoint.id))?.ordering).toBeUndefined();
        expect((await store.updateEndpoint(endpoint.id, { ordering: "fifo" }, T0 + 1))?.ordering).toBe("fifo");
        expect((await store.getEndpoint(endpoint.id))?.ordering).toBe("fifo");
        expect((await store.updateEndpoint(endpoint.id, { ordering: null }, T0 + 2))?.ordering).toBeUndefined();
        const delivery = await seedDelivery(store, endpoint);
        expect((await store.getDelivery(delivery.id))?.orderingKey).toBeUndefined();
      });

      it("an endpoint's payload filter round-trips as JSON, and can be replaced and cleared", async () => {
        const app = await seedApp(store);
        const plain = await seedEndpoint(store, app.id);
        expect((await store.getEndpoint(plain.id))?.filter).toBeUndefined();
        const filter = {
          amount: { $gte: 100 },
          "customer.country": { $in: ["DE", "FR", null] },
          $or: [{ tags: { $regex: { pattern: "^vip$", flags: "i" } } }, { $not: { "a.b": { $exist: false } } }],
          note: 'ünïcödé \u0000 "quoted"',
        };
        const filtered = await seedEndpoint(store, app.id, { filter });
        expect(await store.getEndpoint(filtered.id)).toEqual({ ...filtered, filter });
        expect((await store.enabledEndpoints(app.id)).find((e) => e.id === filtered.id)?.filter).toEqual(filter);
        const replaced = { amount: { $lt: 5 } };
        expect((await store.updateEndpoint(plain.id, { filter: replaced }, T0 + 1))?.filter).toEqual(replaced);
        expect((await store.getEndpoint(plain.id))?.filter).toEqual(replaced);
        const cleared = await store.updateEndpoint(plain.id, { filter: null }, T0 + 2);
        expect(cleared?.filter).toBeUndefined();
        expect(await store.getEndpoint(plain.id)).toEqual(cleared);
        expect(await store.getEndpoint(filtered.id)).toEqual({ ...filtered, filter });
      });
    });

    // -----------------------------------------------------------------------
    describe("complete with a claim in the same transaction", () => {
      it("the slots a batch frees are claimed at once, and the claim sees the completions", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const rows = await seedDue(store, endpoint, 3, T0, 1);
        const [first] = await store.claimDue(claimOptions("w1", T0 + 5, { perEndpointLimit: 1 }));
        expect(first?.delivery.id).toBe(must(rows[0]).id);
        const effects = await store.complete(
          [makeCompletion(must(first).delivery, "w1", { at: T0 + 6 })],
          T0 + 7,
          HOUR_MS,
          claimOptions("w1", T0 + 7, { perEndpointLimit: 1 }),
        );
        expect(effects.lostLeases).toEqual([]);
        expect(claimedIds(effects.claimed ?? [])).toEqual([must(rows[1]).id]);
        expect(await store.getDelivery(must(rows[0]).id)).toMatchObject({ status: "delivered" });
        expect(await store.getDelivery(must(rows[1]).id)).toMatchObject({ status: "sending", leaseOwner: "w1" });
        expect(await store.getDelivery(must(rows[2]).id)).toMatchObject({ status: "pending" });
      });
    });

    // -----------------------------------------------------------------------
    describe("release", () => {
      it("gives the owner's leased deliveries back, due at their claim time, and ignores other owners", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const pendingLater = await seedDelivery(store, endpoint, { nextAttemptAt: T0 + HOUR_MS });
        await seedDue(store, endpoint, 3, T0);
        const claimed = await store.claimDue(claimOptions("w1", T0));
        const [d1, d2, d3] = claimed.map((c) => c.delivery);

        await store.release("w2", [must(d1).id, must(d2).id, must(d3).id], T0 + 5);
        for (const d of [d1, d2, d3]) expect(await store.getDelivery(must(d).id)).toEqual(d);

        await store.release("w1", [must(d1).id, must(d2).id, pendingLater.id, "dlv_unknown"], T0 + 10);
        for (const d of [d1, d2]) {
          expect(await store.getDelivery(must(d).id)).toMatchObject({
            status: "pending",
            nextAttemptAt: T0,
            leaseOwner: null,
            attemptCount: 0,
            updatedAt: T0 + 10,
          });
        }
        expect(await store.getDelivery(must(d3).id)).toEqual(d3);
        expect(await store.getDelivery(pendingLater.id)).toEqual(pendingLater);
        expect((await store.listAttempts({})).data).toEqual([]);

        const again = await store.claimDue(claimOptions("w2", T0 + 10));
        expect(claimedIds(again)).toEqual(sortedIds([must(d1), must(d2)]));
      });
    });

    // -----------------------------------------------------------------------
    describe("requeueDelivery and recoverEndpoint", () => {
      it("requeues a failed, delivered or pending delivery as due now with a manual trigger", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const failed = await seedDelivery(store, endpoint, {
          status: "failed",
          nextAttemptAt: null,
          attemptCount: 4,
          lastStatusCode: 500,
        });
        const delivered = await seedDelivery(store, endpoint, {
          status: "delivered",
          nextAttemptAt: null,
          attemptCount: 1,
        });
        const waiting = await seedDelivery(store, endpoint, { nextAttemptAt: T0 + HOUR_MS });

        for (const d of [failed, delivered, waiting]) {
          const requeued = await store.requeueDelivery(d.id, T0 + 50);
          const expected = {
            ...d,
            status: "pending",
            nextAttemptAt: T0 + 50,
            nextTrigger: "manual",
            updatedAt: T0 + 50,
          };
          expect(requeued).toEqual(expected);
          expect(await store.getDelivery(d.id)).toEqual(expected);
        }
        expect(await store.nextDueAt()).toBe(T0 + 50);
        const claimed = await store.claimDue(claimOptions("w1", T0 + 50));
        expect(claimedIds(claimed)).toEqual(sortedIds([failed, delivered, waiting]));
        expect(claimed.every((c) => c.delivery.nextTrigger === "manual")).toBe(true);
      });

      it("returns null for an unknown or sending delivery and leaves the sending one alone", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        await seedDelivery(store, endpoint, { nextAttemptAt: T0 });
        const [claimed] = await store.claimDue(claimOptions("w1", T0));
        expect(await store.requeueDelivery(must(claimed).delivery.id, T0 + 1)).toBeNull();
        expect(await store.getDelivery(must(claimed).delivery.id)).toEqual(claimed?.delivery);
        expect(await store.requeueDelivery("dlv_unknown", T0 + 1)).toBeNull();
      });

      it("recoverEndpoint requeues only the endpoint's failed deliveries last updated in [since, until)", async () => {
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        const otherEndpoint = await seedEndpoint(store, app.id);
        const since = T0 + 1_000;
        const until = T0 + 2_000;
        const failedAt = (e: EndpointRecord, updatedAt: number, status: DeliveryStatus = "failed") =>
          seedDelivery(store, e, { status, nextAttemptAt: null, attemptCount: 3, updatedAt });
        const atSince = await failedAt(endpoint, since);
        const inside = await failedAt(endpoint, until - 1);
        const before = await failedAt(endpoint, since - 1);
        const atUntil = await failedAt(endpoint, until);
        const deliveredInside = await failedAt(endpoint, since + 10, "delivered");
        const cancelledInside = await failedAt(endpoint, since + 10, "cancelled");
        const otherInside = await failedAt(otherEndpoint, since + 10);

        const now = T0 + 5_000;
        expect(await store.recoverEndpoint(endpoint.id, since, until, now)).toBe(2);
        for (const d of [atSince, inside]) {
          expect(await store.getDelivery(d.id)).toEqual({
            ...d,
            status: "pending",
            nextAttemptAt: now,
            nextTrigger: "manual",
            updatedAt: now,
          });
        }
        for (const d of [before, atUntil, deliveredInside, cancelledInside, otherInside]) {
          expect(await store.getDelivery(d.id)).toEqual(d);
        }
        // Requeued rows are pending now, so a second pass finds nothing.
        expect(await store.recoverEndpoint(endpoint.id, since, until, now)).toBe(0);
        expect(await store.recoverEndpoint("ep_unknown", since, until, now)).toBe(0);
      });
    });

    // -----------------------------------------------------------------------
    describe("delivery and attempt queries", () => {
      it("listDeliveries filters by status, endpoint, message and app, newest first", async () => {
        const a = await seedApp(store);
        const b = await seedApp(store);
        const a1 = await seedEndpoint(store, a.id);
        const a2 = await seedEndpoint(store, a.id);
        const b1 = await seedEndpoint(store, b.id);
        const m1 = await enqueue(store, a.id, [a1.id, a2.id]);
        const m2 = await enqueue(store, a.id, [a1.id], { delivery: { status: "failed", nextAttemptAt: null } });
        const m3 = await enqueue(store, b.id, [b1.id]);
        const [d1a1, d1a2] = m1.deliveries;
        const [d2a1] = m2.deliveries;
        const [d3b1] = m3.deliveries;

        const list = async (filter: Parameters<Store["listDeliveries"]>[0]) =>
          ids((await store.listDeliveries(filter)).data);
        const idOf = (d: DeliveryRecord | undefined) => must(d).id;
        expect(await list({})).toEqual([idOf(d3b1), idOf(d2a1), idOf(d1a2), idOf(d1a1)]);
        expect(await list({ appId: a.id })).toEqual([idOf(d2a1), idOf(d1a2), idOf(d1a1)]);
        expect(await list({ appId: b.id })).toEqual([idOf(d3b1)]);
        expect(await list({ endpointId: a1.id })).toEqual([idOf(d2a1), idOf(d1a1)]);
        expect(await list({ messageId: m1.message.id })).toEqual([idOf(d1a2), idOf(d1a1)]);
        expect(await list({ status: "failed" })).toEqual([idOf(d2a1)]);
        expect(await list({ status: "pending", appId: a.id })).toEqual([idOf(d1a2), idOf(d1a1)]);
        expect(await list({ status: "pending", endpointId: a1.id, messageId: m1.message.id })).toEqual([idOf(d1a1)]);
        expect(await list({ status: "delivered" })).toEqual([]);
        expect(await list({ appId: b.id, endpointId: a1.id })).toEqual([]);
        expect((await store.listDeliveries({ appId: a.id })).data[0]).toEqual(d2a1);
      });

      it("listAttempts filters by delivery, message, endpoint and app, newest first", async () => {
        const a = await seedApp(store);
        const b = await seedApp(store);
        const a1 = await seedEndpoint(store, a.id);
        const a2 = await seedEndpoint(store, a.id);
        const b1 = await seedEndpoint(store, b.id);
        const m1 = await enqueue(store, a.id, [a1.id, a2.id], { delivery: { nextAttemptAt: T0 } });
        await enqueue(store, b.id, [b1.id], { delivery: { nextAttemptAt: T0 } });

        // Two rounds: every delivery fails once, then succeeds.
        const round1 = await store.claimDue(claimOptions("w1", T0));
        expect(round1).toHaveLength(3);
        const fails = round1.map((c) =>
          makeCompletion(c.delivery, "w1", {
            at: T0 + 1,
            status: "pending",
            nextAttemptAt: T0 + 10,
            outcome: "failed",
          }),
        );
        await store.complete(fails, T0 + 2, HOUR_MS);
        const round2 = await store.claimDue(claimOptions("w1", T0 + 10));
        expect(round2).toHaveLength(3);
        const oks = round2.map((c) => makeCompletion(c.delivery, "w1", { at: T0 + 11 }));
        await store.complete(oks, T0 + 12, HOUR_MS);
        const all = [...fails, ...oks].map((c) => c.attempt);

        const list = async (filter: Parameters<Store["listAttempts"]>[0]) => (await store.listAttempts(filter)).data;
        const expectIds = (rows: AttemptRecord[]) => newestFirst(rows);
        expect(await list({})).toEqual([...all].sort((x, y) => (x.id < y.id ? 1 : -1)));
        expect(ids(await list({ appId: a.id }))).toEqual(expectIds(all.filter((t) => t.appId === a.id)));
        expect(ids(await list({ appId: b.id }))).toEqual(expectIds(all.filter((t) => t.appId === b.id)));
        expect(ids(await list({ endpointId: a2.id }))).toEqual(expectIds(all.filter((t) => t.endpointId === a2.id)));
        expect(ids(await list({ messageId: m1.message.id }))).toEqual(
          expectIds(all.filter((t) => t.messageId === m1.message.id)),
        );
        const d1 = must(m1.deliveries[0]).id;
        const forD1 = await list({ deliveryId: d1 });
        expect(ids(forD1)).toEqual(expectIds(all.filter((t) => t.deliveryId === d1)));
        expect(forD1.map((t) => [t.number, t.succeeded])).toEqual([
          [2, true],
          [1, false],
        ]);
        expect(ids(await list({ appId: a.id, endpointId: b1.id }))).toEqual([]);
      });

      it("nextDueAt is the earliest nextAttemptAt of pending and sending deliveries", async () => {
        expect(await store.nextDueAt()).toBeNull();
        const app = await seedApp(store);
        const endpoint = await seedEndpoint(store, app.id);
        await seedDelivery(store, endpoint, { status: "delivered", nextAttemptAt: null });
        await seedDelivery(store, endpoint, { status: "failed", nextAttemptAt: null });
        expect(await store.nextDueAt()).toBeNull();

        await seedDelivery(store, endpoint, { nextAttemptAt: T0 + 500 });
        const early = await seedDelivery(store, endpoint, { nextAttemptAt: T0 + 200 });
        expect(await store.nextDueAt()).toBe(T0 + 200);

        // Claimed: its lease expiry now counts instead.
        const [claimed] = await store.claimDue(claimOptions("w1", T0 + 300, { leaseMs: 100 }));
        expect(claimed?.delivery.id).toBe(early.id);
        expect(await store.nextDueAt()).toBe(T0 + 400);
        await store.complete([makeCompletion(must(claimed).delivery, "w1", { at: T0 + 301 })], T0 + 302, HOUR_MS);
        expect(await store.nextDueAt()).toBe(T0 + 500);
      });

      it("countDeliveries counts every status, optionally per endpoint or app", async () => {
        const zero = { pending: 0, sending: 0, delivered: 0, failed: 0, cancelled: 0 };
        expect(await store.countDeliveries()).toEqual(zero);
        const a = await seedApp(store);
        const b = await seedApp(store);
        const a1 = await seedEndpoint(store, a.id);
        const a2 = await seedEndpoint(store, a.id);
        const b1 = await seedEndpoint(store, b.id);
        await seedDue(store, a1, 3, T0);
        await seedDelivery(store, a1, { status: "delivered", nextAttemptAt: null });
        await seedDelivery(store, a2, { status: "failed", nextAttemptAt: null });
        await seedDelivery(store, a2, { status: "cancelled", nextAttemptAt: null });
        await seedDelivery(store, b1, { status: "delivered", nextAttemptAt: null });
        await seedDue(store, b1, 1, T0 + HOUR_MS);
        expect(await store.claimDue(claimOptions("w1", T0, { limit: 2 }))).toHaveLength(2);

        expect(await store.countDeliveries()).toEqual({
          pending: 2,
          sending: 2,
          delivered: 2,
          failed: 1,
          cancelled: 1,
        });
        expect(await store.countDeliveries({})).toEqual({
          pending: 2,
          sending: 2,
          delivered: 2,
          failed: 1,
          cancelled: 1,
        });
        expect(await store.countDeliveries({ appId: a.id })).toEqual({
          ...zero,
          pending: 1,
          sending: 2,
          delivered: 1,
          failed: 1,
          cancelled: 1,
        });
        expect(await store.countDeliveries({ endpointId: a1.id })).toEqual({
          ...zero,
          pending: 1,
          sending: 2,
          delivered: 1,
        });
        expect(await store.countDeliveries({ endpointId: a2.id })).toEqual({ ...zero, failed: 1, cancelled: 1 });
        expect(await store.countDeliveries({ appId: b.id })).toEqual({ ...zero, pending: 1, delivered: 1 });
        expect(await store.countDeliveries({ appId: a.id, endpointId: b1.id })).toEqual(zero);
      });
    });

    // -----------------------------------------------------------------------
    describe("documents", () => {
      const doc = (key: string, value: unknown, at = T0) => ({
        namespace: "event_type",
        key,
        value: JSON.stringify(value),
        createdAt: at,
        updatedAt: at,
      });

      it("put, get, replace (keeping createdAt), delete", async () => {
        expect(await store.getDocument("event_type", "a")).toBeNull();
        expect(await store.putDocument(doc("a", { v: 1 }))).toBe(true);
        expect(await store.getDocument("event_type", "a")).toEqual(doc("a", { v: 1 }));
        expect(await store.putDocument(doc("a", { v: 2 }, T0 + 5))).toBe(true);
        expect(await store.getDocument("event_type", "a")).toEqual({ ...doc("a", { v: 2 }, T0 + 5), createdAt: T0 });
        expect(await store.deleteDocument("event_type", "a")).toBe(true);
        expect(await store.deleteDocument("event_type", "a")).toBe(false);
        expect(await store.getDocument("event_type", "a")).toBeNull();
      });

      it("onlyIfAbsent never overwrites, and two racing puts have exactly one winner", async () => {
        expect(await store.putDocument(doc("k", 1), { onlyIfAbsent: true })).toBe(true);
        expect(await store.putDocument(doc("k", 2), { onlyIfAbsent: true })).toBe(false);
        expect(JSON.parse(must(await store.getDocument("event_type", "k")).value)).toBe(1);
        const results = await Promise.all(
          [1, 2, 3, 4].map((n) => store.putDocument(doc("race", n), { onlyIfAbsent: true })),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it("namespaces are separate, and listing pages through keys in ascending order", async () => {
        await store.putDocument({ ...doc("a", 0), namespace: "api_key" });
        const keys = Array.from({ length: 7 }, (_, i) => `type.${String.fromCharCode(103 - i)}`);
        for (const key of keys) await store.putDocument(doc(key, key));
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const result = await store.listDocuments("event_type", { limit: 3, ...(cursor && { cursor }) });
          seen.push(...result.data.map((d) => d.key));
          if (result.nextCursor === null) break;
          cursor = result.nextCursor;
        }
        expect(seen).toEqual([...keys].sort());
        expect((await store.listDocuments("api_key", {})).data.map((d) => d.key)).toEqual(["a"]);
        expect(await store.getDocument("api_key", "type.a")).toBeNull();
      });
    });

    describe("paging", () => {
      /** Each list method with a way to create `count` rows it lists (returned oldest first). */
      const listers: Array<{
        name: string;
        seed: (count: number) => Promise<{
          rows: Array<{ id: string }>;
          list: (options: PageOptions) => Promise<Page<{ id: string }>>;
        }>;
      }> = [
        {
          name: "listApps",
          seed: async (count) => {
            const rows: AppRecord[] = [];
            for (let i = 0; i < count; i++) rows.push(await seedApp(store));
            return { rows, list: (o) => store.listApps(o) };
          },
        },
        {
          name: "listEndpoints",
          seed: async (count) => {
            const app = await seedApp(store);
            const other = await seedApp(store);
            const rows: EndpointRecord[] = [];
            for (let i = 0; i < count; i++) {
              rows.push(await seedEndpoint(store, app.id));
              if (i % 3 === 0) await seedEndpoint(store, other.id);
            }
            return { rows, list: (o) => store.listEndpoints({ ...o, appId: app.id }) };
          },
        },
        {
          name: "listMessages",
          seed: async (count) => {
            const app = await seedApp(store);
            const other = await seedApp(store);
            const rows: MessageRecord[] = [];
            for (let i = 0; i < count; i++) {
              rows.push((await enqueue(store, app.id, [], { message: { createdAt: T0 + i } })).message);
              if (i % 3 === 0) await enqueue(store, other.id, []);
            }
            return { rows, list: (o) => store.listMessages({ ...o, appId: app.id }) };
          },
        },
        {
          name: "listDeliveries",
          seed: async (count) => {
            const app = await seedApp(store);
            const endpoint = await seedEndpoint(store, app.id);
            const other = await seedEndpoint(store, app.id);
            const rows: DeliveryRecord[] = [];
            for (let i = 0; i < count; i++) {
              rows.push(await seedDelivery(store, endpoint));
              if (i % 3 === 0) await seedDelivery(store, other);
            }
            return { rows, list: (o) => store.listDeliveries({ ...o, endpointId: endpoint.id }) };
          },
        },
        {
          name: "listAttempts",
          seed: async (count) => {
            const app = await seedApp(store);
            const endpoint = await seedEndpoint(store, app.id);
            await seedDue(store, endpoint, count, T0);
            const claimed = await store.claimDue(claimOptions("w1", T0, { limit: 250, perEndpointLimit: 250 }));
            expect(claimed).toHaveLength(count);
            const completions = claimed.map((c) => makeCompletion(c.delivery, "w1", { at: T0 + 1 }));
            await store.complete(completions, T0 + 2, HOUR_MS);
            return {
              rows: completions.map((c) => c.attempt),
              list: (o) => store.listAttempts({ ...o, endpointId: endpoint.id }),
            };
          },
        },
      ];

      for (const lister of listers) {
        describe(lister.name, () => {
          it("walking pages visits every row exactly once, newest first, ending with nextCursor null", async () => {
            const { rows, list } = await lister.seed(10);
            const pages = await walk(list, 3);
            expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 1]);
            expect(pages.flat().map((r) => r.id)).toEqual(newestFirst(rows));
          });

          it("a last page that is exactly full still ends with nextCursor null", async () => {
            const { rows, list } = await lister.seed(6);
            const pages = await walk(list, 3);
            expect(pages.map((p) => p.length)).toEqual([3, 3]);
            expect(pages.flat().map((r) => r.id)).toEqual(newestFirst(rows));
            const single = await list({ limit: 6 });
            expect(single.nextCursor).toBeNull();
            expect(ids(single.data)).toEqual(newestFirst(rows));
          });

          it("limit defaults to 50; 1 and 250 are allowed; other limits throw", async () => {
            const { rows, list } = await lister.seed(51);
            const first = await list({});
            expect(ids(first.data)).toEqual(newestFirst(rows).slice(0, 50));
            expect(first.nextCursor).not.toBeNull();
            const second = await list({ cursor: must(first.nextCursor) });
            expect(ids(second.data)).toEqual(newestFirst(rows).slice(50));
            expect(second.nextCursor).toBeNull();

            const one = await list({ limit: 1 });
            expect(ids(one.data)).toEqual(newestFirst(rows).slice(0, 1));
            expect(one.nextCursor).not.toBeNull();
            const max = await list({ limit: 250 });
            expect(ids(max.data)).toEqual(newestFirst(rows));
            expect(max.nextCursor).toBeNull();

            for (const limit of [0, -1, 251, 1000, 2.5, Number.NaN]) {
              await expectInvalidLimit(() => list({ limit }));
            }
          });
        });
      }

      it("an empty table gives one empty page", async () => {
        const app = await seedApp(store);
        expect(await store.listEndpoints({ appId: app.id })).toEqual({ data: [], nextCursor: null });
        expect(await store.listMessages({ appId: app.id })).toEqual({ data: [], nextCursor: null });
        expect(await store.listDeliveries({})).toEqual({ data: [], nextCursor: null });
        expect(await store.listAttempts({})).toEqual({ data: [], nextCursor: null });
      });
    });
  });
}

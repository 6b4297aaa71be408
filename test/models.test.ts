import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { plainJson } from "../src/core/json.js";
import {
  ConfigurationError,
  canonicalJson,
  DeliveryResult,
  type HooklineError,
  SignatureAlgorithm,
  WebhookConfig,
  WebhookEvent,
  WebhookEventType,
  WebhookStatus,
} from "../src/index.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("enums", () => {
  test("keep the seed's members and values", () => {
    expect(WebhookEventType).toEqual({ CREATED: "created", UPDATED: "updated", DELETED: "deleted", CUSTOM: "custom" });
    expect(WebhookStatus).toEqual({
      PENDING: "pending",
      DELIVERED: "delivered",
      FAILED: "failed",
      RETRYING: "retrying",
    });
    expect(SignatureAlgorithm).toEqual({ HMAC_SHA256: "hmac_sha256", HMAC_SHA512: "hmac_sha512" });
  });
});

describe("WebhookEvent", () => {
  test("defaults: UUID v4 id, now, empty source", () => {
    const before = Date.now();
    const event = new WebhookEvent({ eventType: WebhookEventType.CREATED, payload: { id: 1 } });
    expect(event.eventId).toMatch(UUID_V4);
    expect(event.timestamp.getTime()).toBeGreaterThanOrEqual(before);
    expect(event.timestamp.getTime()).toBeLessThanOrEqual(Date.now());
    expect(event.source).toBe("");
    expect(new WebhookEvent({ eventType: "created", payload: 1 }).eventId).not.toBe(event.eventId);
  });

  test("toDict is the snake_case wire object with an ISO UTC timestamp", () => {
    const event = new WebhookEvent({
      eventType: "invoice.paid",
      payload: { amount: 5 },
      eventId: "evt_1",
      timestamp: new Date(Date.UTC(2026, 4, 17, 8, 30, 0, 250)),
      source: "billing",
    });
    expect(event.toDict()).toEqual({
      event_id: "evt_1",
      event_type: "invoice.paid",
      payload: { amount: 5 },
      timestamp: "2026-05-17T08:30:00.250Z",
      source: "billing",
    });
  });

  test("toJson sorts keys at every level and is the exact body", () => {
    const event = new WebhookEvent({
      eventType: "custom",
      payload: { zeta: 1, alpha: { y: [{ b: 2, a: 1 }], x: null }, ü: "é" },
      eventId: "e",
      timestamp: new Date(0),
    });
    const expected =
      '{"event_id":"e","event_type":"custom","payload":{"alpha":{"x":null,"y":[{"a":1,"b":2}]},"zeta":1,"ü":"é"},' +
      '"source":"","timestamp":"1970-01-01T00:00:00.000Z"}';
    expect(event.toJson()).toBe(expected);
    expect(JSON.parse(event.toJson())).toEqual(event.toDict());
  });

  test.each([
    ["a bigint", { n: 10n }],
    ["a function", { f: () => 1 }],
    ["a symbol", [Symbol("s")]],
    ["NaN", { x: Number.NaN }],
    ["Infinity", [Number.POSITIVE_INFINITY]],
  ])("rejects a payload holding %s with a typed error", (_name, payload) => {
    const attempt = () => new WebhookEvent({ eventType: "created", payload });
    expect(attempt).toThrow(ConfigurationError);
    try {
      attempt();
    } catch (error) {
      expect((error as HooklineError).code).toBe("HOOKLINE_PAYLOAD_INVALID");
    }
  });

  test("rejects circular payloads and names the path", () => {
    const payload: Record<string, unknown> = { a: { b: {} } };
    (payload.a as Record<string, unknown>).self = payload;
    expect(() => new WebhookEvent({ eventType: "created", payload })).toThrow(
      /circular reference at \$\.payload\.a\.self/,
    );
  });

  test("follows JSON.stringify for undefined and toJSON", () => {
    expect(canonicalJson({ b: undefined, a: [undefined, new Date(0)] })).toBe(
      '{"a":[null,"1970-01-01T00:00:00.000Z"]}',
    );
    expect(() => canonicalJson(undefined)).toThrow(ConfigurationError);
  });

  test("validates its options", () => {
    expect(() => new WebhookEvent({ eventType: "", payload: {} })).toThrow(/eventType/);
    expect(() => new WebhookEvent({ eventType: "x", payload: {}, timestamp: new Date("nope") })).toThrow(/timestamp/);
    expect(() => new WebhookEvent({ eventType: "x", payload: {}, eventId: "" })).toThrow(/eventId/);
  });
});

describe("WebhookConfig", () => {
  test("has the seed's defaults in milliseconds", () => {
    const config = new WebhookConfig({ url: "https://example.com/hook", secret: "s" });
    expect(config).toMatchObject({
      url: "https://example.com/hook",
      secret: "s",
      events: [],
      maxRetries: 3,
      retryDelayMs: 1000,
      timeoutMs: 30000,
      signatureAlgorithm: SignatureAlgorithm.HMAC_SHA256,
      active: true,
    });
  });

  test.each([
    [{ url: "", secret: "s" }, /url/],
    [{ url: "https://x", secret: "" }, /secret/],
    [{ url: "https://x", secret: "s", maxRetries: -1 }, /maxRetries/],
    [{ url: "https://x", secret: "s", maxRetries: 1.5 }, /maxRetries/],
    [{ url: "https://x", secret: "s", retryDelayMs: -5 }, /retryDelayMs/],
    [{ url: "https://x", secret: "s", timeoutMs: 0 }, /timeoutMs/],
    [{ url: "https://x", secret: "s", signatureAlgorithm: "md5" }, /signatureAlgorithm/],
    [{ url: "https://x", secret: "s", events: [""] }, /events/],
    [{ url: "https://x", secret: "s", active: "yes" }, /active/],
  ])("rejects %o", (options, message) => {
    expect(() => new WebhookConfig(options as never)).toThrow(message);
    expect(() => new WebhookConfig(options as never)).toThrow(ConfigurationError);
  });
});

describe("DeliveryResult", () => {
  test("defaults and toDict with snake_case keys", () => {
    const timestamp = new Date(Date.UTC(2026, 0, 2));
    const result = new DeliveryResult({ webhookId: "w", eventId: "e", status: WebhookStatus.DELIVERED, timestamp });
    expect(result.statusCode).toBeNull();
    expect(result.error).toBeNull();
    expect(result.attempt).toBe(1);
    expect(result.toDict()).toEqual({
      webhook_id: "w",
      event_id: "e",
      status: "delivered",
      status_code: null,
      attempt: 1,
      error: null,
      timestamp: "2026-01-02T00:00:00.000Z",
    });
  });
});

/** JSON data with integer-like, `__proto__` and non-ASCII keys. */
function arbitraryJson(): fc.Arbitrary<unknown> {
  const key = fc.oneof(fc.string(), fc.constantFrom("10", "2", "0", "__proto__", "constructor", "01", "a", "B", "é"));
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.string(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(key, tie("value"), { maxKeys: 5 }),
    ),
  })).value;
}

describe("canonicalJson on arbitrary JSON", () => {
  // A deliberately naive reference: sorted keys, native escaping of strings and numbers.
  function reference(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
    if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
  }

  test("matches a naive sorted-key serialiser, integer-like and __proto__ keys included", () => {
    fc.assert(
      fc.property(arbitraryJson(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("plainJson (a Svix-format payload, keys in the caller's order)", () => {
  test("is JSON.stringify on arbitrary JSON data", () => {
    fc.assert(
      fc.property(arbitraryJson(), (value) => {
        expect(plainJson(value)).toBe(JSON.stringify(value));
      }),
      { numRuns: 1000 },
    );
  });

  test("follows JSON.stringify for dates, toJSON, undefined members and deep nesting", () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const value = { z: new Date(0), a: undefined, m: new Money(5), l: [undefined], j: { toJSON: () => "custom" } };
    expect(plainJson(value)).toBe('{"z":"1970-01-01T00:00:00.000Z","m":{"cents":5},"l":[null],"j":"custom"}');
    let deep: unknown = "leaf";
    for (let i = 0; i < 200; i++) deep = { d: deep };
    expect(plainJson(deep)).toBe(JSON.stringify(deep));
  });

  test.each([
    ["a function", { a: { f: () => 1 } }, /function at \$\.a\.f/],
    ["a bigint", { n: [1n] }, /bigint at \$\.n\[0\]/],
    ["NaN", { x: Number.NaN }, /at \$\.x/],
    ["Infinity", [Number.POSITIVE_INFINITY], /at \$\[0\]/],
    ["undefined itself", undefined, /undefined at \$/],
  ])("refuses %s and names where", (_name, value, message) => {
    expect(() => plainJson(value)).toThrow(message);
    expect(() => plainJson(value)).toThrow(expect.objectContaining({ code: "HOOKLINE_PAYLOAD_INVALID" }));
  });

  test("refuses a cycle at any depth", () => {
    const payload: Record<string, unknown> = { a: { b: {} } };
    (payload.a as Record<string, unknown>).self = payload;
    expect(() => plainJson(payload)).toThrow(/circular reference at \$\.a\.self/);
  });
});

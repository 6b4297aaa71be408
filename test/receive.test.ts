import { createHash, createHmac } from "node:crypto";
import { sign as octokitSign, verify as octokitVerify } from "@octokit/webhooks-methods";
import fc from "fast-check";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import {
  type VerifyWebhookOptions,
  verifyWebhook,
  WEBHOOK_PROVIDERS,
  type WebhookProvider,
  WebhookVerificationError,
} from "../src/receive.js";

// Every expected signature here is computed with node:crypto in this file, taken
// from the provider's published example, or produced by the provider's own
// library (stripe, @octokit/webhooks-methods) — never by hookline alone.

const NOW_SECONDS = 1_765_000_000;
const now = () => NOW_SECONDS * 1000;
const BODY = '{"id":"evt_123","type":"thing.happened","data":{"n":1,"text":"héllo"}}';
const SECRET = "whsec_plain_string_secret";

const STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const secretFor = (provider: WebhookProvider) => (provider === "standard" ? STANDARD_SECRET : SECRET);
const hmacHex = (secret: string, content: string | Buffer) =>
  createHmac("sha256", secret).update(content).digest("hex");
const hmacBase64 = (secret: string, content: string | Buffer) =>
  createHmac("sha256", secret).update(content).digest("base64");

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).code;
  }
  throw new Error("expected a WebhookVerificationError");
}

/** Headers each provider sends for `body`, signed here with node:crypto. */
function signedHeaders(
  provider: WebhookProvider,
  body: string,
  secret = secretFor(provider),
  t = NOW_SECONDS,
): Record<string, string> {
  switch (provider) {
    case "standard": {
      const key = secret.startsWith("whsec_") ? Buffer.from(secret.slice("whsec_".length), "base64") : secret;
      const signature = createHmac("sha256", key).update(`msg_1.${t}.${body}`).digest("base64");
      return { "webhook-id": "msg_1", "webhook-timestamp": String(t), "webhook-signature": `v1,${signature}` };
    }
    case "hookline":
      return {
        "X-Webhook-Signature": hmacHex(secret, body),
        "X-Webhook-Signature-Algorithm": "hmac_sha256",
        "X-Webhook-Event-Id": "evt_seed",
        "X-Webhook-Event": "order.created",
        "X-Webhook-Timestamp": String(t),
      };
    case "stripe":
      return { "Stripe-Signature": `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}` };
    case "github":
      return {
        "X-Hub-Signature-256": `sha256=${hmacHex(secret, body)}`,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "push",
      };
    case "gitlab":
      return { "X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": "uuid-1", "X-Gitlab-Event": "Push Hook" };
    case "shopify":
      return {
        "X-Shopify-Hmac-Sha256": hmacBase64(secret, body),
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Topic": "orders/create",
      };
    case "slack":
      return {
        "X-Slack-Signature": `v0=${hmacHex(secret, `v0:${t}:${body}`)}`,
        "X-Slack-Request-Timestamp": String(t),
      };
  }
}

function verify(provider: WebhookProvider, overrides: Partial<VerifyWebhookOptions> = {}) {
  return verifyWebhook(provider, {
    secret: secretFor(provider),
    body: BODY,
    headers: signedHeaders(provider, BODY),
    now,
    ...overrides,
  });
}

const EXPECTED: Record<WebhookProvider, { id: string | null; timestamp: boolean; eventType: string | null }> = {
  standard: { id: "msg_1", timestamp: true, eventType: "thing.happened" },
  hookline: { id: "evt_seed", timestamp: true, eventType: "order.created" },
  stripe: { id: "evt_123", timestamp: true, eventType: "thing.happened" },
  github: { id: "72d3162e-cc78-11e3-81ab-4c9367dc0958", timestamp: false, eventType: "push" },
  gitlab: { id: "uuid-1", timestamp: false, eventType: "Push Hook" },
  shopify: { id: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", timestamp: false, eventType: "orders/create" },
  slack: { id: null, timestamp: true, eventType: "thing.happened" },
};

describe("verifyWebhook: every provider", () => {
  it("lists exactly the documented providers", () => {
    expect([...WEBHOOK_PROVIDERS].sort()).toEqual(
      ["github", "gitlab", "hookline", "shopify", "slack", "standard", "stripe"].sort(),
    );
  });

  describe.each([...WEBHOOK_PROVIDERS])("%s", (provider) => {
    it("accepts a valid signature and returns id, timestamp, event type and the parsed payload", () => {
      const result = verify(provider);
      expect(result.provider).toBe(provider);
      expect(result.id).toBe(EXPECTED[provider].id);
      expect(result.eventType).toBe(EXPECTED[provider].eventType);
      expect(result.timestamp).toEqual(EXPECTED[provider].timestamp ? new Date(NOW_SECONDS * 1000) : null);
      expect(result.payload).toEqual(JSON.parse(BODY));
    });

    it("accepts the body as a Buffer and as a Uint8Array", () => {
      expect(verify(provider, { body: Buffer.from(BODY) }).payload).toEqual(JSON.parse(BODY));
      expect(verify(provider, { body: new TextEncoder().encode(BODY) }).payload).toEqual(JSON.parse(BODY));
      const padded = Buffer.from(`xx${BODY}yy`).subarray(2, 2 + Buffer.byteLength(BODY));
      expect(verify(provider, { body: padded }).payload).toEqual(JSON.parse(BODY));
    });

    it("reads headers in any letter case, from Headers and from Node's array values", () => {
      const headers = signedHeaders(provider, BODY);
      const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
      expect(verify(provider, { headers: upper }).id).toBe(EXPECTED[provider].id);
      expect(verify(provider, { headers: lower }).id).toBe(EXPECTED[provider].id);
      expect(verify(provider, { headers: new Headers(headers) }).id).toBe(EXPECTED[provider].id);
    });

    it("rejects a wrong secret, and accepts it in a rotation list beside the right one", () => {
      const wrong = provider === "standard" ? "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" : "another-secret";
      expect(codeOf(() => verify(provider, { secret: wrong }))).toBe("HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
      expect(verify(provider, { secret: [wrong, secretFor(provider)] }).payload).toEqual(JSON.parse(BODY));
    });

    it("rejects a tampered body (gitlab's token does not cover the body)", () => {
      const run = () => verify(provider, { body: BODY.replace('"n":1', '"n":2') });
      if (provider === "gitlab") expect(run().payload).toMatchObject({ data: { n: 2 } });
      else expect(codeOf(run)).toBe("HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
    });

    it("rejects missing headers", () => {
      expect(codeOf(() => verify(provider, { headers: {} }))).toBe("HOOKLINE_VERIFICATION_MISSING_HEADERS");
      expect(codeOf(() => verify(provider, { headers: null as never }))).toBe("HOOKLINE_VERIFICATION_MISSING_HEADERS");
    });

    it("rejects a body that is not JSON, not UTF-8, not bytes, or too large", () => {
      const notJson = "not json {";
      const run = () => verify(provider, { body: notJson, headers: signedHeaders(provider, notJson) });
      // Slack posts slash commands as forms; everyone else must send JSON.
      if (provider === "slack") expect(run().payload).toEqual({ "not json {": "" });
      else expect(codeOf(run)).toBe("HOOKLINE_VERIFICATION_INVALID_PAYLOAD");
      expect(codeOf(() => verify(provider, { body: { id: 1 } as never, headers: signedHeaders(provider, BODY) }))).toBe(
        "HOOKLINE_VERIFICATION_INVALID_PAYLOAD",
      );
      expect(codeOf(() => verify(provider, { maxBodyBytes: 10 }))).toBe("HOOKLINE_PAYLOAD_TOO_LARGE");
    });

    if (EXPECTED[provider].timestamp) {
      it("rejects expired and future timestamps, and honours toleranceSeconds", () => {
        const old = signedHeaders(provider, BODY, secretFor(provider), NOW_SECONDS - 301);
        const future = signedHeaders(provider, BODY, secretFor(provider), NOW_SECONDS + 301);
        expect(codeOf(() => verify(provider, { headers: old }))).toBe("HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
        expect(codeOf(() => verify(provider, { headers: future }))).toBe("HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW");
        expect(verify(provider, { headers: old, toleranceSeconds: 600 }).timestamp).toEqual(
          new Date((NOW_SECONDS - 301) * 1000),
        );
        const edge = signedHeaders(provider, BODY, secretFor(provider), NOW_SECONDS - 300);
        expect(verify(provider, { headers: edge }).timestamp).toEqual(new Date((NOW_SECONDS - 300) * 1000));
      });
    }
  });

  it("refuses misuse with a ConfigurationError, not a verification error", () => {
    expect(() => verifyWebhook("paypal" as never, { secret: "s", body: "{}", headers: {} })).toThrow(
      /unknown webhook provider/,
    );
    expect(() => verifyWebhook("github", { secret: "", body: "{}", headers: {} })).toThrow(/secret/);
    expect(() => verifyWebhook("github", { secret: [], body: "{}", headers: {} })).toThrow(/secret/);
    expect(() => verifyWebhook("github", { secret: "s", body: "{}", headers: {}, toleranceSeconds: -1 })).toThrow(
      /toleranceSeconds/,
    );
  });
});

describe("verifyWebhook: malformed headers are verification errors", () => {
  const cases: Array<[WebhookProvider, Record<string, string>, string]> = [
    ["stripe", { "stripe-signature": "garbage" }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    ["stripe", { "stripe-signature": `v1=${"a".repeat(64)}` }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    ["stripe", { "stripe-signature": `t=${NOW_SECONDS}` }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    ["stripe", { "stripe-signature": `t=soon,v1=${"a".repeat(64)}` }, "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP"],
    ["stripe", { "stripe-signature": `t=${NOW_SECONDS},v1=zz` }, "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE"],
    ["github", { "x-hub-signature-256": "md5=abc" }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    ["github", { "x-hub-signature-256": "sha256=xyz" }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    ["github", { "x-hub-signature-256": `sha256=${"g".repeat(64)}` }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    ["shopify", { "x-shopify-hmac-sha256": "!!!not base64" }, "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE"],
    [
      "slack",
      { "x-slack-signature": "v1=abc", "x-slack-request-timestamp": "1" },
      "HOOKLINE_VERIFICATION_MALFORMED_HEADER",
    ],
    [
      "slack",
      { "x-slack-signature": "v0=abc", "x-slack-request-timestamp": "-5" },
      "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP",
    ],
    ["slack", { "x-slack-signature": "v0=abc" }, "HOOKLINE_VERIFICATION_MISSING_HEADERS"],
    ["hookline", { "x-webhook-signature": "not-hex" }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
    [
      "hookline",
      { "x-webhook-signature": "ab", "x-webhook-signature-algorithm": "md5" },
      "HOOKLINE_VERIFICATION_MALFORMED_HEADER",
    ],
    [
      "hookline",
      { "x-webhook-signature": hmacHex(SECRET, BODY), "x-webhook-timestamp": "yesterday" },
      "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP",
    ],
    [
      "standard",
      { "webhook-id": "m", "webhook-timestamp": "x", "webhook-signature": "v1,a" },
      "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP",
    ],
    ["github", { "x-hub-signature-256": `sha256=${"a".repeat(10_000)}` }, "HOOKLINE_VERIFICATION_MALFORMED_HEADER"],
  ];

  it.each(cases)("%s %j → %s", (provider, headers, code) => {
    expect(codeOf(() => verify(provider, { headers }))).toBe(code);
  });

  it("ignores a header value that is not a string", () => {
    const headers = { "x-hub-signature-256": 42, "x-github-delivery": { a: 1 } } as never;
    expect(codeOf(() => verify("github", { headers }))).toBe("HOOKLINE_VERIFICATION_MISSING_HEADERS");
  });
});

describe("verifyWebhook: details of each scheme", () => {
  it("standard: the spec's published vector, v1a entries, svix-* names and rotation lists", () => {
    const headers = {
      "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "svix-timestamp": "1614265330",
      "svix-signature": "v1a,AAAA v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    };
    const result = verifyWebhook("standard", {
      secret: STANDARD_SECRET,
      body: '{"test": 2432232314}',
      headers,
      now: () => 1614265330_000,
    });
    expect(result).toEqual({
      provider: "standard",
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestamp: new Date(1614265330_000),
      eventType: null,
      payload: { test: 2432232314 },
    });
  });

  it("stripe: several v1 signatures (rolled secret) and other schemes are accepted", () => {
    const good = hmacHex(SECRET, `${NOW_SECONDS}.${BODY}`);
    const header = `t=${NOW_SECONDS},v1=${"0".repeat(64)},v0=${"1".repeat(64)},v1=${good}`;
    expect(verify("stripe", { headers: { "Stripe-Signature": header } }).id).toBe("evt_123");
  });

  it("stripe: a header from stripe's own generateTestHeaderString verifies", () => {
    const stripe = new Stripe("sk_test_unused");
    const header = stripe.webhooks.generateTestHeaderString({ payload: BODY, secret: SECRET, timestamp: NOW_SECONDS });
    expect(verify("stripe", { headers: { "stripe-signature": header } }).id).toBe("evt_123");
    const live = stripe.webhooks.generateTestHeaderString({ payload: BODY, secret: SECRET });
    expect(verifyWebhook("stripe", { secret: SECRET, body: BODY, headers: { "stripe-signature": live } }).id).toBe(
      "evt_123",
    );
  });

  it("stripe: the signature accepted by verifyWebhook is accepted by stripe.webhooks.constructEvent", () => {
    const stripe = new Stripe("sk_test_unused");
    const t = Math.floor(Date.now() / 1000);
    const header = signedHeaders("stripe", BODY, SECRET, t)["Stripe-Signature"] as string;
    expect(verifyWebhook("stripe", { secret: SECRET, body: BODY, headers: { "stripe-signature": header } }).id).toBe(
      "evt_123",
    );
    expect(stripe.webhooks.constructEvent(BODY, header, SECRET).id).toBe("evt_123");
    expect(() => stripe.webhooks.constructEvent(BODY, header, "whsec_other")).toThrow();
  });

  it("github: the published example and @octokit/webhooks-methods agree with verifyWebhook", async () => {
    // From GitHub's "Validating webhook deliveries" documentation.
    const published = {
      secret: "It's a Secret to Everybody",
      body: "Hello, World!",
      signature: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    };
    expect(`sha256=${hmacHex(published.secret, published.body)}`).toBe(published.signature);
    const signature = await octokitSign(SECRET, BODY);
    expect(verify("github", { headers: { "x-hub-signature-256": signature } }).payload).toEqual(JSON.parse(BODY));
    const ours = signedHeaders("github", BODY)["X-Hub-Signature-256"] as string;
    expect(await octokitVerify(SECRET, BODY, ours)).toBe(true);
    expect(await octokitVerify("other", BODY, ours)).toBe(false);
  });

  it("slack: the published slash-command example verifies and is parsed as a form", () => {
    // From Slack's "Verifying requests from Slack" documentation.
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const result = verifyWebhook("slack", {
      secret: "8f742231b10e8888abcd99yyyzzz85a5",
      body,
      headers: {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
      },
      now: () => 1531420618_000,
    });
    expect(result.payload).toMatchObject({ command: "/webhook-collect", user_name: "roadrunner" });
    expect(result.timestamp).toEqual(new Date(1531420618_000));
  });

  it("slack: an Events API body gives event_id as id and event.type as type", () => {
    const body = JSON.stringify({ type: "event_callback", event_id: "Ev123", event: { type: "app_mention" } });
    const result = verifyWebhook("slack", { secret: SECRET, body, headers: signedHeaders("slack", body), now });
    expect(result).toMatchObject({ id: "Ev123", eventType: "app_mention" });
  });

  it("hookline: SHA-512 signatures and a missing (unsigned) timestamp", () => {
    const signature = createHmac("sha512", SECRET).update(BODY).digest("hex");
    const headers = { "x-webhook-signature": signature, "x-webhook-signature-algorithm": "hmac_sha512" };
    expect(verify("hookline", { headers })).toMatchObject({ id: null, timestamp: null, payload: JSON.parse(BODY) });
    const invalidUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);
    const overBytes = { "x-webhook-signature": createHmac("sha256", SECRET).update(invalidUtf8).digest("hex") };
    expect(codeOf(() => verify("hookline", { body: invalidUtf8, headers: overBytes }))).toBe(
      "HOOKLINE_VERIFICATION_INVALID_PAYLOAD",
    );
  });

  it("gitlab: compares the token in constant time over hashes; any other token fails", () => {
    expect(createHash("sha256").update(SECRET).digest()).toHaveLength(32);
    expect(codeOf(() => verify("gitlab", { headers: { "x-gitlab-token": `${SECRET}x` } }))).toBe(
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    expect(verify("gitlab", { headers: { "X-GITLAB-TOKEN": SECRET } })).toMatchObject({ id: null, eventType: null });
  });
});

describe("verifyWebhook: property", () => {
  it("random headers and bodies never throw anything but WebhookVerificationError", () => {
    const headerValue = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom(`t=${NOW_SECONDS},v1=`, "sha256=", "v0=", "v1,", "hmac_sha512", String(NOW_SECONDS), ""),
      fc.array(fc.string({ maxLength: 50 }), { maxLength: 3 }),
      fc.anything(),
    );
    const body = fc.oneof(
      fc.constant(BODY),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.json(),
    );
    const counts: Record<string, number> = {};
    let cases = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...WEBHOOK_PROVIDERS),
        // Start from the provider's real headers, drop some, overwrite some with junk, add junk.
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.dictionary(fc.string({ maxLength: 20 }), headerValue, { maxKeys: 4 }),
        fc.array(headerValue, { minLength: 8, maxLength: 8 }),
        fc.array(fc.nat(3), { minLength: 8, maxLength: 8 }),
        body,
        fc.boolean(),
        (provider, keep, extra, junk, how, raw, asFetchHeaders) => {
          cases++;
          const headers: Record<string, unknown> = { ...extra };
          Object.entries(signedHeaders(provider, BODY)).forEach(([name, value], i) => {
            if (!keep[i]) return;
            const mode = how[i] ?? 0;
            const key = mode === 1 ? name.toUpperCase() : name;
            headers[key] = mode === 2 ? junk[i] : mode === 3 ? `${value}${String(junk[i]).slice(0, 5)}` : value;
          });
          let source = headers as VerifyWebhookOptions["headers"];
          if (asFetchHeaders) {
            const fetchHeaders = new Headers();
            for (const [name, value] of Object.entries(headers)) {
              try {
                fetchHeaders.append(name, String(value));
              } catch {
                // Names and values fetch itself refuses cannot reach a handler.
              }
            }
            source = fetchHeaders;
          }
          try {
            verifyWebhook(provider, { secret: secretFor(provider), body: raw, headers: source, now });
            counts.accepted = (counts.accepted ?? 0) + 1;
          } catch (error) {
            if (!(error instanceof WebhookVerificationError)) throw error;
            counts[error.code] = (counts[error.code] ?? 0) + 1;
          }
        },
      ),
      { numRuns: 5000 },
    );
    console.log(`verifyWebhook property: ${cases} cases`, counts);
    expect(cases).toBe(5000);
    expect(Object.keys(counts).length).toBeGreaterThan(4);
  });
});

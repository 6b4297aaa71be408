import { createHmac, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SignatureAlgorithm } from "../src/core/enums.js";
import { ConfigurationError, type HooklineErrorCode, WebhookVerificationError } from "../src/core/errors.js";
import { buildDeliveryHeaders, type DeliveryRequest } from "../src/delivery/deliver.js";
import { generateSecret, generateSigningKeyPair, parseSigningSecret } from "../src/signing/secrets.js";
import { type HeaderSource, StandardWebhook } from "../src/signing/standard-webhooks.js";

// Expected signatures come from the Standard Webhooks spec's published
// vectors, node:crypto computed here, or the `standardwebhooks` package.

const VECTORS = [
  {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    msgId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    payload: '{"test": 2432232314}',
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    parsed: { test: 2432232314 },
  },
  {
    secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    msgId: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
    timestamp: 1649367553,
    payload: '{"email":"test@example.com","username":"test_user"}',
    signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    parsed: { email: "test@example.com", username: "test_user" },
  },
] as const;

// RFC 8032 section 7.1, TEST 1: a fixed ed25519 key, so v1a signatures are deterministic.
const ED_SEED = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
const ED_PUBLIC = Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

const NOW_SECONDS = 1_700_000_000;
const NOW_MS = NOW_SECONDS * 1000;
const fixedNow =
  (ms: number = NOW_MS) =>
  () =>
    ms;

/** The raw key a `v1` HMAC uses: base64 part of whsec_, else UTF-8 of the string. */
function rawHmacKey(secret: string): Buffer {
  return secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret, "utf8");
}

/** `v1,` + base64 HMAC-SHA256 of `id.ts.body`, computed with node:crypto only. */
function v1(secret: string, msgId: string, timestampSeconds: number, body: string | Uint8Array): string {
  const mac = createHmac("sha256", rawHmacKey(secret))
    .update(Buffer.from(`${msgId}.${timestampSeconds}.`, "utf8"))
    .update(typeof body === "string" ? Buffer.from(body, "utf8") : body)
    .digest("base64");
  return `v1,${mac}`;
}

function edPrivateKey(seed: Buffer, pub: Buffer) {
  return createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", d: seed.toString("base64url"), x: pub.toString("base64url") },
    format: "jwk",
  });
}

function edPublicKeyFromRaw(raw: Buffer) {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

function v1a(seed: Buffer, pub: Buffer, msgId: string, timestampSeconds: number, body: string): string {
  const content = Buffer.from(`${msgId}.${timestampSeconds}.${body}`, "utf8");
  return `v1a,${edSign(null, content, edPrivateKey(seed, pub)).toString("base64")}`;
}

function headersFor(msgId: string, timestampSeconds: number | string, signature: string): Record<string, string> {
  return { "webhook-id": msgId, "webhook-timestamp": String(timestampSeconds), "webhook-signature": signature };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectVerificationError(fn: () => unknown, code: HooklineErrorCode): void {
  const error = caught(fn);
  expect(error, `expected ${code}`).toBeInstanceOf(WebhookVerificationError);
  expect((error as WebhookVerificationError).code).toBe(code);
}

function expectConfigurationError(fn: () => unknown, code: HooklineErrorCode): void {
  const error = caught(fn);
  expect(error, `expected ${code}`).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).code).toBe(code);
}

/** Freezes Date.now() (only Date) so the standardwebhooks package, which reads it directly, agrees with us. */
function freezeDate(ms: number): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(ms);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("StandardWebhook: published spec vectors", () => {
  it.each(VECTORS)("sign reproduces $signature", (vector) => {
    const wh = new StandardWebhook(vector.secret);
    expect(wh.sign(vector.msgId, new Date(vector.timestamp * 1000), vector.payload)).toBe(vector.signature);
    // Milliseconds are floored away, as in the reference library.
    expect(wh.sign(vector.msgId, new Date(vector.timestamp * 1000 + 999), vector.payload)).toBe(vector.signature);
    expect(wh.sign(vector.msgId, new Date(vector.timestamp * 1000), Buffer.from(vector.payload))).toBe(
      vector.signature,
    );
    expect(wh.sign(vector.msgId, new Date(vector.timestamp * 1000), new TextEncoder().encode(vector.payload))).toBe(
      vector.signature,
    );
  });

  it.each(VECTORS)("the oracles agree with vector $signature", (vector) => {
    // Guards the independent oracles themselves.
    expect(v1(vector.secret, vector.msgId, vector.timestamp, vector.payload)).toBe(vector.signature);
    expect(new Webhook(vector.secret).sign(vector.msgId, new Date(vector.timestamp * 1000), vector.payload)).toBe(
      vector.signature,
    );
  });

  it.each(VECTORS)("verify accepts $signature near its timestamp and returns the parsed JSON", (vector) => {
    const headers = headersFor(vector.msgId, vector.timestamp, vector.signature);
    for (const offsetMs of [0, 999, 60_000, -60_000]) {
      const wh = new StandardWebhook(vector.secret, { now: fixedNow(vector.timestamp * 1000 + offsetMs) });
      expect(wh.verify(vector.payload, headers)).toEqual(vector.parsed);
    }
    const wh = new StandardWebhook(vector.secret, { now: fixedNow(vector.timestamp * 1000) });
    expect(wh.verifySignature(vector.payload, headers)).toEqual({
      msgId: vector.msgId,
      timestampSeconds: vector.timestamp,
    });
    expect(wh.verify(Buffer.from(vector.payload), headers)).toEqual(vector.parsed);
  });

  it.each(VECTORS)("verify with the real clock rejects $signature as too old", (vector) => {
    const wh = new StandardWebhook(vector.secret);
    expectVerificationError(
      () => wh.verify(vector.payload, headersFor(vector.msgId, vector.timestamp, vector.signature)),
      "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD",
    );
  });
});

describe("StandardWebhook: interop with the standardwebhooks package", () => {
  const payload = '{"type":"invoice.paid","data":{"id":"in_1","amount":4200,"customer":"Zoë 🚀"}}';

  it("their sign → our verify (whsec_ secret)", () => {
    const secret = generateSecret();
    const signature = new Webhook(secret).sign("msg_theirs", new Date(NOW_MS), payload);
    const ours = new StandardWebhook(secret, { now: fixedNow() });
    expect(ours.verify(payload, headersFor("msg_theirs", NOW_SECONDS, signature))).toEqual(JSON.parse(payload));
  });

  it("our sign → their verify (whsec_ secret)", () => {
    const secret = generateSecret();
    const signature = new StandardWebhook(secret).sign("msg_ours", new Date(NOW_MS), payload);
    freezeDate(NOW_MS);
    expect(new Webhook(secret).verify(payload, headersFor("msg_ours", NOW_SECONDS, signature))).toEqual(
      JSON.parse(payload),
    );
    // The oracle is discriminating: another secret does not verify.
    expect(() =>
      new Webhook(generateSecret()).verify(payload, headersFor("msg_ours", NOW_SECONDS, signature)),
    ).toThrow();
  });

  it("our sign of a Buffer payload → their verify of the same Buffer", () => {
    const secret = generateSecret();
    const body = Buffer.from(payload, "utf8");
    const signature = new StandardWebhook(secret).sign("msg_buf", new Date(NOW_MS), body);
    freezeDate(NOW_MS);
    expect(new Webhook(secret).verify(body, headersFor("msg_buf", NOW_SECONDS, signature))).toEqual(
      JSON.parse(payload),
    );
  });

  it("raw (non-whsec) ASCII secret: our plain string ↔ their format: raw", () => {
    const secret = "my-plain-shared-secret";
    const theirs = new Webhook(secret, { format: "raw" });
    const ours = new StandardWebhook(secret, { now: fixedNow() });
    const theirSignature = theirs.sign("msg_raw", new Date(NOW_MS), payload);
    expect(theirSignature).toBe(v1(secret, "msg_raw", NOW_SECONDS, payload));
    expect(ours.verify(payload, headersFor("msg_raw", NOW_SECONDS, theirSignature))).toEqual(JSON.parse(payload));
    const ourSignature = ours.sign("msg_raw2", new Date(NOW_MS), payload);
    freezeDate(NOW_MS);
    expect(theirs.verify(payload, headersFor("msg_raw2", NOW_SECONDS, ourSignature))).toEqual(JSON.parse(payload));
  });

  it("a plain secret that happens to be valid base64 is still used as UTF-8, not decoded", () => {
    const secret = "c2VjcmV0c2VjcmV0c2VjcmV0"; // base64 of "secretsecretsecret", but no whsec_ prefix
    const ours = new StandardWebhook(secret).sign("msg_b", new Date(NOW_MS), payload);
    expect(ours).toBe(new Webhook(secret, { format: "raw" }).sign("msg_b", new Date(NOW_MS), payload));
    expect(ours).not.toBe(new Webhook(secret).sign("msg_b", new Date(NOW_MS), payload));
  });

  it("raw non-ASCII secret: our plain string is its UTF-8 bytes (their raw format given those bytes)", () => {
    const secret = "pässwörd-🔑";
    // Their raw *string* form takes charCodeAt(), not UTF-8; their bytes form is exact.
    const theirs = new Webhook(Buffer.from(secret, "utf8"), { format: "raw" });
    const ours = new StandardWebhook(secret, { now: fixedNow() });
    const theirSignature = theirs.sign("msg_u", new Date(NOW_MS), payload);
    expect(ours.sign("msg_u", new Date(NOW_MS), payload)).toBe(theirSignature);
    expect(ours.verify(payload, headersFor("msg_u", NOW_SECONDS, theirSignature))).toEqual(JSON.parse(payload));
  });

  it("both ways for arbitrary secrets, ids, timestamps and JSON bodies (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }),
        fc.json(),
        (keyBytes, msgId, timestampSeconds, body) => {
          const secret = `whsec_${Buffer.from(keyBytes).toString("base64")}`;
          const date = new Date(timestampSeconds * 1000);
          const theirs = new Webhook(secret);
          const ours = new StandardWebhook(secret, { now: fixedNow(date.getTime()) });
          const ourSignature = ours.sign(msgId, date, body);
          expect(ourSignature).toBe(theirs.sign(msgId, date, body));
          expect(ourSignature).toBe(v1(secret, msgId, timestampSeconds, body));
          // Bytes in, same signature out: the id prefix is UTF-8 in both paths.
          expect(ours.sign(msgId, date, Buffer.from(body, "utf8"))).toBe(ourSignature);
          expect(ours.verify(body, headersFor(msgId, timestampSeconds, ourSignature))).toEqual(JSON.parse(body));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("their verify accepts our signatures for arbitrary inputs (property)", () => {
    freezeDate(NOW_MS);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.stringMatching(/^msg_[A-Za-z0-9]{1,40}$/),
        fc.integer({ min: -300, max: 300 }),
        fc.json(),
        (keyBytes, msgId, skew, body) => {
          const secret = `whsec_${Buffer.from(keyBytes).toString("base64")}`;
          const timestampSeconds = NOW_SECONDS + skew;
          const signature = new StandardWebhook(secret).sign(msgId, new Date(timestampSeconds * 1000), body);
          expect(new Webhook(secret).verify(body, headersFor(msgId, timestampSeconds, signature))).toEqual(
            JSON.parse(body),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("StandardWebhook.verify: headers", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const msgId = "msg_headers";
  const body = '{"ok":true}';
  const signature = v1(secret, msgId, NOW_SECONDS, body);
  const wh = new StandardWebhook(secret, { now: fixedNow() });

  const accepted: Array<[string, HeaderSource]> = [
    ["lowercase plain object", headersFor(msgId, NOW_SECONDS, signature)],
    [
      "mixed-case keys",
      { "Webhook-Id": msgId, "WEBHOOK-TIMESTAMP": String(NOW_SECONDS), "webhook-Signature": signature },
    ],
    [
      "array values (first element used)",
      { "webhook-id": [msgId], "webhook-timestamp": [String(NOW_SECONDS), "1"], "webhook-signature": [signature] },
    ],
    [
      "mixed-case keys with array values",
      { "Webhook-Id": [msgId], "Webhook-Timestamp": [String(NOW_SECONDS)], "Webhook-Signature": [signature] },
    ],
    ["a fetch Headers instance", new Headers(headersFor(msgId, NOW_SECONDS, signature))],
    [
      "a fetch Headers instance with mixed-case names",
      new Headers({ "Webhook-Id": msgId, "Webhook-Timestamp": String(NOW_SECONDS), "Webhook-Signature": signature }),
    ],
    ["svix-* names", { "svix-id": msgId, "svix-timestamp": String(NOW_SECONDS), "svix-signature": signature }],
    ["Svix-* mixed case", { "Svix-Id": msgId, "Svix-Timestamp": String(NOW_SECONDS), "Svix-Signature": signature }],
    [
      "svix-* in a Headers instance",
      new Headers({ "svix-id": msgId, "svix-timestamp": String(NOW_SECONDS), "svix-signature": signature }),
    ],
    [
      "an undefined exact key next to a mixed-case one",
      {
        "webhook-id": undefined,
        "Webhook-Id": msgId,
        "webhook-timestamp": String(NOW_SECONDS),
        "webhook-signature": signature,
      },
    ],
    [
      "a null-prototype object (like node:http's req.headers)",
      Object.assign(Object.create(null) as Record<string, string>, headersFor(msgId, NOW_SECONDS, signature)),
    ],
  ];

  it.each(accepted)("accepts %s", (_label, headers) => {
    expect(wh.verify(body, headers)).toEqual({ ok: true });
  });

  it("verifies a real node:http request's raw body and headers", async () => {
    const secret2 = generateSecret();
    const payload = '{"type":"user.created","name":"Zoë"}';
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const signatureHeader = new Webhook(secret2).sign("msg_http", new Date(timestampSeconds * 1000), payload);
    const server = createServer();
    const received = new Promise<{ body: Buffer; headers: IncomingHttpHeaders }>((resolve) => {
      server.once("request", (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          res.end("ok");
          resolve({ body: Buffer.concat(chunks), headers: req.headers });
        });
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/hook`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Webhook-Id": "msg_http",
          "Webhook-Timestamp": String(timestampSeconds),
          "Webhook-Signature": signatureHeader,
        },
        body: payload,
      });
      await response.text();
      const { body: rawBody, headers } = await received;
      expect(new StandardWebhook(secret2).verify(rawBody, headers)).toEqual(JSON.parse(payload));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it.each(["webhook-id", "webhook-timestamp", "webhook-signature"])("missing %s → MISSING_HEADERS", (name) => {
    const headers: Record<string, string> = headersFor(msgId, NOW_SECONDS, signature);
    delete headers[name];
    expectVerificationError(() => wh.verify(body, headers), "HOOKLINE_VERIFICATION_MISSING_HEADERS");
    expectVerificationError(() => wh.verify(body, new Headers(headers)), "HOOKLINE_VERIFICATION_MISSING_HEADERS");
    expectVerificationError(() => wh.verify(body, { ...headers, [name]: "" }), "HOOKLINE_VERIFICATION_MISSING_HEADERS");
    expectVerificationError(
      () => wh.verify(body, { ...headers, [name]: [] as string[] }),
      "HOOKLINE_VERIFICATION_MISSING_HEADERS",
    );
  });

  it("non-string header values count as missing, not as a crash", () => {
    const bad: unknown[] = [42, NOW_SECONDS, null, true, {}, { length: 3 }, [42], [null], Symbol("x")];
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      for (const value of bad) {
        const headers = { ...headersFor(msgId, NOW_SECONDS, signature), [name]: value };
        expectVerificationError(
          () => wh.verify(body, headers as unknown as HeaderSource),
          "HOOKLINE_VERIFICATION_MISSING_HEADERS",
        );
      }
    }
    const getter = {
      get: (name: string) =>
        name.endsWith("-signature") ? 5 : name.endsWith("-timestamp") ? String(NOW_SECONDS) : "x",
    };
    expectVerificationError(
      () => wh.verify(body, getter as unknown as HeaderSource),
      "HOOKLINE_VERIFICATION_MISSING_HEADERS",
    );
  });

  it.each([undefined, null, "webhook-id: x", 42, true])("headers %j → MISSING_HEADERS", (headers) => {
    expectVerificationError(
      () => wh.verify(body, headers as unknown as HeaderSource),
      "HOOKLINE_VERIFICATION_MISSING_HEADERS",
    );
  });

  it.each([
    "abc",
    "1700000000.5",
    "-1700000000",
    " 1700000000",
    "1700000000 ",
    "1700000000\n",
    "1e9",
    "0x6553f100",
    "+1700000000",
    "１７００００００００", // full-width digits
    "1700000000abc",
    "1".repeat(16),
  ])("non-numeric timestamp %j → INVALID_TIMESTAMP", (timestamp) => {
    expectVerificationError(
      () => wh.verify(body, headersFor(msgId, timestamp, signature)),
      "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP",
    );
  });
});

describe("StandardWebhook.verify: signatures", () => {
  const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  const msgId = "msg_sigs";
  const body = '{"amount":100,"currency":"EUR"}';
  const good = v1(secret, msgId, NOW_SECONDS, body);
  const goodB64 = good.slice(3);
  const bogus = `v1,${Buffer.alloc(32, 9).toString("base64")}`;
  const wh = new StandardWebhook(secret, { now: fixedNow() });
  const check = (signatureHeader: string) => wh.verify(body, headersFor(msgId, NOW_SECONDS, signatureHeader));

  it.each([
    ["the only entry", good],
    ["after a non-matching v1 entry", `${bogus} ${good}`],
    ["before a non-matching v1 entry", `${good} ${bogus}`],
    ["among several", `${bogus} v1,${Buffer.alloc(32, 1).toString("base64")} ${good} ${bogus}`],
    ["after unknown versions", `v2,${goodB64} v1a,${goodB64} v0,${goodB64} ${good}`],
    ["with extra spaces", `  ${bogus}   ${good}  `],
    ["after an entry without a comma", `garbage ${good}`],
  ])("accepts a matching signature %s", (_label, header) => {
    expect(check(header)).toEqual({ amount: 100, currency: "EUR" });
  });

  it.each([
    ["a non-matching v1 entry", bogus],
    ["the right MAC under v2", `v2,${goodB64}`],
    ["the right MAC under v1a (an hmac key ignores v1a)", `v1a,${goodB64}`],
    ["the right MAC under V1", `V1,${goodB64}`],
    ["the right MAC with no version", goodB64],
    ["the right MAC under v1 with a space after the comma", `v1, ${goodB64}`],
    ["the right MAC joined by a comma", `v1,${goodB64},${bogus}`],
    ["an empty v1", "v1,"],
    ["just the version", "v1"],
    ["bad base64", "v1,!!!!not-base64!!!!"],
    ["the right MAC with trailing garbage", `${good}!!!`],
    ["the right MAC with trailing base64", `${good}AAAA`],
    ["the right MAC with an inner invalid character", `v1,${goodB64.slice(0, 10)}!${goodB64.slice(10)}`],
    ["the right MAC without padding", good.replace(/=+$/, "")],
    ["the right MAC with extra padding", `${good}=`],
    ["the right MAC in base64url", `v1,${Buffer.from(goodB64, "base64").toString("base64url")}=`],
    ["the right MAC in hex", `v1,${Buffer.from(goodB64, "base64").toString("hex")}`],
    ["the right MAC truncated to 31 bytes", `v1,${Buffer.from(goodB64, "base64").subarray(0, 31).toString("base64")}`],
    [
      "the right MAC extended to 33 bytes",
      `v1,${Buffer.concat([Buffer.from(goodB64, "base64"), Buffer.of(0)]).toString("base64")}`,
    ],
    ["the seed's hex signature", createHmac("sha256", secret).update(body).digest("hex")],
  ])("rejects %s with NO_MATCHING_SIGNATURE", (_label, header) => {
    expectVerificationError(() => check(header), "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
  });

  it("the standardwebhooks package also rejects the malformed encodings we reject", () => {
    freezeDate(NOW_MS);
    const theirs = new Webhook(secret);
    expect(theirs.verify(body, headersFor(msgId, NOW_SECONDS, good))).toEqual({ amount: 100, currency: "EUR" });
    for (const header of [
      `${good}!!!`,
      `${good}AAAA`,
      good.replace(/=+$/, ""),
      `v1,${Buffer.from(goodB64, "base64").toString("base64url")}=`,
    ]) {
      expect(() => theirs.verify(body, headersFor(msgId, NOW_SECONDS, header)), header).toThrow();
    }
  });

  it("a tampered body, id or timestamp → NO_MATCHING_SIGNATURE", () => {
    expectVerificationError(
      () => wh.verify('{"amount":1000,"currency":"EUR"}', headersFor(msgId, NOW_SECONDS, good)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    expectVerificationError(
      () => wh.verify(`${body} `, headersFor(msgId, NOW_SECONDS, good)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    expectVerificationError(
      () => wh.verify(body, headersFor("msg_other", NOW_SECONDS, good)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    expectVerificationError(
      () => wh.verify(body, headersFor(msgId, NOW_SECONDS + 1, good)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    // Moving the separator between id, timestamp and body does not fool it.
    expectVerificationError(
      () => wh.verify(`1.${body}`, headersFor(msgId.slice(0, -1), NOW_SECONDS, good)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
  });

  it("a signature made with another secret → NO_MATCHING_SIGNATURE", () => {
    const other = v1(generateSecret(), msgId, NOW_SECONDS, body);
    expectVerificationError(() => check(other), "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
    // The whsec_ string itself used as a raw key is a different key.
    const rawKeyed = `v1,${createHmac("sha256", secret).update(`${msgId}.${NOW_SECONDS}.${body}`).digest("base64")}`;
    expectVerificationError(() => check(rawKeyed), "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
  });

  it("rejects every single-byte change of the body (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: body.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, delta) => {
        const bytes = Buffer.from(body);
        bytes[index] = ((bytes[index] as number) + delta) % 256;
        expectVerificationError(
          () => wh.verifySignature(bytes, headersFor(msgId, NOW_SECONDS, good)),
          "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
        );
      }),
      { numRuns: 200 },
    );
  });

  it("overlong id or signature header is refused even with a valid signature", () => {
    const longId = "m".repeat(1025);
    expectVerificationError(
      () => wh.verify(body, headersFor(longId, NOW_SECONDS, v1(secret, longId, NOW_SECONDS, body))),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    const okId = "m".repeat(1024);
    expect(wh.verify(body, headersFor(okId, NOW_SECONDS, v1(secret, okId, NOW_SECONDS, body)))).toEqual({
      amount: 100,
      currency: "EUR",
    });
    const longHeader = `${`${bogus} `.repeat(400)}${good}`;
    expect(longHeader.length).toBeGreaterThan(16 * 1024);
    expectVerificationError(() => check(longHeader), "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
  });
});

describe("StandardWebhook.verify: timestamp tolerance", () => {
  const secret = generateSecret();
  const msgId = "msg_time";
  const body = "{}";
  const at = (timestampSeconds: number, options: { toleranceSeconds?: number; nowMs?: number } = {}) => {
    const wh = new StandardWebhook(secret, {
      now: fixedNow(options.nowMs ?? NOW_MS),
      ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
    });
    return () => wh.verify(body, headersFor(msgId, timestampSeconds, v1(secret, msgId, timestampSeconds, body)));
  };

  it("default 300 s: just inside passes both ways", () => {
    expect(at(NOW_SECONDS - 300)()).toEqual({});
    expect(at(NOW_SECONDS + 300)()).toEqual({});
    expect(at(NOW_SECONDS)()).toEqual({});
  });

  it("default 300 s: just outside fails with TIMESTAMP_TOO_OLD / TIMESTAMP_TOO_NEW", () => {
    expectVerificationError(at(NOW_SECONDS - 301), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
    expectVerificationError(at(NOW_SECONDS + 301), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW");
    expectVerificationError(at(0), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
    expectVerificationError(at(999_999_999_999_999), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW");
  });

  it("compares whole seconds of now, like the reference library", () => {
    expect(at(NOW_SECONDS - 300, { nowMs: NOW_MS + 999 })()).toEqual({});
    expectVerificationError(at(NOW_SECONDS - 300, { nowMs: NOW_MS + 1000 }), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
    expect(at(NOW_SECONDS + 301, { nowMs: NOW_MS + 1000 })()).toEqual({});
  });

  it("the default tolerance matches the standardwebhooks package's", () => {
    freezeDate(NOW_MS);
    const theirs = new Webhook(secret);
    for (const [timestampSeconds, ok] of [
      [NOW_SECONDS - 300, true],
      [NOW_SECONDS + 300, true],
      [NOW_SECONDS - 301, false],
      [NOW_SECONDS + 301, false],
    ] as const) {
      const headers = headersFor(msgId, timestampSeconds, v1(secret, msgId, timestampSeconds, body));
      const theirResult = caught(() => theirs.verify(body, headers)) === undefined;
      const ourResult = caught(() => new StandardWebhook(secret).verify(body, headers)) === undefined;
      expect([theirResult, ourResult]).toEqual([ok, ok]);
    }
  });

  it("toleranceSeconds is configurable", () => {
    expect(at(NOW_SECONDS - 10, { toleranceSeconds: 10 })()).toEqual({});
    expect(at(NOW_SECONDS + 10, { toleranceSeconds: 10 })()).toEqual({});
    expectVerificationError(at(NOW_SECONDS - 11, { toleranceSeconds: 10 }), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
    expectVerificationError(at(NOW_SECONDS + 11, { toleranceSeconds: 10 }), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW");
    expect(at(NOW_SECONDS - 3600, { toleranceSeconds: 3600 })()).toEqual({});
    expect(at(NOW_SECONDS, { toleranceSeconds: 0 })()).toEqual({});
    expectVerificationError(at(NOW_SECONDS - 1, { toleranceSeconds: 0 }), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
    expectVerificationError(at(NOW_SECONDS + 1, { toleranceSeconds: 0 }), "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW");
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, "300"])(
    "toleranceSeconds %j → ConfigurationError",
    (toleranceSeconds) => {
      expectConfigurationError(
        () => new StandardWebhook(secret, { toleranceSeconds: toleranceSeconds as number }),
        "HOOKLINE_CONFIGURATION_INVALID",
      );
    },
  );

  it("uses Date.now by default", () => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const wh = new StandardWebhook(secret);
    expect(wh.verify(body, headersFor(msgId, nowSeconds, v1(secret, msgId, nowSeconds, body)))).toEqual({});
    freezeDate(NOW_MS);
    expect(
      new StandardWebhook(secret).verify(body, headersFor(msgId, NOW_SECONDS, v1(secret, msgId, NOW_SECONDS, body))),
    ).toEqual({});
  });
});

describe("StandardWebhook.verify: payloads", () => {
  const secret = "plain-secret";
  const msgId = "msg_payload";
  const wh = new StandardWebhook(secret, { now: fixedNow() });
  const headersOf = (body: string | Uint8Array) => headersFor(msgId, NOW_SECONDS, v1(secret, msgId, NOW_SECONDS, body));

  it.each([
    ['{"a":[1,2,{"b":null}]}', { a: [1, 2, { b: null }] }],
    ["[1,2,3]", [1, 2, 3]],
    ["42", 42],
    ['"text"', "text"],
    ["null", null],
    ["true", true],
    [' { "spaced" : "json" } ', { spaced: "json" }],
  ])("returns the parsed JSON of %j", (body, parsed) => {
    expect(wh.verify(body, headersOf(body))).toEqual(parsed);
    expect(wh.verify(Buffer.from(body), headersOf(body))).toEqual(parsed);
    expect(wh.verify(new Uint8Array(Buffer.from(body)), headersOf(body))).toEqual(parsed);
  });

  it.each(["not json", "", "{", "{'single':1}", "undefined", "\uFEFF{}x"])(
    "a correctly signed body that is not JSON (%j) → INVALID_PAYLOAD",
    (body) => {
      const error = caught(() => wh.verify(body, headersOf(body)));
      expect(error).toBeInstanceOf(WebhookVerificationError);
      expect((error as WebhookVerificationError).code).toBe("HOOKLINE_VERIFICATION_INVALID_PAYLOAD");
      expect((error as WebhookVerificationError).cause).toBeInstanceOf(SyntaxError);
      // The signature itself was fine.
      expect(wh.verifySignature(body, headersOf(body))).toEqual({ msgId, timestampSeconds: NOW_SECONDS });
    },
  );

  it("encodes a non-ASCII id as UTF-8 in front of byte payloads too", () => {
    const id = "msg_ünïcødé_🚀";
    const bytes = Buffer.from('{"x":1}');
    const expected = v1(secret, id, NOW_SECONDS, '{"x":1}');
    expect(new StandardWebhook(secret).sign(id, new Date(NOW_MS), bytes)).toBe(expected);
    expect(wh.verify(new Uint8Array(bytes), headersFor(id, NOW_SECONDS, expected))).toEqual({ x: 1 });
  });

  it("signs and verifies the raw bytes, not a re-decoded string", () => {
    const bytes = Buffer.from([0x7b, 0x7d, 0xff, 0xfe, 0x80]); // "{}" then invalid UTF-8
    const rawSignature = v1(secret, msgId, NOW_SECONDS, bytes);
    expect(new StandardWebhook(secret).sign(msgId, new Date(NOW_MS), bytes)).toBe(rawSignature);
    expect(wh.verifySignature(bytes, headersFor(msgId, NOW_SECONDS, rawSignature))).toEqual({
      msgId,
      timestampSeconds: NOW_SECONDS,
    });
    expect(wh.verifySignature(new Uint8Array(bytes), headersFor(msgId, NOW_SECONDS, rawSignature))).toEqual({
      msgId,
      timestampSeconds: NOW_SECONDS,
    });
    // A signature over the lossy UTF-8 decoding of those bytes does not match the bytes.
    const lossy = v1(secret, msgId, NOW_SECONDS, bytes.toString("utf8"));
    expect(lossy).not.toBe(rawSignature);
    expectVerificationError(
      () => wh.verifySignature(bytes, headersFor(msgId, NOW_SECONDS, lossy)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    // Verified, but not JSON.
    expectVerificationError(
      () => wh.verify(bytes, headersFor(msgId, NOW_SECONDS, rawSignature)),
      "HOOKLINE_VERIFICATION_INVALID_PAYLOAD",
    );
  });

  it.each([undefined, null, 42, { a: 1 }, [1, 2]])("payload %j of the wrong type → INVALID_PAYLOAD", (payload) => {
    expectVerificationError(
      () => wh.verify(payload as unknown as string, headersOf("{}")),
      "HOOKLINE_VERIFICATION_INVALID_PAYLOAD",
    );
  });
});

describe("StandardWebhook.verify: arbitrary input (property)", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const wh = new StandardWebhook(secret, { now: fixedNow() });
  const codes = new Set<HooklineErrorCode>([
    "HOOKLINE_VERIFICATION_MISSING_HEADERS",
    "HOOKLINE_VERIFICATION_INVALID_TIMESTAMP",
    "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD",
    "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_NEW",
    "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    "HOOKLINE_VERIFICATION_INVALID_PAYLOAD",
  ]);
  const headerName = fc.oneof(
    fc.constantFrom(
      "webhook-id",
      "webhook-timestamp",
      "webhook-signature",
      "Webhook-Id",
      "WEBHOOK-TIMESTAMP",
      "Webhook-Signature",
      "svix-id",
      "svix-timestamp",
      "svix-signature",
      "get",
      "length",
      "toString",
      "constructor",
    ),
    fc.string(),
  );
  const plausibleValue = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.integer({ min: NOW_SECONDS - 400, max: NOW_SECONDS + 400 }).map(String),
    fc.integer({ min: NOW_SECONDS - 400, max: NOW_SECONDS + 400 }),
    fc
      .tuple(fc.constantFrom("v1", "v1a", "v2"), fc.uint8Array({ minLength: 0, maxLength: 70 }))
      .map(([version, bytes]) => `${version},${Buffer.from(bytes).toString("base64")}`),
    fc.array(fc.string()),
    fc.array(fc.anything(), { maxLength: 3 }),
    fc.anything(),
  );
  const headerSource = fc.oneof(
    fc.dictionary(headerName, plausibleValue, { maxKeys: 8 }),
    fc.record(
      {
        "webhook-id": plausibleValue,
        "webhook-timestamp": plausibleValue,
        "webhook-signature": plausibleValue,
      },
      { requiredKeys: [] },
    ),
    fc.record({ get: fc.func(plausibleValue) }),
    fc.dictionary(fc.string(), fc.string()).map((d) => {
      try {
        return new Headers(d);
      } catch {
        return new Headers();
      }
    }),
    fc.anything(),
  );
  const payload = fc.oneof(fc.string({ unit: "binary" }), fc.uint8Array(), fc.json(), fc.anything());

  it("throws only WebhookVerificationError with a known code, never TypeError or a forged success", () => {
    fc.assert(
      fc.property(payload, headerSource, (body, headers) => {
        const error = caught(() => wh.verify(body as string, headers as HeaderSource));
        expect(error).toBeInstanceOf(WebhookVerificationError);
        expect(codes.has((error as WebhookVerificationError).code)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("the same holds for an ed25519 verifier", () => {
    const edVerifier = new StandardWebhook(`whpk_${ED_PUBLIC.toString("base64")}`, { now: fixedNow() });
    fc.assert(
      fc.property(payload, headerSource, (body, headers) => {
        const error = caught(() => edVerifier.verify(body as string, headers as HeaderSource));
        expect(error).toBeInstanceOf(WebhookVerificationError);
        expect(codes.has((error as WebhookVerificationError).code)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("StandardWebhook: constructor and sign misuse", () => {
  it.each([
    ["empty", ""],
    ["whsec_ alone", "whsec_"],
    ["whsec_ with invalid base64", "whsec_not*valid*base64!"],
    ["whsec_ with base64 of the wrong length", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"],
    ["whsec_ decoding to 8 bytes", `whsec_${Buffer.alloc(8, 1).toString("base64")}`],
    ["whsec_ decoding to 15 bytes", `whsec_${Buffer.alloc(15, 1).toString("base64")}`],
    ["whsk_ of 31 bytes", `whsk_${Buffer.alloc(31, 1).toString("base64")}`],
    ["whpk_ of 33 bytes", `whpk_${Buffer.alloc(33, 1).toString("base64")}`],
    ["undefined", undefined],
    ["a number", 42],
  ])("secret %s → ConfigurationError HOOKLINE_SECRET_INVALID", (_label, secret) => {
    expectConfigurationError(() => new StandardWebhook(secret as string), "HOOKLINE_SECRET_INVALID");
  });

  it("sign rejects an empty id and an invalid Date", () => {
    const wh = new StandardWebhook(generateSecret());
    expectConfigurationError(() => wh.sign("", new Date(NOW_MS), "{}"), "HOOKLINE_CONFIGURATION_INVALID");
    expectConfigurationError(() => wh.sign("msg", new Date(Number.NaN), "{}"), "HOOKLINE_CONFIGURATION_INVALID");
    expectConfigurationError(() => wh.sign("msg", NOW_MS as unknown as Date, "{}"), "HOOKLINE_CONFIGURATION_INVALID");
  });
});

describe("StandardWebhook v1a (ed25519)", () => {
  const msgId = "msg_ed25519";
  const body = '{"type":"invoice.paid","amount":4200}';
  const rfcSecretKey = `whsk_${ED_SEED.toString("base64")}`;
  const rfcPublicKey = `whpk_${ED_PUBLIC.toString("base64")}`;

  it("generateSigningKeyPair: sign with whsk_ gives v1a,<base64 of 64 bytes>, checked by node:crypto", () => {
    const { secretKey, publicKey } = generateSigningKeyPair();
    expect(secretKey.startsWith("whsk_")).toBe(true);
    expect(publicKey.startsWith("whpk_")).toBe(true);
    const signature = new StandardWebhook(secretKey).sign(msgId, new Date(NOW_MS), body);
    expect(signature).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    const bytes = Buffer.from(signature.slice(4), "base64");
    expect(bytes).toHaveLength(64);
    const rawPublic = Buffer.from(publicKey.slice(5), "base64");
    expect(rawPublic).toHaveLength(32);
    const nodeKey = edPublicKeyFromRaw(rawPublic);
    const content = Buffer.from(`${msgId}.${NOW_SECONDS}.${body}`, "utf8");
    expect(edVerify(null, content, nodeKey, bytes)).toBe(true);
    expect(edVerify(null, Buffer.from(`${msgId}.${NOW_SECONDS}.${body} `), nodeKey, bytes)).toBe(false);
    expect(edVerify(null, Buffer.from(`${msgId}.${NOW_SECONDS + 1}.${body}`), nodeKey, bytes)).toBe(false);
  });

  it("generateSigningKeyPair: verify with the whpk_ key returns the parsed JSON", () => {
    const { secretKey, publicKey } = generateSigningKeyPair();
    const signature = new StandardWebhook(secretKey).sign(msgId, new Date(NOW_MS), body);
    const verifier = new StandardWebhook(publicKey, { now: fixedNow() });
    expect(verifier.verify(body, headersFor(msgId, NOW_SECONDS, signature))).toEqual(JSON.parse(body));
    // The whsk_ key holds the public key too.
    expect(
      new StandardWebhook(secretKey, { now: fixedNow() }).verify(body, headersFor(msgId, NOW_SECONDS, signature)),
    ).toEqual(JSON.parse(body));
  });

  it("signs exactly what node:crypto signs with the RFC 8032 key (ed25519 is deterministic)", () => {
    const expected = v1a(ED_SEED, ED_PUBLIC, msgId, NOW_SECONDS, body);
    expect(new StandardWebhook(rfcSecretKey).sign(msgId, new Date(NOW_MS), body)).toBe(expected);
    expect(new StandardWebhook(rfcSecretKey).sign(msgId, new Date(NOW_MS), Buffer.from(body))).toBe(expected);
  });

  it("verifies a v1a signature made by node:crypto alone", () => {
    const signature = v1a(ED_SEED, ED_PUBLIC, msgId, NOW_SECONDS, body);
    const verifier = new StandardWebhook(rfcPublicKey, { now: fixedNow() });
    expect(verifier.verify(body, headersFor(msgId, NOW_SECONDS, signature))).toEqual(JSON.parse(body));
    expect(verifier.verify(body, headersFor(msgId, NOW_SECONDS, `v1,${"A".repeat(43)}= ${signature}`))).toEqual(
      JSON.parse(body),
    );
  });

  it("a whpk_ key cannot sign (ConfigurationError)", () => {
    const { publicKey } = generateSigningKeyPair();
    expectConfigurationError(
      () => new StandardWebhook(publicKey).sign(msgId, new Date(NOW_MS), body),
      "HOOKLINE_SECRET_INVALID",
    );
  });

  it("tampered body, id or timestamp, another key, or a malformed entry → NO_MATCHING_SIGNATURE", () => {
    const signature = v1a(ED_SEED, ED_PUBLIC, msgId, NOW_SECONDS, body);
    const verifier = new StandardWebhook(rfcPublicKey, { now: fixedNow() });
    const fails = (payload: string, headers: HeaderSource) =>
      expectVerificationError(() => verifier.verify(payload, headers), "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE");
    fails('{"type":"invoice.paid","amount":42000}', headersFor(msgId, NOW_SECONDS, signature));
    fails(body, headersFor("msg_other", NOW_SECONDS, signature));
    fails(body, headersFor(msgId, NOW_SECONDS + 1, signature));
    const other = generateSigningKeyPair();
    fails(
      body,
      headersFor(msgId, NOW_SECONDS, new StandardWebhook(other.secretKey).sign(msgId, new Date(NOW_MS), body)),
    );
    const sigBytes = Buffer.from(signature.slice(4), "base64");
    const flipped = Buffer.from(sigBytes);
    flipped[10] = (flipped[10] as number) ^ 1;
    fails(body, headersFor(msgId, NOW_SECONDS, `v1a,${flipped.toString("base64")}`));
    fails(body, headersFor(msgId, NOW_SECONDS, `v1a,${sigBytes.subarray(0, 32).toString("base64")}`));
    fails(body, headersFor(msgId, NOW_SECONDS, `v1a,${Buffer.concat([sigBytes, Buffer.of(0)]).toString("base64")}`));
    fails(body, headersFor(msgId, NOW_SECONDS, `v1a,${sigBytes.toString("base64url")}`));
    // The right signature under the v1 label is ignored by an ed25519 key.
    fails(body, headersFor(msgId, NOW_SECONDS, `v1,${sigBytes.toString("base64")}`));
  });

  it("an hmac key ignores v1a entries, an ed25519 key ignores v1 entries", () => {
    const hmacSecret = generateSecret();
    const edEntry = v1a(ED_SEED, ED_PUBLIC, msgId, NOW_SECONDS, body);
    const hmacEntry = v1(hmacSecret, msgId, NOW_SECONDS, body);
    const hmacVerifier = new StandardWebhook(hmacSecret, { now: fixedNow() });
    const edVerifier = new StandardWebhook(rfcPublicKey, { now: fixedNow() });
    expectVerificationError(
      () => hmacVerifier.verify(body, headersFor(msgId, NOW_SECONDS, edEntry)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    expectVerificationError(
      () => edVerifier.verify(body, headersFor(msgId, NOW_SECONDS, hmacEntry)),
      "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
    );
    // One header carrying both schemes (a migration) satisfies both receivers.
    const both = `${edEntry} ${hmacEntry}`;
    expect(hmacVerifier.verify(body, headersFor(msgId, NOW_SECONDS, both))).toEqual(JSON.parse(body));
    expect(edVerifier.verify(body, headersFor(msgId, NOW_SECONDS, both))).toEqual(JSON.parse(body));
    // The standardwebhooks package (v1 only) also skips the v1a entry.
    freezeDate(NOW_MS);
    expect(new Webhook(hmacSecret).verify(body, headersFor(msgId, NOW_SECONDS, both))).toEqual(JSON.parse(body));
  });

  it("applies the same timestamp tolerance", () => {
    const verifier = new StandardWebhook(rfcPublicKey, { now: fixedNow() });
    const old = NOW_SECONDS - 301;
    expectVerificationError(
      () => verifier.verify(body, headersFor(msgId, old, v1a(ED_SEED, ED_PUBLIC, msgId, old, body))),
      "HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD",
    );
  });
});

describe("buildDeliveryHeaders", () => {
  const body =
    '{"event_id":"evt_01HX","event_type":"invoice.paid","payload":{"amount":4200,"customer":"Zoë 🚀"},"source":"billing","timestamp":"2023-11-14T22:13:20.000Z"}';
  const whsecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const attemptMs = NOW_MS + 999; // seconds are floored
  const request = (overrides: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
    url: "https://example.com/hooks",
    body,
    msgId: "evt_01HX",
    eventType: "invoice.paid",
    secret: whsecSecret,
    signatureAlgorithm: SignatureAlgorithm.HMAC_SHA256,
    signingKeys: [parseSigningSecret(whsecSecret)],
    timeoutMs: 5_000,
    ...overrides,
  });

  it.each([
    [SignatureAlgorithm.HMAC_SHA256, "sha256"],
    [SignatureAlgorithm.HMAC_SHA512, "sha512"],
  ] as const)("sets every header, each checked with node:crypto (%s)", (algorithm, digest) => {
    const headers = buildDeliveryHeaders(request({ signatureAlgorithm: algorithm }), attemptMs);
    // Seed header: hex HMAC of the body keyed with the UTF-8 of the whole secret string.
    expect(headers["x-webhook-signature"]).toBe(
      createHmac(digest, Buffer.from(whsecSecret, "utf8")).update(Buffer.from(body, "utf8")).digest("hex"),
    );
    expect(headers["x-webhook-signature-algorithm"]).toBe(algorithm);
    expect(headers["x-webhook-event"]).toBe("invoice.paid");
    expect(headers["x-webhook-event-id"]).toBe("evt_01HX");
    expect(headers["x-webhook-timestamp"]).toBe(String(NOW_SECONDS));
    expect(headers["webhook-timestamp"]).toBe(String(NOW_SECONDS));
    expect(headers["webhook-id"]).toBe("evt_01HX");
    expect(headers["content-type"]).toBe("application/json");
    // Standard Webhooks: key = base64-decoded part of whsec_, content = id.ts.body.
    const mac = createHmac("sha256", Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64"))
      .update(`evt_01HX.${NOW_SECONDS}.${body}`, "utf8")
      .digest("base64");
    expect(headers["webhook-signature"]).toBe(`v1,${mac}`);
    expect(headers).not.toHaveProperty("svix-id");
    expect(headers).not.toHaveProperty("svix-timestamp");
    expect(headers).not.toHaveProperty("svix-signature");
  });

  it("timestamps are the unix seconds of the attempt time", () => {
    for (const ms of [NOW_MS, NOW_MS + 1, NOW_MS + 999, NOW_MS + 1000, 1_614_265_330_500]) {
      const headers = buildDeliveryHeaders(request(), ms);
      const seconds = String(Math.floor(ms / 1000));
      expect(headers["webhook-timestamp"]).toBe(seconds);
      expect(headers["x-webhook-timestamp"]).toBe(seconds);
      expect(headers["webhook-signature"]).toBe(v1(whsecSecret, "evt_01HX", Number(seconds), body));
    }
  });

  it("a plain secret keys webhook-signature with its UTF-8 bytes", () => {
    const secret = "plain-sécret";
    const headers = buildDeliveryHeaders(request({ secret, signingKeys: [parseSigningSecret(secret)] }), attemptMs);
    const mac = createHmac("sha256", Buffer.from(secret, "utf8"))
      .update(`evt_01HX.${NOW_SECONDS}.${body}`, "utf8")
      .digest("base64");
    expect(headers["webhook-signature"]).toBe(`v1,${mac}`);
    expect(headers["x-webhook-signature"]).toBe(
      createHmac("sha256", Buffer.from(secret, "utf8")).update(body, "utf8").digest("hex"),
    );
  });

  it("reproduces the published spec vector when given its id, time and body", () => {
    const [vector] = VECTORS;
    const headers = buildDeliveryHeaders(
      request({
        msgId: vector.msgId,
        body: vector.payload,
        secret: vector.secret,
        signingKeys: [parseSigningSecret(vector.secret)],
      }),
      vector.timestamp * 1000,
    );
    expect(headers["webhook-signature"]).toBe(vector.signature);
  });

  it("two signing keys give two space-separated entries, each verifiable on its own", () => {
    const oldSecret = generateSecret();
    const newSecret = "rotated-plain-secret";
    const headers = buildDeliveryHeaders(
      request({ signingKeys: [parseSigningSecret(oldSecret), parseSigningSecret(newSecret)] }),
      attemptMs,
    );
    const entries = (headers["webhook-signature"] as string).split(" ");
    expect(entries).toEqual([
      v1(oldSecret, "evt_01HX", NOW_SECONDS, body),
      v1(newSecret, "evt_01HX", NOW_SECONDS, body),
    ]);
    freezeDate(attemptMs);
    const wire = {
      "webhook-id": headers["webhook-id"] as string,
      "webhook-timestamp": headers["webhook-timestamp"] as string,
      "webhook-signature": headers["webhook-signature"] as string,
    };
    expect(new Webhook(oldSecret).verify(body, wire)).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret, { format: "raw" }).verify(body, wire)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, wire)).toThrow();
  });

  it("an ed25519 signing key gives a v1a entry that node:crypto verifies", () => {
    const hmacSecret = generateSecret();
    const headers = buildDeliveryHeaders(
      request({
        signingKeys: [parseSigningSecret(hmacSecret), parseSigningSecret(`whsk_${ED_SEED.toString("base64")}`)],
      }),
      attemptMs,
    );
    const [hmacEntry, edEntry] = (headers["webhook-signature"] as string).split(" ");
    expect(hmacEntry).toBe(v1(hmacSecret, "evt_01HX", NOW_SECONDS, body));
    expect(edEntry).toBe(v1a(ED_SEED, ED_PUBLIC, "evt_01HX", NOW_SECONDS, body));
    expect(
      edVerify(
        null,
        Buffer.from(`evt_01HX.${NOW_SECONDS}.${body}`),
        edPublicKeyFromRaw(ED_PUBLIC),
        Buffer.from((edEntry as string).slice(4), "base64"),
      ),
    ).toBe(true);
  });

  it("svixHeaders adds svix-id, svix-timestamp and svix-signature equal to the webhook-* values", () => {
    const headers = buildDeliveryHeaders(request({ svixHeaders: true }), attemptMs);
    expect(headers["svix-id"]).toBe("evt_01HX");
    expect(headers["svix-timestamp"]).toBe(String(NOW_SECONDS));
    expect(headers["svix-signature"]).toBe(v1(whsecSecret, "evt_01HX", NOW_SECONDS, body));
    expect(buildDeliveryHeaders(request({ svixHeaders: false }), attemptMs)).not.toHaveProperty("svix-id");
    // A Svix-style receiver reading only svix-* headers verifies them.
    const svixOnly = {
      "svix-id": headers["svix-id"] as string,
      "svix-timestamp": headers["svix-timestamp"] as string,
      "svix-signature": headers["svix-signature"] as string,
    };
    expect(new StandardWebhook(whsecSecret, { now: fixedNow(attemptMs) }).verify(body, svixOnly)).toEqual(
      JSON.parse(body),
    );
  });

  it("custom headers are kept but cannot override content type, ids, timestamps or signatures", () => {
    const custom = {
      "x-tenant": "acme",
      authorization: "Bearer abc",
      "content-type": "text/plain",
      "x-webhook-event": "evil",
      "x-webhook-event-id": "evil",
      "x-webhook-signature": "evil",
      "x-webhook-signature-algorithm": "evil",
      "x-webhook-timestamp": "1",
      "webhook-id": "evil",
      "webhook-timestamp": "1",
      "webhook-signature": "v1,evil",
      "svix-id": "evil",
      "svix-timestamp": "1",
      "svix-signature": "v1,evil",
    };
    const headers = buildDeliveryHeaders(request({ headers: custom, svixHeaders: true }), attemptMs);
    expect(headers["x-tenant"]).toBe("acme");
    expect(headers.authorization).toBe("Bearer abc");
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["x-webhook-event"]).toBe("invoice.paid");
    expect(headers["x-webhook-event-id"]).toBe("evt_01HX");
    expect(headers["x-webhook-signature"]).toBe(
      createHmac("sha256", Buffer.from(whsecSecret, "utf8")).update(body, "utf8").digest("hex"),
    );
    expect(headers["x-webhook-signature-algorithm"]).toBe(SignatureAlgorithm.HMAC_SHA256);
    expect(headers["x-webhook-timestamp"]).toBe(String(NOW_SECONDS));
    expect(headers["webhook-id"]).toBe("evt_01HX");
    expect(headers["webhook-timestamp"]).toBe(String(NOW_SECONDS));
    expect(headers["webhook-signature"]).toBe(v1(whsecSecret, "evt_01HX", NOW_SECONDS, body));
    expect(headers["svix-id"]).toBe("evt_01HX");
    expect(headers["svix-signature"]).toBe(v1(whsecSecret, "evt_01HX", NOW_SECONDS, body));
  });

  // HTTP header names are case-insensitive: a custom "Webhook-Id" next to the
  // real "webhook-id" would put both on the wire.
  it("custom headers in another letter case cannot override signature headers either", () => {
    const headers = buildDeliveryHeaders(
      request({
        headers: {
          "X-Webhook-Signature": "evil",
          "Webhook-Id": "evil",
          "Webhook-Signature": "v1,evil",
          "Content-Type": "text/plain",
        },
      }),
      attemptMs,
    );
    const reserved = new Set([
      "content-type",
      "x-webhook-event",
      "x-webhook-event-id",
      "x-webhook-signature",
      "x-webhook-signature-algorithm",
      "x-webhook-timestamp",
      "webhook-id",
      "webhook-timestamp",
      "webhook-signature",
    ]);
    const offending = Object.entries(headers).filter(
      ([name, value]) => reserved.has(name.toLowerCase()) && value === "evil",
    );
    expect(offending).toEqual([]);
    expect(
      Object.keys(headers).filter((name) => name !== name.toLowerCase() && reserved.has(name.toLowerCase())),
    ).toEqual([]);
  });

  it("a receiver verifies the built headers with the standardwebhooks package and the seed check", () => {
    const secret = generateSecret();
    const headers = buildDeliveryHeaders(request({ secret, signingKeys: [parseSigningSecret(secret)] }), attemptMs);
    freezeDate(attemptMs);
    expect(
      new Webhook(secret).verify(body, {
        "webhook-id": headers["webhook-id"] as string,
        "webhook-timestamp": headers["webhook-timestamp"] as string,
        "webhook-signature": headers["webhook-signature"] as string,
      }),
    ).toEqual(JSON.parse(body));
    expect(headers["x-webhook-signature"]).toBe(createHmac("sha256", secret).update(body).digest("hex"));
  });
});

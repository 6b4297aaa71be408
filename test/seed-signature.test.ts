import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SignatureAlgorithm } from "../src/core/enums.js";
import { ConfigurationError, type HooklineErrorCode } from "../src/core/errors.js";
import { WebhookSignature } from "../src/signing/seed-hmac.js";

// Expected values come from RFC 4231 or from node:crypto keyed with explicit
// UTF-8 bytes, never from WebhookSignature itself.
const NODE_DIGEST = { [SignatureAlgorithm.HMAC_SHA256]: "sha256", [SignatureAlgorithm.HMAC_SHA512]: "sha512" } as const;
const ALGORITHMS = [SignatureAlgorithm.HMAC_SHA256, SignatureAlgorithm.HMAC_SHA512] as const;

function oracle(payload: string, secret: string, algorithm: SignatureAlgorithm): string {
  return createHmac(NODE_DIGEST[algorithm], Buffer.from(secret, "utf8"))
    .update(Buffer.from(payload, "utf8"))
    .digest("hex");
}

function expectConfigurationError(fn: () => unknown, code: HooklineErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigurationError);
  expect((thrown as ConfigurationError).code).toBe(code);
}

describe("WebhookSignature.sign", () => {
  it("reproduces RFC 4231 test case 2 (SHA-256 and SHA-512)", () => {
    const payload = "what do ya want for nothing?";
    expect(WebhookSignature.sign(payload, "Jefe", SignatureAlgorithm.HMAC_SHA256)).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    expect(WebhookSignature.sign(payload, "Jefe", SignatureAlgorithm.HMAC_SHA512)).toBe(
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    );
  });

  it("reproduces RFC 4231 test case 1 (key of twenty 0x0b bytes, ASCII so identical in UTF-8)", () => {
    const key = "\x0b".repeat(20);
    expect(WebhookSignature.sign("Hi There", key, SignatureAlgorithm.HMAC_SHA256)).toBe(
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    );
    expect(WebhookSignature.sign("Hi There", key, SignatureAlgorithm.HMAC_SHA512)).toBe(
      "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    );
  });

  it("defaults to HMAC-SHA256", () => {
    expect(WebhookSignature.sign("what do ya want for nothing?", "Jefe")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  it.each(ALGORITHMS)("is lowercase hex of the digest length (%s)", (algorithm) => {
    const signature = WebhookSignature.sign('{"a":1}', "s3cret", algorithm);
    const length = algorithm === SignatureAlgorithm.HMAC_SHA256 ? 64 : 128;
    expect(signature).toMatch(new RegExp(`^[0-9a-f]{${length}}$`));
    expect(signature).toBe(oracle('{"a":1}', "s3cret", algorithm));
  });

  it.each(ALGORITHMS)("keys and hashes non-ASCII text as UTF-8 (%s)", (algorithm) => {
    const payload = '{"name":"Zoë","city":"Zürich","emoji":"🚀","cjk":"日本語"}';
    const secret = "sécret-🔑-ключ";
    const signature = WebhookSignature.sign(payload, secret, algorithm);
    expect(signature).toBe(oracle(payload, secret, algorithm));
    // The same text read as Latin-1 / UTF-16 gives different bytes, so a
    // wrong encoding could not pass the line above by accident.
    const latin1 = createHmac(NODE_DIGEST[algorithm], Buffer.from(secret, "latin1"))
      .update(Buffer.from(payload, "latin1"))
      .digest("hex");
    const utf16 = createHmac(NODE_DIGEST[algorithm], Buffer.from(secret, "utf16le"))
      .update(Buffer.from(payload, "utf16le"))
      .digest("hex");
    expect(signature).not.toBe(latin1);
    expect(signature).not.toBe(utf16);
  });

  it("signs the empty payload", () => {
    expect(WebhookSignature.sign("", "k")).toBe(oracle("", "k", SignatureAlgorithm.HMAC_SHA256));
  });

  it("matches node:crypto for arbitrary Unicode payloads and secrets (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.string({ unit: "binary", minLength: 1, maxLength: 80 }),
        fc.constantFrom(...ALGORITHMS),
        (payload, secret, algorithm) => {
          expect(WebhookSignature.sign(payload, secret, algorithm)).toBe(oracle(payload, secret, algorithm));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("throws ConfigurationError HOOKLINE_SECRET_INVALID for an empty or non-string secret", () => {
    expectConfigurationError(() => WebhookSignature.sign("x", ""), "HOOKLINE_SECRET_INVALID");
    expectConfigurationError(
      () => WebhookSignature.sign("x", "", SignatureAlgorithm.HMAC_SHA512),
      "HOOKLINE_SECRET_INVALID",
    );
    for (const secret of [undefined, null, 42, Buffer.from("k")]) {
      expectConfigurationError(
        () => WebhookSignature.sign("x", secret as unknown as string),
        "HOOKLINE_SECRET_INVALID",
      );
    }
  });

  it.each([
    "hmac_md5",
    "sha256",
    "HMAC_SHA256",
    "HMAC_SHA512",
    "",
    "toString",
    "constructor",
    "__proto__",
    "hasOwnProperty",
  ])("throws ConfigurationError HOOKLINE_CONFIGURATION_INVALID for unknown algorithm %j", (algorithm) => {
    expectConfigurationError(
      () => WebhookSignature.sign("x", "k", algorithm as SignatureAlgorithm),
      "HOOKLINE_CONFIGURATION_INVALID",
    );
  });

  it("throws ConfigurationError for an unknown non-string algorithm", () => {
    for (const algorithm of [null, 256, {}]) {
      expectConfigurationError(
        () => WebhookSignature.sign("x", "k", algorithm as unknown as SignatureAlgorithm),
        "HOOKLINE_CONFIGURATION_INVALID",
      );
    }
  });

  it("throws ConfigurationError HOOKLINE_PAYLOAD_INVALID for a non-string payload", () => {
    for (const payload of [undefined, null, 1, { a: 1 }, Buffer.from("x")]) {
      expectConfigurationError(
        () => WebhookSignature.sign(payload as unknown as string, "k"),
        "HOOKLINE_PAYLOAD_INVALID",
      );
    }
  });
});

describe("WebhookSignature.verify", () => {
  const payload = '{"event_id":"evt_1","event_type":"created","payload":{"name":"Zoë"}}';
  const secret = "s3cret-ü";

  it.each(ALGORITHMS)("accepts the node:crypto signature in lower, upper and mixed case (%s)", (algorithm) => {
    const signature = oracle(payload, secret, algorithm);
    expect(WebhookSignature.verify(payload, secret, signature, algorithm)).toBe(true);
    expect(WebhookSignature.verify(payload, secret, signature.toUpperCase(), algorithm)).toBe(true);
    const mixed = [...signature].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join("");
    expect(WebhookSignature.verify(payload, secret, mixed, algorithm)).toBe(true);
  });

  it("accepts RFC 4231 test case 2", () => {
    expect(
      WebhookSignature.verify(
        "what do ya want for nothing?",
        "Jefe",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      ),
    ).toBe(true);
    expect(
      WebhookSignature.verify(
        "what do ya want for nothing?",
        "Jefe",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        SignatureAlgorithm.HMAC_SHA512,
      ),
    ).toBe(true);
  });

  describe.each(ALGORITHMS)("rejects without throwing (%s)", (algorithm) => {
    const good = oracle(payload, secret, algorithm);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "0" ? "1" : "0") + s.slice(i + 1);
    const cases: Array<[string, unknown]> = [
      ["one hex digit changed (first)", flip(good, 0)],
      ["one hex digit changed (last)", flip(good, good.length - 1)],
      ["truncated by one hex digit", good.slice(0, -1)],
      ["truncated by one byte", good.slice(0, -2)],
      ["half the signature", good.slice(0, good.length / 2)],
      ["extended by one byte", `${good}00`],
      ["extended by one hex digit", `${good}0`],
      ["doubled", good + good],
      ["empty", ""],
      ["non-hex of the right length", "z".repeat(good.length)],
      ["one non-hex character", `${good.slice(0, -1)}g`],
      ["leading whitespace", ` ${good.slice(1)}`],
      ["trailing newline", `${good}\n`],
      ["sha256= prefix", `sha256=${good}`],
      ["base64 of the right digest", Buffer.from(good, "hex").toString("base64")],
      ["undefined", undefined],
      ["null", null],
      ["a number", 12345],
      ["the digest bytes as a Buffer", Buffer.from(good, "hex")],
      ["an object with a length", { length: good.length }],
      ["an array of characters", [...good]],
    ];
    it.each(cases)("%s", (_label, signature) => {
      let result: unknown;
      expect(() => {
        result = WebhookSignature.verify(payload, secret, signature as string, algorithm);
      }).not.toThrow();
      expect(result).toBe(false);
    });
  });

  it("rejects a signature made with the other algorithm", () => {
    const sha256 = oracle(payload, secret, SignatureAlgorithm.HMAC_SHA256);
    const sha512 = oracle(payload, secret, SignatureAlgorithm.HMAC_SHA512);
    expect(WebhookSignature.verify(payload, secret, sha512, SignatureAlgorithm.HMAC_SHA256)).toBe(false);
    expect(WebhookSignature.verify(payload, secret, sha256, SignatureAlgorithm.HMAC_SHA512)).toBe(false);
    // The first half of a SHA-512 MAC has the SHA-256 length but is not its MAC.
    expect(WebhookSignature.verify(payload, secret, sha512.slice(0, 64), SignatureAlgorithm.HMAC_SHA256)).toBe(false);
  });

  it("rejects a different payload, a different secret, and a secret in another encoding", () => {
    const good = oracle(payload, secret, SignatureAlgorithm.HMAC_SHA256);
    expect(WebhookSignature.verify(`${payload} `, secret, good)).toBe(false);
    expect(WebhookSignature.verify(payload, `${secret}x`, good)).toBe(false);
    const latin1Keyed = createHmac("sha256", Buffer.from(secret, "latin1")).update(payload).digest("hex");
    expect(WebhookSignature.verify(payload, secret, latin1Keyed)).toBe(false);
  });

  it("returns false, never throws, for unusable payload, secret or algorithm", () => {
    const good = oracle(payload, secret, SignatureAlgorithm.HMAC_SHA256);
    const calls: Array<() => boolean> = [
      () => WebhookSignature.verify(payload, "", good),
      () => WebhookSignature.verify(payload, undefined as unknown as string, good),
      () => WebhookSignature.verify(payload, Buffer.from(secret) as unknown as string, good),
      () => WebhookSignature.verify(undefined as unknown as string, secret, good),
      () => WebhookSignature.verify(Buffer.from(payload) as unknown as string, secret, good),
      () => WebhookSignature.verify(payload, secret, good, "hmac_md5" as SignatureAlgorithm),
      () => WebhookSignature.verify(payload, secret, good, "toString" as SignatureAlgorithm),
      () => WebhookSignature.verify(payload, secret, good, "__proto__" as SignatureAlgorithm),
      () => WebhookSignature.verify(payload, secret, good, null as unknown as SignatureAlgorithm),
    ];
    for (const call of calls) {
      expect(call).not.toThrow();
      expect(call()).toBe(false);
    }
  });

  it("never throws and only accepts the real MAC for arbitrary strings (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 100 }),
        fc.string({ unit: "binary", maxLength: 40 }),
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 200 }),
          fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength: 64, maxLength: 64 }),
          fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength: 128, maxLength: 128 }),
        ),
        fc.oneof(fc.constantFrom<string>(...ALGORITHMS), fc.string()),
        (p, s, signature, algorithm) => {
          let result: unknown;
          expect(() => {
            result = WebhookSignature.verify(p, s, signature, algorithm as SignatureAlgorithm);
          }).not.toThrow();
          const known = (ALGORITHMS as readonly string[]).includes(algorithm);
          const expected =
            known && s.length > 0 && signature.toLowerCase() === oracle(p, s, algorithm as SignatureAlgorithm);
          expect(result).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never throws for arbitrary values of any type (property)", () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), fc.anything(), (p, s, signature, algorithm) => {
        expect(() =>
          WebhookSignature.verify(p as string, s as string, signature as string, algorithm as SignatureAlgorithm),
        ).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it("rejects every single-digit change of a valid signature (property)", () => {
    const good = oracle(payload, secret, SignatureAlgorithm.HMAC_SHA512);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: good.length - 1 }),
        fc.constantFrom(..."0123456789abcdef"),
        (index, digit) => {
          fc.pre(good[index] !== digit);
          const changed = good.slice(0, index) + digit + good.slice(index + 1);
          expect(WebhookSignature.verify(payload, secret, changed, SignatureAlgorithm.HMAC_SHA512)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../src/core/errors.js";
import { generateSecret, generateSigningKeyPair, parseSigningSecret, type SigningKey } from "../src/signing/secrets.js";

// RFC 8032 section 7.1, TEST 1 and TEST 2: published ed25519 seeds, public keys and signatures.
const RFC8032 = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
] as const;

const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

function expectSecretInvalid(secret: unknown): void {
  let thrown: unknown;
  try {
    parseSigningSecret(secret as string);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `parseSigningSecret(${JSON.stringify(secret)?.slice(0, 60)})`).toBeInstanceOf(ConfigurationError);
  expect((thrown as ConfigurationError).code).toBe("HOOKLINE_SECRET_INVALID");
}

function hmacKey(key: SigningKey): Buffer {
  if (key.kind !== "hmac") throw new Error(`expected an hmac key, got ${key.kind}`);
  return key.key;
}

function ed25519Key(key: SigningKey): { privateKey: KeyObject | null; publicKey: KeyObject } {
  if (key.kind !== "ed25519") throw new Error(`expected an ed25519 key, got ${key.kind}`);
  return key;
}

/** The raw 32-byte public key, read through JWK rather than the DER path the code uses. */
function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url");
}

describe("generateSecret", () => {
  it("is whsec_ followed by the base64 of 24 bytes (32 characters)", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const body = secret.slice("whsec_".length);
    const bytes = Buffer.from(body, "base64");
    expect(bytes).toHaveLength(24);
    expect(bytes.toString("base64")).toBe(body);
  });

  it("is unique across calls", () => {
    const secrets = new Set(Array.from({ length: 500 }, () => generateSecret()));
    expect(secrets.size).toBe(500);
  });

  it("does not look like a fixed pattern: bytes vary in every position over many secrets", () => {
    const decoded = Array.from({ length: 64 }, () => Buffer.from(generateSecret().slice(6), "base64"));
    for (let i = 0; i < 24; i++) {
      const values = new Set(decoded.map((b) => b[i]));
      expect(values.size, `byte ${i}`).toBeGreaterThan(1);
    }
  });

  it("is accepted by the standardwebhooks package, which signs with the base64-decoded key", () => {
    const secret = generateSecret();
    const theirs = new Webhook(secret);
    const timestamp = new Date(1_700_000_000_000);
    const expected = createHmac("sha256", Buffer.from(secret.slice(6), "base64"))
      .update("msg_1.1700000000.{}")
      .digest("base64");
    expect(theirs.sign("msg_1", timestamp, "{}")).toBe(`v1,${expected}`);
  });

  it("is parsed by parseSigningSecret as the same 24-byte HMAC key", () => {
    const secret = generateSecret();
    expect(hmacKey(parseSigningSecret(secret)).equals(Buffer.from(secret.slice(6), "base64"))).toBe(true);
  });
});

describe("generateSigningKeyPair", () => {
  it("returns whsk_ and whpk_ keys of 32 bytes each in base64", () => {
    const { secretKey, publicKey } = generateSigningKeyPair();
    expect(secretKey).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/);
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secretKey.slice(5), "base64")).toHaveLength(32);
    expect(Buffer.from(publicKey.slice(5), "base64")).toHaveLength(32);
  });

  it("returns a matching pair: node:crypto signs with the seed (JWK) and verifies with the public key", () => {
    const { secretKey, publicKey } = generateSigningKeyPair();
    const seed = Buffer.from(secretKey.slice(5), "base64");
    const pub = Buffer.from(publicKey.slice(5), "base64");
    const privateKey = createPrivateKey({
      key: { kty: "OKP", crv: "Ed25519", d: seed.toString("base64url"), x: pub.toString("base64url") },
      format: "jwk",
    });
    // The public key derived from the seed alone equals the one returned.
    expect(rawPublicKey(createPublicKey(privateKey)).equals(pub)).toBe(true);
    const message = Buffer.from("msg_1.1700000000.{}");
    const signature = sign(null, message, privateKey);
    const verifier = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: pub.toString("base64url") },
      format: "jwk",
    });
    expect(verify(null, message, verifier, signature)).toBe(true);
  });

  it("is unique across calls", () => {
    const pairs = Array.from({ length: 50 }, () => generateSigningKeyPair());
    expect(new Set(pairs.map((p) => p.secretKey)).size).toBe(50);
    expect(new Set(pairs.map((p) => p.publicKey)).size).toBe(50);
  });
});

describe("parseSigningSecret: whsec_ (HMAC, base64)", () => {
  it("decodes the spec's example secret to its base64 bytes", () => {
    const key = hmacKey(parseSigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    expect(key.equals(Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64"))).toBe(true);
    expect(key).toHaveLength(24);
    // Not the UTF-8 of the string, with or without the prefix.
    expect(key.equals(Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "utf8"))).toBe(false);
  });

  it("decodes arbitrary 16–64 byte keys, padded or not (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 64 }), (bytes) => {
        const key = hmacKey(parseSigningSecret(`whsec_${Buffer.from(bytes).toString("base64")}`));
        expect(key.equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it("accepts 16 and 64 bytes, rejects 15 and 65", () => {
    expect(hmacKey(parseSigningSecret(`whsec_${Buffer.alloc(16, 1).toString("base64")}`))).toHaveLength(16);
    expect(hmacKey(parseSigningSecret(`whsec_${Buffer.alloc(64, 1).toString("base64")}`))).toHaveLength(64);
    expectSecretInvalid(`whsec_${Buffer.alloc(15, 1).toString("base64")}`);
    expectSecretInvalid(`whsec_${Buffer.alloc(65, 1).toString("base64")}`);
    expectSecretInvalid(`whsec_${Buffer.alloc(8, 1).toString("base64")}`);
    expectSecretInvalid(`whsec_${Buffer.alloc(1, 1).toString("base64")}`);
  });

  it.each([
    ["the prefix alone", "whsec_"],
    ["punctuation", "whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"],
    ["a length that is not a multiple of 4", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"],
    ["base64url characters", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_"],
    ["an inner space", "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw"],
    ["a trailing newline", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"],
    ["padding in the middle", "whsec_MfKQ9r8G=YqrTwjUPD8ILPZIo2LaLaSw"],
    ["triple padding", `whsec_${Buffer.alloc(16, 1).toString("base64").slice(0, -2)}===`],
  ])("rejects whsec_ with invalid base64: %s", (_label, secret) => {
    expectSecretInvalid(secret);
  });
});

describe("parseSigningSecret: plain strings (raw format)", () => {
  it.each([
    "s3cret",
    "sécret-🔑-ключ",
    "whsec", // no underscore: not the prefix
    "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // prefixes are case-sensitive
    " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // leading space: not the prefix
    "whpk", // no underscore
    "a",
  ])("uses the UTF-8 bytes of %j", (secret) => {
    const key = hmacKey(parseSigningSecret(secret));
    expect(key.equals(Buffer.from(secret, "utf8"))).toBe(true);
  });

  it("is UTF-8, not Latin-1 or UTF-16", () => {
    const key = hmacKey(parseSigningSecret("é"));
    expect([...key]).toEqual([0xc3, 0xa9]);
  });

  it("maps arbitrary non-prefixed strings to their UTF-8 bytes (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 50 }), (secret) => {
        fc.pre(!/^wh(sec|sk|pk)_/.test(secret));
        expect(hmacKey(parseSigningSecret(secret)).equals(Buffer.from(secret, "utf8"))).toBe(true);
      }),
    );
  });

  it("accepts 1024 characters and rejects 1025", () => {
    expect(hmacKey(parseSigningSecret("k".repeat(1024)))).toHaveLength(1024);
    expectSecretInvalid("k".repeat(1025));
  });

  it("rejects empty and non-string secrets with HOOKLINE_SECRET_INVALID", () => {
    for (const secret of ["", undefined, null, 42, {}, [], Buffer.from("k")]) expectSecretInvalid(secret);
  });
});

describe("parseSigningSecret: whsk_ / whpk_ (ed25519)", () => {
  it.each(RFC8032)("whsk_ of RFC 8032 seed $seed signs the published signature", (vector) => {
    const key = ed25519Key(parseSigningSecret(`whsk_${b64(vector.seed)}`));
    expect(key.privateKey).not.toBeNull();
    expect(rawPublicKey(key.publicKey).toString("hex")).toBe(vector.publicKey);
    const signature = sign(null, Buffer.from(vector.message, "hex"), key.privateKey as KeyObject);
    expect(signature.toString("hex")).toBe(vector.signature);
  });

  it.each(RFC8032)("whsk_ in libsodium's 64-byte (seed ‖ public key) form of $seed", (vector) => {
    const key = ed25519Key(parseSigningSecret(`whsk_${b64(vector.seed + vector.publicKey)}`));
    expect(rawPublicKey(key.publicKey).toString("hex")).toBe(vector.publicKey);
    const signature = sign(null, Buffer.from(vector.message, "hex"), key.privateKey as KeyObject);
    expect(signature.toString("hex")).toBe(vector.signature);
  });

  it.each(RFC8032)("whpk_ of RFC 8032 public key $publicKey verifies the published signature", (vector) => {
    const key = ed25519Key(parseSigningSecret(`whpk_${b64(vector.publicKey)}`));
    expect(key.privateKey).toBeNull();
    expect(rawPublicKey(key.publicKey).toString("hex")).toBe(vector.publicKey);
    const message = Buffer.from(vector.message, "hex");
    expect(verify(null, message, key.publicKey, Buffer.from(vector.signature, "hex"))).toBe(true);
    expect(
      verify(null, Buffer.concat([message, Buffer.from("x")]), key.publicKey, Buffer.from(vector.signature, "hex")),
    ).toBe(false);
  });

  it("parses keys made by node:crypto (exported as JWK, not DER)", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" });
    const seed = Buffer.from(jwk.d as string, "base64url");
    const pub = Buffer.from(jwk.x as string, "base64url");
    const fromSecret = ed25519Key(parseSigningSecret(`whsk_${seed.toString("base64")}`));
    const fromPublic = ed25519Key(parseSigningSecret(`whpk_${pub.toString("base64")}`));
    expect(rawPublicKey(fromSecret.publicKey).equals(pub)).toBe(true);
    expect(rawPublicKey(fromPublic.publicKey).equals(pub)).toBe(true);
  });

  it.each([0, 1, 16, 31, 33, 48, 63, 65, 96])("rejects a whsk_ key of %i bytes", (length) => {
    expectSecretInvalid(`whsk_${Buffer.alloc(length, 7).toString("base64")}`);
  });

  it.each([0, 1, 16, 31, 33, 64])("rejects a whpk_ key of %i bytes", (length) => {
    expectSecretInvalid(`whpk_${Buffer.alloc(length, 7).toString("base64")}`);
  });

  it.each(["whsk_!!!!", "whpk_!!!!", "whsk_", "whpk_", `whpk_${b64(RFC8032[0].publicKey).replace(/=$/, "")}`])(
    "rejects %j (invalid base64)",
    (secret) => {
      expectSecretInvalid(secret);
    },
  );
});

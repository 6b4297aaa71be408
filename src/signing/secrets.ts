import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { ConfigurationError } from "../core/errors.js";

const HMAC_PREFIX = "whsec_";
const SECRET_KEY_PREFIX = "whsk_";
const PUBLIC_KEY_PREFIX = "whpk_";
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MIN_HMAC_KEY_BYTES = 16;
const MAX_HMAC_KEY_BYTES = 64;
const MAX_SECRET_LENGTH = 1024;
// DER prefixes that wrap a raw 32-byte ed25519 seed (PKCS#8) or public key (SPKI).
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** A parsed Standard Webhooks secret: an HMAC key (`v1`) or an ed25519 key (`v1a`). */
export type SigningKey =
  | { readonly kind: "hmac"; readonly key: Buffer }
  | { readonly kind: "ed25519"; readonly privateKey: KeyObject | null; readonly publicKey: KeyObject };

/**
 * A new Standard Webhooks HMAC secret: `whsec_` and 24 random bytes in base64,
 * the form Svix and the spec's libraries use.
 *
 * @example
 * const secret = generateSecret(); // "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
 */
export function generateSecret(): string {
  return HMAC_PREFIX + randomBytes(24).toString("base64");
}

/**
 * A new ed25519 key pair for `v1a` signatures: the sender keeps `secretKey`
 * (`whsk_` + base64 of the 32-byte seed), receivers get `publicKey`
 * (`whpk_` + base64 of the 32-byte public key).
 */
export function generateSigningKeyPair(): { secretKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const seed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(ED25519_PKCS8_PREFIX.length);
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(ED25519_SPKI_PREFIX.length);
  return {
    secretKey: SECRET_KEY_PREFIX + seed.toString("base64"),
    publicKey: PUBLIC_KEY_PREFIX + raw.toString("base64"),
  };
}

function decodeBase64(secret: string, prefix: string): Buffer {
  const body = secret.slice(prefix.length);
  if (body.length === 0 || !BASE64.test(body)) {
    throw new ConfigurationError("HOOKLINE_SECRET_INVALID", `a ${prefix} secret must be followed by valid base64`);
  }
  return Buffer.from(body, "base64");
}

const parsedKeys = new Map<string, SigningKey>();
const MAX_CACHED_KEYS = 10_000;

/**
 * {@link parseSigningSecret}, remembered per secret: every attempt signs, and
 * parsing (base64, ed25519 key objects) would otherwise be repeated each time.
 */
export function signingKeyFor(secret: string): SigningKey {
  let key = parsedKeys.get(secret);
  if (key === undefined) {
    key = parseSigningSecret(secret);
    if (parsedKeys.size >= MAX_CACHED_KEYS) parsedKeys.clear();
    parsedKeys.set(secret, key);
  }
  return key;
}

/**
 * Parses a secret the way the Standard Webhooks headers use it: `whsec_…` is
 * the base64 of the HMAC key, `whsk_…`/`whpk_…` an ed25519 secret or public
 * key, and anything else the UTF-8 bytes of the string (the "raw" format).
 * Throws a ConfigurationError for an empty or malformed secret.
 */
export function parseSigningSecret(secret: string): SigningKey {
  if (typeof secret !== "string" || secret.length === 0) {
    throw new ConfigurationError("HOOKLINE_SECRET_INVALID", "secret must be a non-empty string");
  }
  if (secret.length > MAX_SECRET_LENGTH) {
    throw new ConfigurationError("HOOKLINE_SECRET_INVALID", `secret is longer than ${MAX_SECRET_LENGTH} characters`);
  }
  if (secret.startsWith(HMAC_PREFIX)) {
    const key = decodeBase64(secret, HMAC_PREFIX);
    if (key.length < MIN_HMAC_KEY_BYTES || key.length > MAX_HMAC_KEY_BYTES) {
      throw new ConfigurationError(
        "HOOKLINE_SECRET_INVALID",
        `a whsec_ secret must decode to ${MIN_HMAC_KEY_BYTES}–${MAX_HMAC_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
    return { kind: "hmac", key };
  }
  if (secret.startsWith(SECRET_KEY_PREFIX)) {
    const raw = decodeBase64(secret, SECRET_KEY_PREFIX);
    // 32 bytes is the seed; 64 is libsodium's seed-and-public-key form.
    if (raw.length !== 32 && raw.length !== 64) {
      throw new ConfigurationError(
        "HOOKLINE_SECRET_INVALID",
        `a whsk_ key must decode to 32 or 64 bytes, got ${raw.length}`,
      );
    }
    const privateKey = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, raw.subarray(0, 32)]),
      format: "der",
      type: "pkcs8",
    });
    return { kind: "ed25519", privateKey, publicKey: createPublicKey(privateKey) };
  }
  if (secret.startsWith(PUBLIC_KEY_PREFIX)) {
    const raw = decodeBase64(secret, PUBLIC_KEY_PREFIX);
    if (raw.length !== 32) {
      throw new ConfigurationError("HOOKLINE_SECRET_INVALID", `a whpk_ key must decode to 32 bytes, got ${raw.length}`);
    }
    const publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
    return { kind: "ed25519", privateKey: null, publicKey };
  }
  return { kind: "hmac", key: Buffer.from(secret, "utf8") };
}

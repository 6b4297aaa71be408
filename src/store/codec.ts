import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { ConfigurationError } from "../core/errors.js";

const PREFIX = "hlenc1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 32-byte AES-256 key with the id its ciphertexts are tagged with. */
interface CodecKey {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * Parses a main encryption key given as base64 of exactly 32 bytes (as in
 * `HOOKLINE_ENCRYPTION_KEY`) and derives its key id: the first 16 hex digits
 * of the SHA-256 of the key, safe to log and stored beside every ciphertext.
 */
export function parseEncryptionKey(base64: string): CodecKey {
  const key = Buffer.from(base64.trim(), "base64");
  if (key.length !== 32) {
    throw new ConfigurationError(
      "HOOKLINE_ENCRYPTION_KEY_INVALID",
      `encryption key must be base64 of 32 bytes, got ${key.length} bytes`,
    );
  }
  return { id: createHash("sha256").update(key).digest("hex").slice(0, 16), key };
}

/**
 * Encrypts and decrypts the secret and header columns with AES-256-GCM. Each
 * ciphertext is `hlenc1:<keyId>:<base64 iv|tag|ciphertext>`; `encode` uses the
 * main key, `decode` accepts the main key and any older keys (so rows can be
 * re-encrypted in batches during a rotation). Values without the prefix are
 * read as clear text, as written by a store that has no key.
 */
export class SecretCodec {
  readonly mainKeyId: string;
  readonly #main: CodecKey;
  readonly #byId = new Map<string, Buffer>();

  constructor(mainKeyBase64: string, olderKeysBase64: readonly string[] = []) {
    this.#main = parseEncryptionKey(mainKeyBase64);
    this.mainKeyId = this.#main.id;
    for (const k of [this.#main, ...olderKeysBase64.map(parseEncryptionKey)]) this.#byId.set(k.id, k.key);
  }

  /** Encrypts `plain` under the main key. */
  encode(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#main.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
    return `${PREFIX}${this.#main.id}:${sealed}`;
  }

  /** Decrypts a value written by `encode`; clear-text values come back as they are. */
  decode(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const keyId = SecretCodec.keyIdOf(stored) ?? "";
    const key = this.#byId.get(keyId);
    if (key === undefined) {
      throw new ConfigurationError(
        "HOOKLINE_ENCRYPTION_KEY_INVALID",
        `data is encrypted with key ${keyId}, which is not the configured key (${this.mainKeyId})`,
      );
    }
    const raw = Buffer.from(stored.slice(PREFIX.length + keyId.length + 1), "base64");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch (cause) {
      throw new ConfigurationError(
        "HOOKLINE_ENCRYPTION_KEY_INVALID",
        `cannot decrypt a value tagged with key ${keyId}`,
        {
          cause,
        },
      );
    }
  }

  /** The key id a stored value is tagged with, or null for clear text. */
  static keyIdOf(stored: string): string | null {
    if (!stored.startsWith(PREFIX)) return null;
    const end = stored.indexOf(":", PREFIX.length);
    return end < 0 ? "" : stored.slice(PREFIX.length, end);
  }
}

import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
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
 * What the SQL stores call on the endpoint columns that hold credentials
 * (signing secrets, custom header values): `encode` before a write, `decode`
 * after a read. {@link CLEAR_TEXT} when no key is configured.
 */
export interface ColumnCodec {
  /** The id of the key new values are encrypted with; null when values are stored in clear. */
  readonly mainKeyId: string | null;
  encode(plain: string): string;
  decode(stored: string): string;
  /** Whether values tagged with this key id can be decrypted. */
  canRead(keyId: string): boolean;
}

/** The codec of a store without a key: values are written in clear, and encrypted ones are a clear error. */
export const CLEAR_TEXT: ColumnCodec = {
  mainKeyId: null,
  encode: (plain) => plain,
  decode(stored) {
    const keyId = SecretCodec.keyIdOf(stored);
    if (keyId !== null) throw missingKey(keyId, null);
    return stored;
  },
  canRead: () => false,
};

function missingKey(keyId: string, mainKeyId: string | null): ConfigurationError {
  const configured = mainKeyId === null ? "no encryption key is configured" : `the configured key is ${mainKeyId}`;
  return new ConfigurationError(
    "HOOKLINE_ENCRYPTION_KEY_INVALID",
    `stored secrets are encrypted with key ${keyId}, but ${configured}: give that key (HOOKLINE_ENCRYPTION_KEY or the key file) to read them`,
  );
}

/** Splits a list of base64 keys, separated by commas, spaces or new lines (`#` starts a comment line); the first is the main key. */
export function parseKeyList(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join(" ")
    .split(/[\s,]+/)
    .filter((item) => item !== "");
}

/** Where a store's encryption keys come from (see the stores' `encryptionKey` and `encryptionKeyFile` options). */
export interface EncryptionKeyOptions {
  /** Base64 of 32 bytes, or several (a list or a comma-separated string): the first encrypts, all decrypt. */
  encryptionKey?: string | readonly string[] | undefined;
  /**
   * A file with the keys, one per line, main key first. Read at start, and
   * again when a value tagged with an unknown key id turns up (a rotation by
   * another process), so a running process follows `hookline keys rotate-main`.
   */
  encryptionKeyFile?: string | undefined;
}

/** The codec for a store's options: {@link CLEAR_TEXT} when no key is given. */
export function columnCodec(options: EncryptionKeyOptions): ColumnCodec {
  const { encryptionKey, encryptionKeyFile } = options;
  if (encryptionKey !== undefined && encryptionKeyFile !== undefined) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "give encryptionKey or encryptionKeyFile, not both");
  }
  if (encryptionKeyFile !== undefined) {
    const read = (): string[] => readKeyFile(encryptionKeyFile);
    return new SecretCodec(read(), read);
  }
  if (encryptionKey === undefined) return CLEAR_TEXT;
  const keys = typeof encryptionKey === "string" ? parseKeyList(encryptionKey) : [...encryptionKey];
  return keys.length === 0 ? CLEAR_TEXT : new SecretCodec(keys);
}

/** The keys of a key file, main key first; a clear error when it is missing, empty or malformed. */
export function readKeyFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigurationError(
      "HOOKLINE_ENCRYPTION_KEY_INVALID",
      `cannot read the encryption key file ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}`,
      { cause },
    );
  }
  const keys = parseKeyList(text);
  if (keys.length === 0) {
    throw new ConfigurationError("HOOKLINE_ENCRYPTION_KEY_INVALID", `the encryption key file ${path} holds no key`);
  }
  for (const key of keys) parseEncryptionKey(key);
  return keys;
}

/** A fresh main key: base64 of 32 random bytes. */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString("base64");
}

/**
 * Throws the clear error of a missing key when stored values are tagged with
 * a key id the codec cannot read: called at start, so a wrong key stops the
 * process before anything is written.
 */
export function assertKeysKnown(codec: ColumnCodec, keyIds: Iterable<string>): void {
  for (const keyId of keyIds) {
    if (!codec.canRead(keyId)) {
      // A key file may have been rotated since it was read.
      if (codec instanceof SecretCodec && codec.reload() && codec.canRead(keyId)) continue;
      throw missingKey(keyId, codec.mainKeyId);
    }
  }
}

/** Decrypted values kept per process, so the claim path does not pay AES per delivery. */
const DECODED_CACHE_SIZE = 4_096;

/**
 * Encrypts and decrypts the secret and header columns with AES-256-GCM. Each
 * ciphertext is `hlenc1:<keyId>:<base64 iv|tag|ciphertext>`; `encode` uses the
 * main key, `decode` accepts the main key and any older keys (so rows can be
 * re-encrypted in batches during a rotation). Values without the prefix are
 * read as clear text, as written by a store that has no key.
 */
export class SecretCodec implements ColumnCodec {
  #main: CodecKey;
  readonly #byId = new Map<string, Buffer>();
  readonly #decoded = new Map<string, string>();
  readonly #reload: (() => string[]) | undefined;

  /**
   * @param keysBase64 the main key first, then older keys still accepted for reading.
   * @param reload gives the keys again (from a key file) when a value has an unknown key id.
   */
  constructor(keysBase64: readonly string[], reload?: () => string[]) {
    const [main, ...older] = keysBase64;
    if (main === undefined) throw new ConfigurationError("HOOKLINE_ENCRYPTION_KEY_INVALID", "no encryption key given");
    this.#main = parseEncryptionKey(main);
    for (const k of [this.#main, ...older.map(parseEncryptionKey)]) this.#byId.set(k.id, k.key);
    this.#reload = reload;
  }

  get mainKeyId(): string {
    return this.#main.id;
  }

  canRead(keyId: string): boolean {
    return this.#byId.has(keyId);
  }

  /** Reads the keys again from their source, if it has one; true when it did. The main key becomes the source's first. */
  reload(): boolean {
    if (this.#reload === undefined) return false;
    const [main, ...older] = this.#reload().map(parseEncryptionKey);
    if (main === undefined) return false;
    this.#main = main;
    for (const k of [main, ...older]) this.#byId.set(k.id, k.key);
    return true;
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
    const cached = this.#decoded.get(stored);
    if (cached !== undefined) return cached;
    const keyId = SecretCodec.keyIdOf(stored) ?? "";
    if (!this.#byId.has(keyId)) this.reload();
    const key = this.#byId.get(keyId);
    if (key === undefined) throw missingKey(keyId, this.mainKeyId);
    const plain = this.#decrypt(stored, keyId, key);
    if (this.#decoded.size >= DECODED_CACHE_SIZE) this.#decoded.clear();
    this.#decoded.set(stored, plain);
    return plain;
  }

  #decrypt(stored: string, keyId: string, key: Buffer): string {
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

/**
 * The value re-encrypted under the codec's main key, or null when it already
 * is (a rotation skips those rows). Clear-text values get encrypted.
 */
export function reencrypted(codec: ColumnCodec, stored: string): string | null {
  if (codec.mainKeyId === null) {
    throw new ConfigurationError("HOOKLINE_ENCRYPTION_KEY_INVALID", "re-encrypting needs an encryption key");
  }
  if (SecretCodec.keyIdOf(stored) === codec.mainKeyId) return null;
  return codec.encode(codec.decode(stored));
}

/**
 * SQL (SQLite and PostgreSQL alike) listing the key ids stored values are
 * encrypted with: the endpoint credential columns and sealed documents.
 */
export function encryptionKeyIdsSql(endpointsTable: string, documentsTable: string): string {
  const ids = (table: string, column: string) =>
    `SELECT DISTINCT substr(${column}, ${PREFIX.length + 1}, 16) AS key_id FROM ${table} WHERE ${column} LIKE '${PREFIX}%'`;
  return `${ids(endpointsTable, "secrets")} UNION ${ids(endpointsTable, "headers")} UNION ${ids(documentsTable, "value")}`;
}

/** SQL selecting the sealed documents (values encrypted whole, see `Store.seal`). */
export function sealedDocumentsSql(documentsTable: string): string {
  return `SELECT namespace, key, value FROM ${documentsTable} WHERE value LIKE '${PREFIX}%'`;
}

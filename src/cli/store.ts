import { existsSync, writeFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { generateEncryptionKey, parseKeyList } from "../store/codec.js";
import type { Store } from "../store/store.js";
import { UsageError } from "./errors.js";

const DEFAULT_DB = "./hookline.db";

/** The options of the commands that open a store themselves (`serve`, `keys rotate-main`). */
export interface StoreFlags {
  db?: string;
  pg?: string;
  pgSchema?: string;
  encryptionKeyFile?: string;
}

/** Adds `--db`, `--pg`, `--pg-schema` and `--encryption-key-file` to a command. */
export function withStoreOptions(command: Command): Command {
  return command
    .addOption(new Option("--db <path>", `SQLite database file (default ${DEFAULT_DB})`).env("HOOKLINE_DB"))
    .addOption(new Option("--pg <url>", "PostgreSQL connection string instead of SQLite").env("HOOKLINE_PG_URL"))
    .addOption(
      new Option("--pg-schema <name>", "PostgreSQL schema of the tables (default hookline)").env("HOOKLINE_PG_SCHEMA"),
    )
    .addOption(
      new Option(
        "--encryption-key-file <path>",
        "file with the keys that encrypt endpoint secrets and headers at rest, main key first (default for SQLite: the database file's name + .key, created on first start)",
      ).env("HOOKLINE_ENCRYPTION_KEY_FILE"),
    );
}

/** Where the encryption keys of a store come from, decided once from the flags and the environment. */
export type KeySource =
  | { kind: "env"; keys: string[] }
  | { kind: "file"; path: string; created: boolean }
  | { kind: "none" };

/**
 * `HOOKLINE_ENCRYPTION_KEY` (one key or a comma-separated list, main first),
 * else `--encryption-key-file`, else for SQLite the key file beside the
 * database — created (mode 0600) when `createDefault` and missing — else none.
 */
export function resolveKeySource(flags: StoreFlags, options: { createDefault: boolean }): KeySource {
  const fromEnv = process.env.HOOKLINE_ENCRYPTION_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    if (flags.encryptionKeyFile !== undefined) {
      throw new UsageError("give HOOKLINE_ENCRYPTION_KEY or --encryption-key-file, not both");
    }
    return { kind: "env", keys: parseKeyList(fromEnv) };
  }
  if (flags.encryptionKeyFile !== undefined) {
    if (!existsSync(flags.encryptionKeyFile)) {
      throw new UsageError(`the encryption key file ${flags.encryptionKeyFile} does not exist`);
    }
    return { kind: "file", path: flags.encryptionKeyFile, created: false };
  }
  if (flags.pg !== undefined) return { kind: "none" };
  const path = `${flags.db ?? DEFAULT_DB}.key`;
  if (existsSync(path)) return { kind: "file", path, created: false };
  if (!options.createDefault) return { kind: "none" };
  writeKeyFile(path, [generateEncryptionKey()]);
  return { kind: "file", path, created: true };
}

/**
 * Writes a new key file readable by its owner only; an existing file is
 * never replaced (a rotation writes a new one and renames it over the old,
 * so a reader never sees half a file).
 */
export function writeKeyFile(path: string, keys: readonly string[]): void {
  const text = `# hookline encryption keys: the first encrypts, every one decrypts. Keep this file secret.\n${keys.join("\n")}\n`;
  writeFileSync(path, text, { mode: 0o600, flag: "wx" });
}

/** Opens the store the flags name, with its encryption keys. */
export async function openStore(flags: StoreFlags, keys: KeySource): Promise<{ store: Store; where: string }> {
  const encryption =
    keys.kind === "env" ? { encryptionKey: keys.keys } : keys.kind === "file" ? { encryptionKeyFile: keys.path } : {};
  if (flags.pg) {
    const { postgresStore } = await import("../postgres.js");
    const schema = flags.pgSchema ?? "hookline";
    return {
      store: postgresStore({ connectionString: flags.pg, schema, ...encryption }),
      where: `PostgreSQL ${redactUrl(flags.pg)} (schema ${schema})`,
    };
  }
  const { sqliteStore } = await import("../sqlite.js");
  const path = flags.db ?? DEFAULT_DB;
  return { store: sqliteStore({ path, ...encryption }), where: `SQLite ${path}` };
}

/** A connection string without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(connection string)";
  }
}

import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { ApiClient } from "./client.js";

export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Options every client command takes. */
export interface ClientFlags {
  url: string;
  token?: string;
  json?: boolean;
}

/** Client options of a command about one application (`--app`). */
export type AppFlags = ClientFlags & { app: string };

export interface PageFlags {
  limit?: number;
  iterator?: string;
  all?: boolean;
}

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError("Not an integer.");
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`Must be between ${min} and ${max}.`);
    return n;
  };
}

export const parsePort = parseInteger(0, 65_535);

/** `a,b , c` → ["a", "b", "c"]. */
export function parseList(value: string): string[] {
  const items = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new InvalidArgumentError("Give at least one comma-separated value.");
  return items;
}

/** An ISO-8601 date (or anything Date.parse reads) as a Date. */
export function parseDate(value: string): Date {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError("Not a date; use ISO 8601, e.g. 2024-01-31T12:00:00Z.");
  return new Date(ms);
}

/** Inline JSON, `@file` (JSON read from a file) or `@-` (JSON read from stdin). */
export function parseJsonData(value: string): unknown {
  let text = value;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    try {
      text = readFileSync(file === "-" ? 0 : file, "utf8");
    } catch (error) {
      throw new InvalidArgumentError(`Cannot read ${file === "-" ? "stdin" : file}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`Not valid JSON: ${(error as Error).message}`);
  }
}

/** Environment flags read as booleans: 1, true, yes, on. */
export function envFlag(name: string): boolean {
  return /^(1|true|yes|on)$/i.test(process.env[name]?.trim() ?? "");
}

/** Adds --url, --token and --json to a command that talks to a running service. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(new Option("--url <url>", "base URL of the hookline service").env("HOOKLINE_URL").default(DEFAULT_URL))
    .addOption(new Option("--token <token>", "API key (Bearer token)").env("HOOKLINE_TOKEN"))
    .option("--json", "print the API's JSON instead of a table");
}

/** Adds --app <id> (or HOOKLINE_APP), required. */
export function withAppOption(command: Command): Command {
  return command.addOption(new Option("--app <id>", "application id or uid").env("HOOKLINE_APP").makeOptionMandatory());
}

export function withPageOptions(command: Command): Command {
  return command
    .option("--limit <n>", "items per page (1-250)", parseInteger(1, 250))
    .option("--iterator <iterator>", "continue from this page iterator")
    .option("--all", "follow the iterator through every page");
}

/** A client for the flags of a command, requiring a token. */
export function clientFrom(flags: ClientFlags): ApiClient {
  return new ApiClient({ url: flags.url, token: flags.token }).requireToken();
}

/** Runs `fn` with a client and closes its connections afterwards. */
export async function withClient<T>(flags: ClientFlags, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  const client = clientFrom(flags);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

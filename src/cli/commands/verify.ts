import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { HooklineError } from "../../core/errors.js";
import { StandardWebhook } from "../../signing/standard-webhooks.js";
import { CliError } from "../errors.js";
import { parseInteger } from "../options.js";
import { printJson, printLine } from "../output.js";

/** A `--secret` value, checked up front so a malformed secret is a usage error. */
export function parseSecret(value: string): string {
  try {
    new StandardWebhook(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
  return value;
}

/** Repeated `--header 'name: value'` into a lower-cased header record. */
export function collectHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const colon = value.indexOf(":");
  const name = colon < 0 ? "" : value.slice(0, colon).trim().toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
    throw new InvalidArgumentError(`Expected "name: value", got ${JSON.stringify(value)}.`);
  }
  return { ...previous, [name]: value.slice(colon + 1).trim() };
}

/** The verifier for a secret and tolerance (seconds between the timestamp and now, either way). */
export function verifierFor(secret: string, toleranceSeconds: number | undefined): StandardWebhook {
  return new StandardWebhook(secret, toleranceSeconds === undefined ? {} : { toleranceSeconds });
}

export function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof HooklineError) return { code: error.code, message: error.message };
  return { code: "ERROR", message: error instanceof Error ? error.message : String(error) };
}

/** Everything on stdin, until it closes. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `hookline verify --secret S --header 'webhook-id: …' … < body`. */
export function verifyCommand(): Command {
  return new Command("verify")
    .description(
      "verify a Standard Webhooks (or Svix) signature of a body read from stdin; exit 0 when valid, 1 when not",
    )
    .addOption(
      new Option("--secret <secret>", "the endpoint's secret: whsec_…, whpk_… or a raw secret")
        .env("HOOKLINE_WEBHOOK_SECRET")
        .argParser(parseSecret)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "-H, --header <header>",
        "a request header, 'name: value' (repeat: webhook-id, -timestamp, -signature)",
      )
        .argParser(collectHeader)
        .makeOptionMandatory(),
    )
    .option("--body <file>", "read the body from this file instead of stdin")
    .option(
      "--tolerance <seconds>",
      "accepted distance between webhook-timestamp and now (default 300)",
      parseInteger(0, 10 ** 11),
    )
    .option("--json", "print the result as JSON on stdout")
    .addHelpText(
      "after",
      `
Example:
  hookline verify --secret "$SECRET" \\
    --header "webhook-id: msg_2ab" --header "webhook-timestamp: 1714000000" \\
    --header "webhook-signature: v1,K5oZ…" < body.json`,
    )
    .action(
      async (flags: {
        secret: string;
        header: Record<string, string>;
        body?: string;
        tolerance?: number;
        json?: boolean;
      }) => {
        const body = flags.body === undefined ? await readStdin() : await readFile(flags.body);
        try {
          const { msgId, timestampSeconds } = verifierFor(flags.secret, flags.tolerance).verifySignature(
            body,
            flags.header,
          );
          if (flags.json) printJson({ valid: true, msgId, timestamp: timestampSeconds });
          else printLine(`valid: ${msgId} signed at ${new Date(timestampSeconds * 1000).toISOString()}`);
        } catch (error) {
          const { code, message } = describeFailure(error);
          if (flags.json) printJson({ valid: false, code, reason: message });
          process.stderr.write(`invalid: ${message} (${code})\n`);
          // Reported above; the empty message tells main to print nothing more.
          throw new CliError("", 1);
        }
      },
    );
}

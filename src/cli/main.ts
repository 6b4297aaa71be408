#!/usr/bin/env node
/**
 * The `hookline` binary. Exit codes: 0 success, 1 failure (the service
 * refused, a signature did not verify, the network failed), 2 usage error.
 */
import { CommanderError } from "commander";
import { ApiError, CliError } from "./errors.js";
import { buildProgram } from "./program.js";

/** Once the command is done, a lingering handle may delay the exit this long, no more. */
const EXIT_GRACE_MS = 2_000;

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander has printed its message (or the help) already.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof ApiError) {
    process.stderr.write(`${error.code}: ${error.detail}\n`);
    return error.exitCode;
  }
  if (error instanceof CliError) {
    if (error.message) process.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

async function main(): Promise<void> {
  // `hookline … | head` closes the pipe early: not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  let code = 0;
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    code = exitCodeFor(error);
  }
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

await main();

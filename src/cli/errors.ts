/**
 * An error the CLI reports as one line on stderr, exiting with `exitCode`:
 * 1 for a failure (the service refused, a signature did not verify), 2 for a
 * usage error (bad flags or arguments).
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Bad flags or arguments found after parsing (a conflict, a missing token): exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/**
 * The service answered with an error status. `code` and `detail` come from
 * its `{ code, detail }` body (Svix's error shape); printed as `code: detail`.
 */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly detail: string;

  constructor(status: number, code: string, detail: string) {
    super(`${code}: ${detail}`, 1);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

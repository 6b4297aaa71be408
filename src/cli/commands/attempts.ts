import { Command } from "commander";
import { type ApiClient, apiPath, type ListResponse } from "../client.js";
import { ApiError } from "../errors.js";
import {
  type AppFlags,
  type PageFlags,
  parseInteger,
  withAppOption,
  withClient,
  withClientOptions,
  withPageOptions,
} from "../options.js";
import { cell, printJson, printLine, printList } from "../output.js";
import { type AttemptOut, attemptColumns, attemptStatus, fetchList } from "../resources.js";

/** Where the attempts of `--msg`, `--endpoint`, both or neither are listed. */
function attemptsRoute(app: string, msg?: string, endpoint?: string): { path: string; query: Record<string, string> } {
  if (msg)
    return { path: apiPath("app", app, "attempt", "msg", msg), query: endpoint ? { endpoint_id: endpoint } : {} };
  if (endpoint) return { path: apiPath("app", app, "attempt", "endpoint", endpoint), query: {} };
  // hookline's extension: every attempt of the application, newest first.
  return { path: apiPath("app", app, "attempt"), query: {} };
}

/** `hookline attempts [list]`. */
export function attemptsCommand(): Command {
  const attempts = new Command("attempts").description("delivery attempts: list (the default)");
  const list = withPageOptions(
    withAppOption(
      withClientOptions(
        new Command("list")
          .description("list attempts, newest first: of the application, a message or an endpoint")
          .option("--msg <id>", "only attempts of this message")
          .option("--endpoint <id>", "only attempts to this endpoint"),
      ),
    ),
  );
  list.action((flags: AppFlags & PageFlags & { msg?: string; endpoint?: string }) =>
    withClient(flags, async (client) => {
      const route = attemptsRoute(flags.app, flags.msg, flags.endpoint);
      const page = await fetchList<AttemptOut>(client, route.path, flags, route.query);
      printList(page, attemptColumns, Boolean(flags.json), "attempts");
    }),
  );
  attempts.addCommand(list, { isDefault: true });
  return attempts;
}

/** `hookline resend <msgId> <endpointId> --app <id>`. */
export function resendCommand(): Command {
  return withAppOption(
    withClientOptions(
      new Command("resend")
        .description("send a message to an endpoint again now (a manual attempt)")
        .argument("<msgId>", "message id")
        .argument("<endpointId>", "endpoint id or uid"),
    ),
  ).action((msgId: string, endpointId: string, flags: AppFlags) =>
    withClient(flags, async (client) => {
      await client.post(apiPath("app", flags.app, "msg", msgId, "endpoint", endpointId, "resend"), {});
      if (flags.json) printJson({ msgId, endpointId, resent: true });
      else printLine(`resending ${msgId} to ${endpointId}`);
    }),
  );
}

/** Attempt ids remembered by `tail`; older ones are forgotten so memory stays bounded. */
const SEEN_LIMIT = 20_000;
/** Pages read per poll when more than a page of attempts arrived since the last one. */
const MAX_PAGES_PER_POLL = 20;
const PAGE_SIZE = 100;

/** `hookline tail --app <id>`: follows attempts as they happen until SIGINT. */
export function tailCommand(): Command {
  return withAppOption(
    withClientOptions(
      new Command("tail")
        .description("follow delivery attempts live (Ctrl-C to stop); --json prints one JSON object a line")
        .option("--endpoint <id>", "only attempts to this endpoint")
        .option("-n, --lines <n>", "print this many recent attempts first", parseInteger(0, 1000), 10)
        .option("--interval <ms>", "poll interval", parseInteger(50, 60_000), 1_000),
    ),
  ).action((flags: AppFlags & { endpoint?: string; lines: number; interval: number }) =>
    withClient(flags, (client) => tail(client, flags)),
  );
}

async function tail(
  client: ApiClient,
  flags: AppFlags & { endpoint?: string; lines: number; interval: number },
): Promise<void> {
  const route = attemptsRoute(flags.app, undefined, flags.endpoint);
  const seen = new Set<string>();
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let unreachable = false;
  try {
    // The first poll prints the last `--lines` attempts; every later one only what is new.
    let first = true;
    while (!controller.signal.aborted) {
      let fresh: AttemptOut[];
      try {
        fresh = await newAttempts(
          client,
          route,
          seen,
          first ? Math.max(flags.lines, 1) : PAGE_SIZE,
          first ? 1 : MAX_PAGES_PER_POLL,
        );
        if (unreachable) process.stderr.write("reconnected\n");
        unreachable = false;
      } catch (error) {
        // A restarting service is not the end of a tail; a refused request (401, 404) is.
        if (error instanceof ApiError) throw error;
        if (!unreachable) process.stderr.write(`${(error as Error).message}; retrying\n`);
        unreachable = true;
        fresh = [];
      }
      // Pages are newest first; print oldest first, like a log.
      fresh.reverse();
      for (const attempt of first ? fresh.slice(Math.max(0, fresh.length - flags.lines)) : fresh) {
        printAttempt(attempt, Boolean(flags.json));
      }
      remember(seen, fresh);
      if (!unreachable) first = false;
      await sleep(flags.interval, controller.signal);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** Attempts newer than the newest one already seen, newest first, reading at most `maxPages` pages. */
async function newAttempts(
  client: ApiClient,
  route: { path: string; query: Record<string, string> },
  seen: ReadonlySet<string>,
  limit: number,
  maxPages: number,
): Promise<AttemptOut[]> {
  const fresh: AttemptOut[] = [];
  let iterator: string | undefined;
  for (let pageNo = 0; pageNo < maxPages; pageNo++) {
    const page: ListResponse<AttemptOut> = await client.get(route.path, {
      query: { ...route.query, limit, iterator },
    });
    for (const attempt of page.data) {
      if (seen.has(attempt.id)) return fresh;
      fresh.push(attempt);
    }
    if (page.done || !page.iterator || page.data.length === 0) return fresh;
    iterator = page.iterator;
  }
  return fresh;
}

function remember(seen: Set<string>, attempts: readonly AttemptOut[]): void {
  for (const attempt of attempts) seen.add(attempt.id);
  let excess = seen.size - SEEN_LIMIT;
  for (const id of seen) {
    if (excess-- <= 0) break;
    seen.delete(id);
  }
}

function printAttempt(attempt: AttemptOut, json: boolean): void {
  if (json) {
    printLine(JSON.stringify(attempt));
    return;
  }
  const code = attempt.responseStatusCode ? String(attempt.responseStatusCode) : "-";
  printLine(
    [
      cell(attempt.timestamp),
      attemptStatus(attempt).padEnd(7),
      code.padStart(3),
      `${cell(attempt.responseDurationMs)}ms`.padStart(7),
      attempt.msgId,
      "->",
      attempt.endpointId,
      attempt.url ?? "",
    ]
      .join("  ")
      .trimEnd(),
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

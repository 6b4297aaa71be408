import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { Command, Option } from "commander";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { DEFAULTS } from "../../core/options.js";
import type { Hookline } from "../../delivery/hookline.js";
import { CliError, UsageError } from "../errors.js";
import { envFlag, parseInteger, parseList, parsePort } from "../options.js";
import { type KeySource, openStore, resolveKeySource, type StoreFlags, withStoreOptions } from "../store.js";
import { connectToParent, onParentGone, WORKER_ROLE_ENV, WorkerProcess } from "../worker-process.js";

const DAY_MS = 24 * 3_600_000;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

interface ServeFlags extends StoreFlags {
  port: number;
  host: string;
  /** A number from --workers, false from --no-workers, undefined otherwise. */
  workers?: number | false;
  perEndpoint?: number;
  api: boolean;
  allowPrivate?: boolean;
  adminToken?: string;
  leaseMs?: number;
  retrySchedule?: number[];
  bodyLimit?: number;
  portalOrigins?: string[];
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
  /** Requests per second per API key; 0 turns the limit off. */
  rateLimit?: number;
  rateLimitBurst?: number;
  processes: number;
  retentionDays: number;
  historyDays: number;
  shutdownTimeout: number;
  logLevel: string;
}

type BuildServer = typeof import("../../server/app.js")["buildServer"];

/** `hookline serve`: the HTTP API and the delivery workers over one store. */
export function serveCommand(): Command {
  return withStoreOptions(
    new Command("serve")
      .description("run the HTTP API (Svix-compatible) and the delivery workers")
      .addOption(
        new Option("--port <port>", "port of the API (0: any free port)")
          .env("HOOKLINE_PORT")
          .argParser(parsePort)
          .default(8080),
      )
      .addOption(new Option("--host <host>", "address of the API").env("HOOKLINE_HOST").default("127.0.0.1")),
  )
    .addOption(
      new Option("--workers <n>", "deliveries in flight at once in this process (default 64)")
        .env("HOOKLINE_WORKERS")
        .argParser(parseInteger(1, 10_000)),
    )
    .addOption(
      new Option("--per-endpoint <n>", "deliveries of one endpoint in flight at once, across every worker (default 10)")
        .env("HOOKLINE_PER_ENDPOINT")
        .argParser(parseInteger(1, 10_000)),
    )
    .option("--no-workers", "run the API only (env HOOKLINE_NO_WORKERS=1)")
    .option("--no-api", "run the delivery workers only (env HOOKLINE_NO_API=1)")
    .option(
      "--allow-private",
      "deliver to loopback and private addresses, for local testing (env HOOKLINE_ALLOW_PRIVATE=1)",
    )
    .addOption(
      new Option("--admin-token <token>", "use this admin API key (created when the store does not know it)").env(
        "HOOKLINE_ADMIN_TOKEN",
      ),
    )
    .addOption(
      new Option("--lease-ms <ms>", "how long a lease outlives a silent worker (default 9000)")
        .env("HOOKLINE_LEASE_MS")
        .argParser(parseInteger(100)),
    )
    .addOption(
      new Option("--retry-schedule <ms,...>", "delay before each attempt in ms, e.g. 0,5000,300000")
        .env("HOOKLINE_RETRY_SCHEDULE")
        .argParser((value) => parseList(value).map((item) => parseInteger(0)(item))),
    )
    .addOption(
      new Option("--body-limit <bytes>", "largest accepted request body (default 1 MiB)")
        .env("HOOKLINE_BODY_LIMIT")
        .argParser(parseInteger(1)),
    )
    .addOption(
      new Option("--portal-origins <origins>", "origins allowed to embed the UI in a frame, comma-separated")
        .env("HOOKLINE_PORTAL_ORIGINS")
        .argParser(parseList),
    )
    .addOption(
      new Option("--headers-timeout-ms <ms>", "time a client gets to send a request's headers (default 10000)")
        .env("HOOKLINE_HEADERS_TIMEOUT_MS")
        .argParser(parseInteger(1)),
    )
    .addOption(
      new Option("--request-timeout-ms <ms>", "time a client gets to send a whole request (default 30000)")
        .env("HOOKLINE_REQUEST_TIMEOUT_MS")
        .argParser(parseInteger(1)),
    )
    .addOption(
      new Option("--max-connections <n>", "connections open at once; more are closed (default 1000)")
        .env("HOOKLINE_MAX_CONNECTIONS")
        .argParser(parseInteger(1)),
    )
    .addOption(
      new Option("--rate-limit <n>", "requests per second per API key, 0 for no limit (default 1000)")
        .env("HOOKLINE_RATE_LIMIT")
        .argParser(parseInteger(0)),
    )
    .addOption(
      new Option("--rate-limit-burst <n>", "requests per API key allowed at once (default 2 × --rate-limit)")
        .env("HOOKLINE_RATE_LIMIT_BURST")
        .argParser(parseInteger(1)),
    )
    .addOption(
      new Option(
        "--retention-days <days>",
        "expunge the payloads of messages delivered (or given up on) this many days ago; 0 keeps them",
      )
        .env("HOOKLINE_RETENTION_DAYS")
        .argParser(parseInteger(0, 36_500))
        .default(DEFAULTS.serveRetentionDays),
    )
    .addOption(
      new Option(
        "--history-days <days>",
        "delete finished messages with their deliveries and attempts after this many days; 0 keeps them",
      )
        .env("HOOKLINE_HISTORY_DAYS")
        .argParser(parseInteger(0, 36_500))
        .default(DEFAULTS.serveHistoryDays),
    )
    .addOption(
      new Option(
        "--processes <n>",
        "1: API and workers in this process; 2: the workers in a second process, so each gets a core (default 2 with two or more cores)",
      )
        .env("HOOKLINE_PROCESSES")
        .argParser(parseInteger(1, 2))
        .default(availableParallelism() >= 2 ? 2 : 1),
    )
    .addOption(
      new Option("--shutdown-timeout <ms>", "time attempts in flight get to finish on SIGTERM")
        .env("HOOKLINE_SHUTDOWN_TIMEOUT")
        .argParser(parseInteger(0))
        .default(10_000),
    )
    .addOption(
      new Option("--log-level <level>", "log level").env("HOOKLINE_LOG_LEVEL").choices(LOG_LEVELS).default("info"),
    )
    .addHelpText(
      "after",
      `
Logs are JSON lines on stdout (readable when stdout is a terminal). On first
start an admin API key is created and printed once; it is stored as a hash.
SIGTERM or SIGINT stops gracefully: the API stops accepting, attempts in
flight get --shutdown-timeout ms, the rest are given back for the next start.`,
    )
    .action(async (flags: ServeFlags, command: Command) => {
      if (command.getOptionValueSource("workers") !== "cli" && envFlag("HOOKLINE_NO_WORKERS")) flags.workers = false;
      if (command.getOptionValueSource("api") !== "cli" && envFlag("HOOKLINE_NO_API")) flags.api = false;
      if (envFlag("HOOKLINE_ALLOW_PRIVATE")) flags.allowPrivate = true;
      if (flags.db && flags.pg) throw new UsageError("give --db or --pg, not both");
      if (flags.rateLimit === 0 && flags.rateLimitBurst !== undefined) {
        throw new UsageError("--rate-limit-burst needs a --rate-limit above 0");
      }
      if (!flags.api && flags.workers === false)
        throw new UsageError("--no-api with --no-workers leaves nothing to run");
      await serve(flags);
    });
}

async function createLogger(level: string, role?: "api" | "workers"): Promise<Logger> {
  const { pino } = await import("pino");
  const options = {
    level,
    base: { service: "hookline", ...(role && { process: role }) },
    // Belt and braces: the server never logs these, and nor may anything else.
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "headers.authorization",
        "token",
        "secret",
        "*.token",
        "*.secret",
        "*.key",
      ],
      censor: "[redacted]",
    },
  };
  if (!process.stdout.isTTY) return pino(options);
  const { default: pretty } = await import("pino-pretty");
  return pino(options, pretty({ colorize: !process.env.NO_COLOR, ignore: "pid,hostname,service", sync: true }));
}

/** Logs where the keys of secrets at rest come from, and what an operator should know about it. */
function logKeySource(keys: KeySource, logger: Logger): void {
  if (keys.kind === "file" && keys.created) {
    logger.warn(
      { keyFile: keys.path },
      `created an encryption key for endpoint secrets and headers in ${keys.path} (readable by its owner only). ` +
        "In production keep the key apart from the database (HOOKLINE_ENCRYPTION_KEY or --encryption-key-file): " +
        "a backup that holds both holds every secret in clear",
    );
  } else if (keys.kind === "none") {
    logger.warn(
      "no encryption key: endpoint secrets and headers are stored in clear. Give every process the same " +
        "HOOKLINE_ENCRYPTION_KEY (base64 of 32 bytes; `openssl rand -base64 32`) or --encryption-key-file",
    );
  }
}

/**
 * Makes sure an admin key exists. With `--admin-token`, that token is one
 * (registered if the store does not know it); else on first start a key is
 * created and printed once on stdout — never through the logger.
 */
async function ensureAdminKey(hookline: Hookline, adminToken: string | undefined, logger: Logger): Promise<void> {
  if (adminToken !== undefined) {
    if (adminToken.length < 16 || adminToken.length > 512 || /\s/.test(adminToken)) {
      throw new UsageError("--admin-token must be 16 to 512 characters without spaces");
    }
    const key = await hookline.apiKeys.verify(adminToken);
    if (key === null) {
      await hookline.apiKeys.create({ appId: null, name: "admin", token: adminToken });
      logger.info("registered the admin API key given by --admin-token");
    } else if (key.appId !== null) {
      throw new CliError(`--admin-token is an API key of app ${key.appId}, not an admin key`);
    }
    return;
  }
  if (await hookline.apiKeys.hasAdminKey()) return;
  const { token } = await hookline.apiKeys.create({ appId: null, name: "admin" });
  process.stdout.write(
    "Created an admin API key. It is shown only this once (hookline keeps only its hash):\n" +
      `admin API key: ${token}\n` +
      "Use it as HOOKLINE_TOKEN for the CLI, or as the token of a Svix client.\n",
  );
  logger.info("created the admin API key (printed once on stdout)");
}

async function serve(flags: ServeFlags): Promise<void> {
  // Listen for signals before anything is announced: whoever reads "listening" may stop us at once.
  // The listeners stay: a second signal, while shutting down, exits at once.
  // The process `serve` starts for its workers runs this same command with the role set.
  const isWorkerProcess = process.env[WORKER_ROLE_ENV] === "workers";
  let signals = 0;
  let requestStop: (reason: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals === 1) return resolve(signal);
      process.stderr.write(`${signal} again: exiting without waiting for attempts in flight\n`);
      process.exit(1);
    };
    process.on("SIGTERM", onSignal);
    // Ctrl-C reaches the whole process group: the workers' process leaves it to the service's,
    // which stops the API first and then asks the workers to finish (SIGTERM).
    process.on("SIGINT", isWorkerProcess ? () => {} : onSignal);
  });
  if (isWorkerProcess) {
    flags.api = false;
    // Watched from the start: the service's process may die (even by SIGKILL) while this one starts.
    onParentGone(() => requestStop("the service's main process is gone"));
  }
  const split = !isWorkerProcess && flags.api && flags.workers !== false && flags.processes > 1;
  const logger = await createLogger(flags.logLevel, isWorkerProcess ? "workers" : split ? "api" : undefined);
  const { createHookline } = await import("../../delivery/hookline.js");
  const keys = resolveKeySource(flags, { createDefault: true });
  logKeySource(keys, logger);
  const { store, where } = await openStore(flags, keys);
  let hookline: Hookline;
  try {
    hookline = await createHookline({
      store,
      ...(flags.allowPrivate && { allowPrivateNetworks: true }),
      ...(typeof flags.workers === "number" && { concurrency: flags.workers }),
      ...(flags.perEndpoint !== undefined && { perEndpointConcurrency: flags.perEndpoint }),
      ...(flags.leaseMs !== undefined && { leaseMs: flags.leaseMs }),
      ...(flags.retrySchedule !== undefined && { retrySchedule: flags.retrySchedule }),
      retention: {
        payloadMs: flags.retentionDays === 0 ? null : flags.retentionDays * DAY_MS,
        historyMs: flags.historyDays === 0 ? null : flags.historyDays * DAY_MS,
      },
    });
  } catch (error) {
    await store.close().catch(() => {});
    throw new CliError(`cannot open the store (${where}): ${(error as Error).message}`, 1, { cause: error });
  }
  hookline.on("error", (error) => logger.error({ err: error }, "delivery worker error"));
  if (isWorkerProcess) {
    // The API's process logs and counts this process's events.
    connectToParent(hookline);
  } else {
    logEngineEvents(hookline, logger);
  }

  let server: FastifyInstance | null = null;
  let workerProcess: WorkerProcess | null = null;
  try {
    if (flags.api) {
      await ensureAdminKey(hookline, flags.adminToken || undefined, logger);
      const buildServer = await loadBuildServer();
      server = await buildServer({
        hookline,
        logger,
        ...(flags.bodyLimit !== undefined && { bodyLimitBytes: flags.bodyLimit }),
        ...(flags.portalOrigins !== undefined && { portalOrigins: flags.portalOrigins }),
        ...(flags.headersTimeoutMs !== undefined && { headersTimeoutMs: flags.headersTimeoutMs }),
        ...(flags.requestTimeoutMs !== undefined && { requestTimeoutMs: flags.requestTimeoutMs }),
        ...(flags.maxConnections !== undefined && { maxConnections: flags.maxConnections }),
        ...rateLimitOption(flags),
      });
      try {
        await server.listen({ host: flags.host, port: flags.port });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new CliError(`cannot listen on ${flags.host}:${flags.port}: ${code}`, 1, { cause: error });
      }
    }
    if (split) {
      workerProcess = new WorkerProcess(hookline, logger, (error) => {
        logger.fatal({ err: error }, "giving up on the delivery workers");
        requestStop("the delivery workers keep failing");
      });
      workerProcess.start();
    } else if (flags.workers !== false) {
      await hookline.start();
    }
  } catch (error) {
    await server?.close().catch(() => {});
    await hookline.close({ timeoutMs: 1_000 }).catch(() => {});
    throw error;
  }

  const workers = flags.workers === false ? "off" : split ? `in process ${workerProcess?.pid}` : "on";
  if (server) {
    const address = server.server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    logger.info({ url, store: where, workers }, `hookline listening on ${url}`);
  } else {
    logger.info({ store: where, workers }, "hookline delivery workers running (no API)");
  }

  const signal = await stopRequested;
  logger.info({ signal }, "shutting down");
  try {
    await server?.close();
    await workerProcess?.stop(flags.shutdownTimeout);
    // Orphaned workers stop at once: nobody is left to hand their results to.
    await hookline.close({ timeoutMs: isWorkerProcess && !process.connected ? 1_000 : flags.shutdownTimeout });
  } catch (error) {
    logger.error({ err: error }, "shutdown failed");
    process.exit(1);
  }
  logger.info("stopped");
  process.exit(0);
}

/** Logs what operators act on: exhausted deliveries, failing and disabled endpoints, retention passes. */
function logEngineEvents(hookline: Hookline, logger: Logger): void {
  hookline.on("delivery:exhausted", (e) =>
    logger.warn(
      { deliveryId: e.deliveryId, messageId: e.messageId, endpointId: e.endpointId, appId: e.appId },
      "delivery failed after its last attempt",
    ),
  );
  hookline.on("retention:purged", (r) =>
    logger.info(
      { expunged: r.expunged, deleted: r.deleted, batches: r.batches, longestBatchMs: Math.round(r.longestBatchMs) },
      "retention: expunged payloads and deleted history",
    ),
  );
  hookline.on("endpoint:failing", (e) => logger.warn({ endpointId: e.endpointId }, "endpoint started failing"));
  hookline.on("endpoint:disabled", (e) =>
    logger.warn({ endpointId: e.endpointId, reason: e.reason }, "endpoint disabled"),
  );
}

/** `--rate-limit` and `--rate-limit-burst` as the server's `rateLimit` option; nothing when neither is given. */
function rateLimitOption(flags: ServeFlags): { rateLimit?: false | { perSecond: number; burst?: number } } {
  if (flags.rateLimit === 0) return { rateLimit: false };
  if (flags.rateLimit === undefined && flags.rateLimitBurst === undefined) return {};
  const perSecond = flags.rateLimit ?? DEFAULTS.rateLimitPerSecond;
  return { rateLimit: { perSecond, burst: flags.rateLimitBurst ?? perSecond * 2 } };
}

async function loadBuildServer(): Promise<BuildServer> {
  // Loaded lazily: `verify`, `listen` and the client commands never load fastify.
  const { buildServer } = await import("../../server/app.js");
  return buildServer;
}

/**
 * Helpers of the CLI tests: build dist/ once (across test files running in
 * parallel), spawn the built `hookline` binary, wait on its output, and kill
 * whatever is left after each test.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll } from "vitest";

export const ROOT = resolve(import.meta.dirname, "..");
export const CLI = join(ROOT, "dist", "cli", "main.js");

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const isFresh = () => existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtimeMs(join(ROOT, "src"));

/**
 * Builds dist/ when it is older than src/ (`npm test` has built it already).
 * A lock directory keeps test files running in parallel from building at the
 * same time. Type errors elsewhere do not stop the build (tsc still emits);
 * `npm run lint` is where they fail.
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(tmpdir(), `hookline-cli-build-${Buffer.from(ROOT).toString("hex").slice(-32)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (isFresh()) return;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Somebody else is building; a lock older than 2 minutes belongs to a dead process.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error("timed out waiting for another test file to build dist/");
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (isFresh()) return;
    await new Promise<void>((resolveBuild) => {
      execFile(
        process.execPath,
        [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
        { cwd: ROOT },
        () => resolveBuild(),
      );
    });
    if (!existsSync(CLI)) throw new Error("the build did not produce dist/cli/main.js");
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The environment of a child: ours without HOOKLINE_* (a developer's settings must not leak in). */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("HOOKLINE_")) env[name] = value;
  return { ...env, NO_COLOR: "1", ...extra };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `hookline …` to completion (killed after `timeoutMs`). */
export function runCli(
  args: string[],
  options: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: childEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** A long-running `hookline …` (serve, listen, tail). */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout + stderr; rejects on timeout or exit. */
  waitFor(pattern: RegExp, timeoutMs?: number, stream?: "stdout" | "stderr" | "both"): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Map<CliProcess, { persistent: boolean }>();

/**
 * Spawns `hookline …`. `killAll()` (afterEach) ends it unless `persistent`
 * (started in a beforeAll); `killAll({ all: true })` (afterAll) ends that too.
 */
export function startCli(
  args: string[],
  env: Record<string, string> = {},
  options: { persistent?: boolean } = {},
): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    notify();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
    notify();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on("close", (code, signal) => {
      done = true;
      notify();
      resolveExit({ code, signal });
    }),
  );
  const proc: CliProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 15_000, stream = "both") {
      return new Promise((resolveWait, reject) => {
        const text = () => (stream === "stdout" ? out : stream === "stderr" ? err : `${out}\n${err}`);
        const check = () => {
          const match = text().match(pattern);
          if (match) finish(() => resolveWait(match));
          else if (done) finish(() => reject(new Error(`exited before printing ${pattern}:\n${out}\n${err}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timed out waiting for ${pattern}:\n${out}\n${err}`))),
          timeoutMs,
        );
        const finish = (then: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          then();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (!done) child.kill(signal);
      return exited;
    },
  };
  running.set(proc, { persistent: options.persistent ?? false });
  void exited.then(() => running.delete(proc));
  return proc;
}

/** SIGKILLs the children still running: those of the test (afterEach), or all (afterAll). */
export async function killAll(options: { all?: boolean } = {}): Promise<void> {
  const all = [...running].filter(([, o]) => options.all || !o.persistent).map(([p]) => p);
  for (const proc of all) proc.child.kill("SIGKILL");
  await Promise.all(all.map((p) => p.exited));
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Standard Webhooks `v1` signature computed with node:crypto only (not hookline's signer). */
export function signV1(secret: string, msgId: string, timestampSeconds: number, body: string | Buffer): string {
  const key = secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret, "utf8");
  const content = Buffer.concat([Buffer.from(`${msgId}.${timestampSeconds}.`), Buffer.from(body)]);
  return `v1,${createHmac("sha256", key).update(content).digest("base64")}`;
}

/** A fresh `whsec_` secret made with node:crypto. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

const tempDirs: string[] = [];
// Registered on the importing test file: its temp directories go when it ends.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory under the system's temp dir, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export interface ServeProcess {
  proc: CliProcess;
  /** Where the API listens, e.g. http://127.0.0.1:41234. */
  url: string;
  /** The admin key printed on first start, if this start created one. */
  adminToken: string | undefined;
}

/** Starts `hookline serve --allow-private` (port 0 unless given) and waits until it listens. */
export async function startServe(
  args: string[],
  options: { env?: Record<string, string>; persistent?: boolean } = {},
): Promise<ServeProcess> {
  const portGiven = args.includes("--port");
  const proc = startCli(
    ["serve", ...(portGiven ? [] : ["--port", "0"]), "--allow-private", ...args],
    options.env ?? {},
    options.persistent ? { persistent: true } : {},
  );
  const [, url] = await proc.waitFor(/"msg":"hookline listening on (http:\/\/[^"]+)"/, 30_000, "stdout");
  const adminToken = proc.stdout().match(/^admin API key: (\S+)$/m)?.[1];
  return { proc, url: url ?? "", adminToken };
}

/** Runs a client command against a service and parses its `--json` output (exit 0 expected). */
export async function cliJson<T = Record<string, unknown>>(
  service: { url: string; token: string },
  args: string[],
  input?: string,
): Promise<T> {
  const result = await runCli([...args, "--json"], {
    env: { HOOKLINE_URL: service.url, HOOKLINE_TOKEN: service.token },
    ...(input !== undefined && { input }),
  });
  if (result.code !== 0) {
    throw new Error(`hookline ${args.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return JSON.parse(result.stdout) as T;
}

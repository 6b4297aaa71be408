import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the process printed "ready". */
  ready: Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
}

/**
 * Starts test/fixtures/delivery-worker.ts in its own Node process with the given environment. With
 * `ownPidNamespace`, the process runs in a PID namespace of its own (`unshare`, root only), so to the
 * other workers it is as if it ran on another machine: its PID means nothing to them.
 */
export function spawnDeliveryWorker(
  env: Record<string, string>,
  options: { ownPidNamespace?: boolean } = {},
): WorkerProcess {
  const node = [process.execPath, "--import", "tsx", "test/fixtures/delivery-worker.ts"];
  // --kill-child: a SIGKILL of unshare reaches the worker too (it is the namespace's init).
  const command = options.ownPidNamespace
    ? ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", ...node]
    : node;
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const ready = new Promise<void>((resolveReady, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ready\n")) resolveReady();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("exit", () => reject(new Error(`worker exited before it was ready:\n${output}`)));
  });
  ready.catch(() => {});
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
  return { child, ready, exited, output: () => output };
}

/** Resolves once `predicate` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when this machine lets a test start a process in a PID namespace of its own (root with `unshare`). */
export function canUsePidNamespaces(): boolean {
  return spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"], { stdio: "ignore" }).status === 0;
}

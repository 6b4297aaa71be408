import { readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { WorkerRecord } from "../store/store.js";

/**
 * Worker liveness: which registered workers are dead, so their leases can be
 * taken over at once instead of when they expire.
 *
 * A worker is known dead when it ran on this host — same machine, same PID
 * namespace, so its PID means the same thing here — and no process with its
 * PID exists any more (a SIGKILLed predecessor, found by the process that
 * replaced it). Anywhere else, a worker is dead once its last heartbeat is a
 * whole lease old: its leases have expired by then, and handing them back
 * also forgets the worker.
 */

function pidNamespace(): string {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return ""; // not Linux: one PID space per host
  }
}

/** This process's host as workers record it: the host name, plus the PID namespace where there is one. */
export const THIS_HOST = [hostname(), pidNamespace()].filter((part) => part !== "").join(" ");

/** Workers running in this process: a recorded PID equal to ours is alive only if it is one of them. */
const workersInThisProcess = new Set<string>();

export function registerLocalWorker(id: string): void {
  workersInThisProcess.add(id);
}

export function unregisterLocalWorker(id: string): void {
  workersInThisProcess.delete(id);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The workers among `workers` whose leases may be taken over now. */
export function deadWorkers(
  workers: readonly WorkerRecord[],
  nowMs: number,
  leaseMs: number,
  host = THIS_HOST,
): WorkerRecord[] {
  return workers.filter((worker) => {
    if (workersInThisProcess.has(worker.id)) return false;
    if (worker.host === host) {
      if (worker.pid === process.pid) return true; // our PID, but not one of our workers: a predecessor's
      if (!processExists(worker.pid)) return true;
    }
    return nowMs - worker.heartbeatAt >= leaseMs;
  });
}

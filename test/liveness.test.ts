import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { deadWorkers, registerLocalWorker, THIS_HOST, unregisterLocalWorker } from "../src/delivery/liveness.js";
import type { WorkerRecord } from "../src/store/store.js";

const NOW = Date.UTC(2026, 0, 1);
const LEASE_MS = 9_000;

function worker(id: string, overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return { id, host: THIS_HOST, pid: process.pid, startedAt: NOW - 60_000, heartbeatAt: NOW, ...overrides };
}

const ids = (workers: WorkerRecord[]) => workers.map((w) => w.id);

describe("deadWorkers", () => {
  it("on this host, a worker whose process is gone is dead at once, one whose process runs is not", async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const record = worker("wrk_child", { pid: child.pid as number });
      expect(deadWorkers([record], NOW, LEASE_MS)).toEqual([]);
      child.kill("SIGKILL");
      await exited;
      expect(ids(deadWorkers([record], NOW, LEASE_MS))).toEqual(["wrk_child"]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("our own PID is alive only for the workers this process runs", () => {
    registerLocalWorker("wrk_here");
    try {
      const records = [worker("wrk_here"), worker("wrk_predecessor")];
      expect(ids(deadWorkers(records, NOW, LEASE_MS))).toEqual(["wrk_predecessor"]);
    } finally {
      unregisterLocalWorker("wrk_here");
    }
    expect(ids(deadWorkers([worker("wrk_here")], NOW, LEASE_MS))).toEqual(["wrk_here"]);
  });

  it("elsewhere, a worker is dead once its last heartbeat is a whole lease old", () => {
    const elsewhere = { host: "another-machine", pid: process.pid };
    const records = [
      worker("wrk_fresh", { ...elsewhere, heartbeatAt: NOW - LEASE_MS + 1 }),
      worker("wrk_silent", { ...elsewhere, heartbeatAt: NOW - LEASE_MS }),
    ];
    expect(ids(deadWorkers(records, NOW, LEASE_MS))).toEqual(["wrk_silent"]);
  });

  it("on this host, a live process with a silent worker is dead after a lease too (a stalled or reused PID)", () => {
    registerLocalWorker("wrk_here");
    try {
      expect(deadWorkers([worker("wrk_here", { heartbeatAt: NOW - LEASE_MS })], NOW, LEASE_MS)).toEqual([]);
    } finally {
      unregisterLocalWorker("wrk_here");
    }
    const stalled = worker("wrk_other", { pid: process.ppid, heartbeatAt: NOW - LEASE_MS });
    expect(ids(deadWorkers([stalled], NOW, LEASE_MS))).toEqual(["wrk_other"]);
    expect(deadWorkers([{ ...stalled, heartbeatAt: NOW - 1 }], NOW, LEASE_MS)).toEqual([]);
  });
});

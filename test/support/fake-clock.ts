import type { Clock } from "../../src/index.js";

/**
 * A clock whose time only moves when something sleeps on it or the test
 * advances it. `sleeps` records every requested wait, in order.
 */
export class FakeClock implements Clock {
  nowMs: number;
  readonly sleeps: number[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.nowMs += ms;
  }
}

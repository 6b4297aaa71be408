import { describe, expect, test } from "vitest";
import {
  applyRetryAfter,
  ConfigurationError,
  DEFAULTS,
  exponentialRetry,
  linearRetry,
  parseRetryAfterMs,
  scheduledRetry,
} from "../src/index.js";

describe("linearRetry", () => {
  test("waits retryDelayMs × n before the n-th retry", () => {
    const policy = linearRetry({ maxRetries: 3, retryDelayMs: 1000 });
    expect(policy.maxAttempts).toBe(4);
    expect([1, 2, 3, 4, 5].map((n) => policy.delayBeforeAttemptMs(n))).toEqual([null, 1000, 2000, 3000, null]);
  });

  test("zero retries means one attempt", () => {
    expect(linearRetry({ maxRetries: 0, retryDelayMs: 5 }).delayBeforeAttemptMs(2)).toBeNull();
  });
});

describe("exponentialRetry", () => {
  test("full jitter spans [0, min(max, base × 2^(n−1)))", () => {
    const policy = exponentialRetry({ maxRetries: 6, baseDelayMs: 100, maxDelayMs: 1000 });
    expect(policy.delayBeforeAttemptMs(2, () => 0.999999)).toBe(99);
    expect(policy.delayBeforeAttemptMs(3, () => 0.5)).toBe(100);
    expect(policy.delayBeforeAttemptMs(4, () => 0.5)).toBe(200);
    expect(policy.delayBeforeAttemptMs(7, () => 0.5)).toBe(500); // capped at 1000
    expect(policy.delayBeforeAttemptMs(5, () => 0)).toBe(0);
    expect(policy.delayBeforeAttemptMs(8, () => 0.5)).toBeNull();
  });
});

describe("scheduledRetry", () => {
  test("the engine default: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h", () => {
    const policy = scheduledRetry({ jitterRatio: 0 });
    const hour = 3_600_000;
    expect(policy.maxAttempts).toBe(10);
    const delays = Array.from({ length: 10 }, (_, i) => policy.delayBeforeAttemptMs(i + 2));
    expect(delays).toEqual([
      5000,
      300_000,
      1_800_000,
      2 * hour,
      5 * hour,
      10 * hour,
      14 * hour,
      20 * hour,
      24 * hour,
      null,
    ]);
    expect(DEFAULTS.retryJitterRatio).toBe(0.2);
  });

  test("jitter stays within ±20 %", () => {
    const policy = scheduledRetry();
    expect(policy.delayBeforeAttemptMs(2, () => 0)).toBe(4000);
    expect(policy.delayBeforeAttemptMs(2, () => 1)).toBe(6000);
    expect(policy.delayBeforeAttemptMs(2, () => 0.5)).toBe(5000);
  });

  test("rejects bad schedules", () => {
    expect(() => scheduledRetry({ scheduleMs: [] })).toThrow(ConfigurationError);
    expect(() => scheduledRetry({ scheduleMs: [0, -1] })).toThrow(/scheduleMs\[1\]/);
    expect(() => scheduledRetry({ jitterRatio: 1.5 })).toThrow(/jitterRatio/);
  });
});

describe("Retry-After", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  test("parses delta-seconds and HTTP dates", () => {
    expect(parseRetryAfterMs("120", now)).toBe(120_000);
    expect(parseRetryAfterMs(" 0 ", now)).toBe(0);
    expect(parseRetryAfterMs("Thu, 01 Jan 2026 12:01:30 GMT", now)).toBe(90_000);
    expect(parseRetryAfterMs("Thu, 01 Jan 2026 11:00:00 GMT", now)).toBe(0);
  });

  test("ignores absent or malformed values", () => {
    for (const value of [undefined, null, "", "soon", "-5", "1.5", "9".repeat(100)]) {
      expect(parseRetryAfterMs(value, now)).toBeNull();
    }
  });

  test("is honoured within bounds", () => {
    expect(applyRetryAfter(5000, null)).toBe(5000);
    expect(applyRetryAfter(5000, 60_000)).toBe(60_000);
    expect(applyRetryAfter(5000, 1000)).toBe(5000);
    expect(applyRetryAfter(5000, 10 * 86_400_000, 3_600_000)).toBe(3_600_000);
  });
});

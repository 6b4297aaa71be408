import { ConfigurationError } from "../core/errors.js";
import { requireInteger } from "../core/models.js";
import { DEFAULTS } from "../core/options.js";

/**
 * When to try again. `maxAttempts` counts the first attempt;
 * `delayBeforeAttemptMs(n)` is the wait between attempt n−1 failing and
 * attempt n (n ≥ 2), or null once no attempt remains. Pure: randomness comes
 * in as a parameter.
 */
export interface RetryPolicy {
  readonly maxAttempts: number;
  delayBeforeAttemptMs(attemptNumber: number, random?: () => number): number | null;
}

/**
 * The seed's linear backoff: the n-th retry waits `retryDelayMs × n`.
 *
 * @example
 * linearRetry({ maxRetries: 3, retryDelayMs: 1000 }).delayBeforeAttemptMs(3); // 2000 (second retry)
 */
export function linearRetry(options: { maxRetries: number; retryDelayMs: number }): RetryPolicy {
  requireInteger("maxRetries", options.maxRetries, 0);
  requireInteger("retryDelayMs", options.retryDelayMs, 0);
  const { maxRetries, retryDelayMs } = options;
  return {
    maxAttempts: maxRetries + 1,
    delayBeforeAttemptMs(attemptNumber) {
      if (attemptNumber < 2 || attemptNumber > maxRetries + 1) return null;
      return retryDelayMs * (attemptNumber - 1);
    },
  };
}

/**
 * Exponential backoff with full jitter: the n-th retry waits a uniformly
 * random time in [0, min(maxDelayMs, baseDelayMs × 2^(n−1))).
 */
export function exponentialRetry(options: {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}): RetryPolicy {
  requireInteger("maxRetries", options.maxRetries, 0);
  requireInteger("baseDelayMs", options.baseDelayMs, 0);
  requireInteger("maxDelayMs", options.maxDelayMs, 0);
  const { maxRetries, baseDelayMs, maxDelayMs } = options;
  return {
    maxAttempts: maxRetries + 1,
    delayBeforeAttemptMs(attemptNumber, random = Math.random) {
      if (attemptNumber < 2 || attemptNumber > maxRetries + 1) return null;
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attemptNumber - 2));
      return Math.floor(random() * ceiling);
    },
  };
}

/**
 * An explicit schedule: `scheduleMs[i]` is the delay before attempt i+1, so
 * the first entry (normally 0) is the first attempt. Each delay is spread by
 * up to ± `jitterRatio`. The default is the engine's: immediately, 5 s,
 * 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, ±20 %.
 */
export function scheduledRetry(options: { scheduleMs?: readonly number[]; jitterRatio?: number } = {}): RetryPolicy {
  const scheduleMs = [...(options.scheduleMs ?? DEFAULTS.retryScheduleMs)];
  const jitterRatio = options.jitterRatio ?? DEFAULTS.retryJitterRatio;
  if (scheduleMs.length === 0) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "a retry schedule needs at least one entry");
  }
  for (const [index, delay] of scheduleMs.entries()) requireInteger(`scheduleMs[${index}]`, delay, 0);
  if (typeof jitterRatio !== "number" || !(jitterRatio >= 0 && jitterRatio < 1)) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "jitterRatio must be in [0, 1)");
  }
  return {
    maxAttempts: scheduleMs.length,
    delayBeforeAttemptMs(attemptNumber, random = Math.random) {
      const base = scheduleMs[attemptNumber - 1];
      if (attemptNumber < 2 || base === undefined) return null;
      return Math.round(base * (1 + jitterRatio * (2 * random() - 1)));
    },
  };
}

// IMF-fixdate, the HTTP date form servers send: "Sun, 06 Nov 1994 08:49:37 GMT".
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A `Retry-After` header value in milliseconds from now: delta-seconds or an
 * HTTP date. Null when absent or unparsable; a date in the past gives 0.
 */
export function parseRetryAfterMs(value: string | undefined | null, nowMs: number): number | null {
  if (value === undefined || value === null) return null;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!HTTP_DATE.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/**
 * The wait before the next attempt when the receiver asked for one: never
 * sooner than the policy's delay, never later than `maxRetryAfterMs`.
 */
export function applyRetryAfter(
  delayMs: number,
  retryAfterMs: number | null,
  maxRetryAfterMs: number = DEFAULTS.maxRetryAfterMs,
): number {
  if (retryAfterMs === null) return delayMs;
  return Math.max(delayMs, Math.min(retryAfterMs, maxRetryAfterMs));
}

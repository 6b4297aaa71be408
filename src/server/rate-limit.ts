import type { FastifyReply, FastifyRequest } from "fastify";
import { ConfigurationError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import { ApiError } from "./errors.js";
import { stateOf } from "./state.js";

/** Requests per API key: a steady rate and the burst allowed on top of it. */
export interface RateLimitOptions {
  /** Tokens added per second (the sustained request rate). */
  perSecond: number;
  /** Size of the bucket: requests allowed at once after a quiet spell (default 2 × perSecond). */
  burst?: number;
  /** Keys tracked at once; the least recently seen is forgotten beyond this (default 10,000). */
  maxKeys?: number;
}

/** The outcome of one {@link RateLimiter.take}: allowed, or how long to wait. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

const DEFAULT_MAX_KEYS = 10_000;

/**
 * A token bucket per key, in memory. Buckets live in a Map kept in
 * least-recently-used order: a bucket idle long enough to have refilled is
 * the same as no bucket, so such buckets are dropped as they reach the front,
 * and beyond `maxKeys` the least recently seen key is forgotten. The map
 * therefore never holds more than `maxKeys` entries, whatever the callers do.
 */
export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  /** Time an empty bucket takes to fill up. */
  private readonly refillMs: number;

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    const { perSecond } = options;
    const burst = options.burst ?? perSecond * 2;
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!(Number.isFinite(perSecond) && perSecond > 0)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "rateLimit.perSecond must be a positive number");
    }
    if (!(Number.isFinite(burst) && burst >= 1)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "rateLimit.burst must be at least 1");
    }
    if (!(Number.isInteger(maxKeys) && maxKeys >= 1)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "rateLimit.maxKeys must be a positive integer");
    }
    this.perSecond = perSecond;
    this.burst = burst;
    this.maxKeys = maxKeys;
    this.now = now;
    this.refillMs = (burst / perSecond) * 1000;
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from `key`'s bucket. */
  take(key: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updatedMs: now };
    const elapsedMs = Math.max(0, now - bucket.updatedMs);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs / 1000) * this.perSecond);
    bucket.updatedMs = now;
    // Re-inserted so the map stays in least-recently-used order.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    this.evict(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    const waitSeconds = (1 - bucket.tokens) / this.perSecond;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)) };
  }

  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const refilled = now - bucket.updatedMs >= this.refillMs;
      if (!refilled && this.buckets.size <= this.maxKeys) return;
      this.buckets.delete(key);
    }
  }
}

/** The limiter `option` asks for: the defaults when undefined, none when false. */
export function createRateLimiter(option: RateLimitOptions | false | undefined): RateLimiter | null {
  if (option === false) return null;
  return new RateLimiter(option ?? { perSecond: DEFAULTS.rateLimitPerSecond, burst: DEFAULTS.rateLimitBurst });
}

/**
 * A fastify `preParsing` hook: after the route's own `onRequest` has
 * authenticated the caller, each request takes a token of its API key; with
 * none left the answer is 429 `rate_limit_exceeded` with `Retry-After`
 * (seconds), before the body is read. Requests without a key (health,
 * metrics, the UI, and those refused with 401) are not counted.
 */
export function rateLimitHook(limiter: RateLimiter) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const key = stateOf(request).apiKey;
    if (key === undefined) return payload;
    const decision = limiter.take(key.id);
    if (decision.allowed) return payload;
    reply.header("retry-after", String(decision.retryAfterSeconds));
    throw new ApiError(
      429,
      "rate_limit_exceeded",
      `too many requests for this API key; retry after ${decision.retryAfterSeconds} s`,
    );
  };
}

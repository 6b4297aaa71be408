import { SignatureAlgorithm } from "./enums.js";

/**
 * Every default hookline uses, in one place. Durations are milliseconds unless
 * the name says otherwise.
 */
export const DEFAULTS = {
  /** WebhookConfig: retries after the first attempt. */
  maxRetries: 3,
  /** WebhookConfig: linear backoff step; the n-th retry waits n times this. */
  retryDelayMs: 1_000,
  /** WebhookConfig: time allowed for one attempt (connect, headers and body). */
  timeoutMs: 30_000,
  signatureAlgorithm: SignatureAlgorithm.HMAC_SHA256,
  /** Standard Webhooks: accepted distance between the timestamp header and now. */
  toleranceSeconds: 5 * 60,
  /** hookline/receive: largest body verifyWebhook accepts. */
  receiveMaxBodyBytes: 10 * 1024 * 1024,
  /** hookline/receive: longest header value verifyWebhook reads. */
  receiveMaxHeaderLength: 8 * 1024,
  /** hookline/receive: ids the in-memory deduper remembers before evicting the oldest. */
  dedupeMaxEntries: 100_000,
  /** HttpTransport: bytes of a response body kept; the rest is discarded. */
  maxResponseBodyBytes: 64 * 1024,
  /** HttpTransport: keep-alive connections per destination origin. */
  connectionsPerOrigin: 32,
  /** HttpTransport: idle keep-alive sockets are closed after this long. */
  keepAliveTimeoutMs: 4_000,
  /** Engine retry schedule: delay before attempt n+1 (index 0 is the first attempt). */
  retryScheduleMs: [
    0,
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    14 * 3_600_000,
    20 * 3_600_000,
    24 * 3_600_000,
  ] as readonly number[],
  /** Engine retry schedule: each delay is spread by up to ± this fraction. */
  retryJitterRatio: 0.2,
  /** Retry-After values above this are capped. */
  maxRetryAfterMs: 24 * 3_600_000,
  userAgent: "hookline/0.1",
  /** Engine: deliveries in flight at once in one process. */
  concurrency: 64,
  /** Engine: deliveries of one endpoint in flight at once, across every worker. */
  perEndpointConcurrency: 10,
  /**
   * Engine: an attempt running longer than this stops counting against `concurrency`, so slow
   * receivers cannot hold back the rest (up to 3 × `concurrency` such attempts per process).
   */
  slowAttemptMs: 1_000,
  /** Engine: rows claimed, and completions written, per transaction. */
  batchSize: 100,
  /**
   * Engine: a lease lives this long past its worker's last heartbeat (workers beat every third of
   * it), so a worker that dies without a word holds its deliveries at most this long.
   */
  leaseMs: 9_000,
  /**
   * Engine: how long a process keeps an app's enabled endpoints and the event types' schemas
   * between sends; its own changes apply at once, another process's within this.
   */
  readCacheTtlMs: 1_000,
  /** Engine: safety-net poll when no wake-up arrives. */
  pollIntervalMs: 1_000,
  /** Engine: an endpoint failing without a single success this long is disabled. */
  disableAfterMs: 5 * 24 * 3_600_000,
  /** Engine: largest accepted message body. */
  maxPayloadBytes: 1024 * 1024,
  /** Engine: characters of a response body kept on the attempt record. */
  responseExcerptChars: 4 * 1024,
  /** Retention: how often the purger looks for expired payloads and history. */
  retentionIntervalMs: 60_000,
  /** Retention: messages per purge transaction; small, so no write lock is held long. */
  retentionBatchSize: 200,
  /** `hookline serve`: payloads of finished messages are expunged after this many days. */
  serveRetentionDays: 30,
  /** `hookline serve`: finished messages, their deliveries and attempts are deleted after this many days. */
  serveHistoryDays: 90,
  /** Engine: a previous secret keeps signing this long after a rotation. */
  secretGracePeriodMs: 24 * 3_600_000,
  /** Server: time a client gets to send a request's headers; then the connection is closed. */
  serverHeadersTimeoutMs: 10_000,
  /** Server: time a client gets to send a whole request (headers and body); then 408 and closed. */
  serverRequestTimeoutMs: 30_000,
  /** Server: connections open at once; those beyond are closed as they arrive. */
  serverMaxConnections: 1_000,
  /** Server: requests per second per API key, sustained (a token bucket). */
  rateLimitPerSecond: 1_000,
  /** Server: requests per API key allowed at once after a quiet spell. */
  rateLimitBurst: 2_000,
  /** Engine: the app that `send()` and `endpoints.create()` use when none is named. */
  defaultAppId: "app_default",
} as const;

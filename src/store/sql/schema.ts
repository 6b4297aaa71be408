/**
 * The schema shared by the SQLite and PostgreSQL stores: the same tables and
 * columns on both. Times are BIGINT milliseconds since the epoch, booleans
 * INTEGER 0/1, lists and maps JSON text, so rows map the same way on both.
 * Each migration runs once, recorded in schema_migrations; never edit one
 * that has shipped, add the next.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; statements: readonly string[] }> = [
  {
    version: 1,
    statements: [
      `CREATE TABLE apps (
        id TEXT PRIMARY KEY,
        uid TEXT UNIQUE,
        name TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      `CREATE TABLE endpoints (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        uid TEXT,
        url TEXT NOT NULL,
        description TEXT NOT NULL,
        secrets TEXT NOT NULL,
        event_types TEXT NOT NULL,
        channels TEXT,
        headers TEXT NOT NULL,
        metadata TEXT NOT NULL,
        rate_limit_per_second INTEGER,
        signature_algorithm TEXT NOT NULL,
        timeout_ms INTEGER NOT NULL,
        disabled INTEGER NOT NULL,
        disabled_reason TEXT,
        failing_since BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      "CREATE INDEX endpoints_app ON endpoints (app_id, id)",
      `CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        body TEXT NOT NULL,
        body_format TEXT NOT NULL,
        channels TEXT,
        tags TEXT,
        created_at BIGINT NOT NULL,
        UNIQUE (app_id, event_id)
      )`,
      "CREATE INDEX messages_app ON messages (app_id, id)",
      `CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
        app_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt_count INTEGER NOT NULL,
        next_attempt_at BIGINT,
        lease_owner TEXT,
        next_trigger TEXT NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      // The work queue: only pending and sending rows are indexed, so a large delivered history costs nothing.
      "CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status IN ('pending', 'sending')",
      "CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, updated_at)",
      "CREATE INDEX deliveries_message ON deliveries (message_id)",
      "CREATE INDEX deliveries_app ON deliveries (app_id, id)",
      `CREATE TABLE attempts (
        id TEXT PRIMARY KEY,
        delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ms INTEGER NOT NULL,
        status_code INTEGER,
        response_excerpt TEXT,
        error_code TEXT,
        error TEXT,
        trigger TEXT NOT NULL,
        succeeded INTEGER NOT NULL
      )`,
      "CREATE INDEX attempts_delivery ON attempts (delivery_id, id)",
      "CREATE INDEX attempts_message ON attempts (message_id, id)",
      "CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id)",
    ],
  },
  {
    version: 2,
    statements: [
      // Small JSON documents of the service layer: event types, API keys, idempotency records.
      `CREATE TABLE documents (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (namespace, key)
      )`,
      // Paging an endpoint's deliveries and an app's attempts without sorting them all.
      "CREATE INDEX deliveries_endpoint_page ON deliveries (endpoint_id, id)",
      "CREATE INDEX attempts_app ON attempts (app_id, id)",
    ],
  },
  {
    version: 3,
    statements: [
      // Worker liveness: every worker process heartbeats here; its leases live as long as it does.
      `CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
      )`,
      // One endpoint's queue by status in due order: its live leases, and whether anything of it is
      // waiting, each one short range, never a walk through its own or other endpoints' backlogs.
      `CREATE INDEX deliveries_endpoint_queue ON deliveries (endpoint_id, status, next_attempt_at)
        WHERE status IN ('pending', 'sending')`,
      // Ordered delivery: an endpoint's `ordering`, and on each of its deliveries the group
      // (the message's ordering key, "" for the whole endpoint) it is ordered within; null when unordered.
      "ALTER TABLE endpoints ADD COLUMN ordering TEXT",
      "ALTER TABLE deliveries ADD COLUMN ordering_key TEXT",
      `CREATE INDEX deliveries_ordered ON deliveries (endpoint_id, ordering_key, id)
        WHERE ordering_key IS NOT NULL AND status IN ('pending', 'sending')`,
    ],
  },
  {
    version: 4,
    statements: [
      // Retention: a message's own payload expiry (null: the store-wide retention applies), and
      // when its payload was expunged (the body is then empty; the record and its attempts stay).
      "ALTER TABLE messages ADD COLUMN payload_expires_at BIGINT",
      "ALTER TABLE messages ADD COLUMN expunged_at BIGINT",
      // The purger walks messages oldest first: all of them to delete history, and only those whose
      // payload is still there to expunge, so the expunged history in front is never read again.
      "CREATE INDEX messages_created ON messages (created_at, id)",
      "CREATE INDEX messages_unexpunged ON messages (created_at, id) WHERE expunged_at IS NULL",
      `CREATE INDEX messages_payload_expiry ON messages (payload_expires_at)
        WHERE payload_expires_at IS NOT NULL AND expunged_at IS NULL`,
    ],
  },
  {
    version: 5,
    statements: [
      // The W3C traceparent of a message's send, sent with each attempt (see delivery/tracing.ts).
      "ALTER TABLE messages ADD COLUMN traceparent TEXT",
    ],
  },
  {
    version: 6,
    statements: [
      // An endpoint's payload filter as JSON text (see delivery/filter.ts); null takes every payload.
      "ALTER TABLE endpoints ADD COLUMN filter TEXT",
    ],
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * The SQLite store's statements, prepared once per connection by the store
 * (`SqliteStore.#stmt`). Column lists come from the shared row mapping.
 */
import { hasPayloadSql, retentionSql } from "../sql/retention.js";
import { APP_COLUMNS, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, ENDPOINT_COLUMNS, MESSAGE_COLUMNS } from "../sql/rows.js";

const placeholders = (count: number): string => Array.from({ length: count }, () => "?").join(", ");
const insertSql = (table: string, columns: readonly string[]): string =>
  `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${placeholders(columns.length)})`;

// The status test is written exactly as in the partial index deliveries_due, so SQLite can use it.
const QUEUED = "status IN ('pending', 'sending')";

export const RETENTION = retentionSql({ messages: "messages", deliveries: "deliveries" }, "sqlite");

export const SQL = {
  insertDocument: `INSERT INTO documents (namespace, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (namespace, key) DO NOTHING`,
  upsertDocument: `INSERT INTO documents (namespace, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  documentByKey: "SELECT * FROM documents WHERE namespace = ? AND key = ?",
  deleteDocument: "DELETE FROM documents WHERE namespace = ? AND key = ?",
  documentsAfter: "SELECT * FROM documents WHERE namespace = ? AND key > ? ORDER BY key LIMIT ?",
  insertApp: insertSql("apps", APP_COLUMNS),
  appById: "SELECT * FROM apps WHERE id = ?",
  appByUid: "SELECT * FROM apps WHERE uid = ?",
  deleteApp: "DELETE FROM apps WHERE id = ?",
  insertEndpoint: insertSql("endpoints", ENDPOINT_COLUMNS),
  endpointById: "SELECT * FROM endpoints WHERE id = ?",
  deleteEndpoint: "DELETE FROM endpoints WHERE id = ?",
  enabledEndpoints: "SELECT * FROM endpoints WHERE app_id = ? AND disabled = 0 ORDER BY id",
  enabledEndpointsLeft:
    "SELECT EXISTS (SELECT 1 FROM endpoints WHERE disabled = 0 AND id NOT IN (SELECT value FROM json_each(?))) AS n",
  insertMessage: `${insertSql("messages", MESSAGE_COLUMNS)} ON CONFLICT (app_id, event_id) DO NOTHING`,
  messageById: "SELECT * FROM messages WHERE id = ?",
  messageByEvent: "SELECT * FROM messages WHERE app_id = ? AND event_id = ?",
  deliveriesOfMessage: "SELECT COUNT(*) AS n FROM deliveries WHERE message_id = ?",
  insertDelivery: insertSql("deliveries", DELIVERY_COLUMNS),
  deliveryById: "SELECT * FROM deliveries WHERE id = ?",
  // Candidates: due rows of enabled endpoints, oldest first, walking the partial index deliveries_due.
  // CROSS JOIN keeps deliveries as the outer loop so the index order gives ORDER BY for free.
  claimCandidates: `SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries AS d
    CROSS JOIN endpoints AS e ON e.id = d.endpoint_id
    WHERE d.${QUEUED} AND d.next_attempt_at <= ? AND e.disabled = 0
      AND d.endpoint_id NOT IN (SELECT value FROM json_each(?))
    ORDER BY d.next_attempt_at, d.id LIMIT ?`,
  claimCandidatesAfter: `SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries AS d
    CROSS JOIN endpoints AS e ON e.id = d.endpoint_id
    WHERE d.${QUEUED} AND d.next_attempt_at <= ? AND (d.next_attempt_at, d.id) > (?, ?) AND e.disabled = 0
      AND d.endpoint_id NOT IN (SELECT value FROM json_each(?))
    ORDER BY d.next_attempt_at, d.id LIMIT ?`,
  // Live leases of one endpoint, counting every worker's: one range of the covering index
  // deliveries_endpoint_queue, which the repeated status term lets the planner use.
  liveLeases: `SELECT COUNT(*) AS n FROM deliveries
    WHERE endpoint_id = ? AND ${QUEUED} AND status = 'sending' AND next_attempt_at > ?`,
  // Two short ranges of deliveries_endpoint_queue: the endpoint's pending and sending rows due by now.
  endpointWaiting: `SELECT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = ? AND ${QUEUED}
    AND next_attempt_at <= ?) AS n`,
  lease: `UPDATE deliveries SET status = 'sending', lease_owner = ?, next_attempt_at = ?, updated_at = ?
    WHERE id IN (SELECT value FROM json_each(?)) RETURNING *`,
  messagesByIds: "SELECT * FROM messages WHERE id IN (SELECT value FROM json_each(?))",
  endpointsByIds: "SELECT * FROM endpoints WHERE id IN (SELECT value FROM json_each(?))",
  // The attempt happened whatever became of the lease, so it is recorded even then; only a
  // delivery that no longer exists (its endpoint or app was deleted meanwhile) has nowhere to keep it.
  insertAttempt: `INSERT INTO attempts (${ATTEMPT_COLUMNS.join(", ")})
    SELECT ${placeholders(ATTEMPT_COLUMNS.length)} WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?)
    ON CONFLICT (id) DO UPDATE SET ${ATTEMPT_COLUMNS.filter((c) => c !== "id")
      .map((c) => `${c} = excluded.${c}`)
      .join(", ")}`,
  completeDelivery: `UPDATE deliveries SET status = ?, attempt_count = attempt_count + 1, next_attempt_at = ?,
    lease_owner = NULL, next_trigger = 'scheduled', last_status_code = ?, last_error = ?, updated_at = ?
    WHERE id = ? AND status = 'sending' AND lease_owner = ? RETURNING endpoint_id, ordering_key`,
  // Ordered delivery (deliveries_ordered): is any delivery of the group unfinished; the oldest one parked.
  orderedUnfinished: `SELECT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = ? AND ordering_key = ?
    AND ${QUEUED}) AS n`,
  activateNext: `UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE id = (
    SELECT id FROM deliveries WHERE endpoint_id = ? AND ordering_key = ? AND ${QUEUED}
      AND status = 'pending' AND next_attempt_at IS NULL ORDER BY id LIMIT 1)`,
  endpointHealth: "SELECT disabled, failing_since FROM endpoints WHERE id = ?",
  setFailingSince: "UPDATE endpoints SET failing_since = ?, updated_at = ? WHERE id = ?",
  disableEndpoint: "UPDATE endpoints SET disabled = 1, disabled_reason = ?, updated_at = ? WHERE id = ?",
  // Due again as of their creation: they were at the head of the queue when claimed, so they go back to it.
  release: `UPDATE deliveries SET status = 'pending', lease_owner = NULL, next_attempt_at = created_at, updated_at = ?
    WHERE id = ? AND status = 'sending' AND lease_owner = ?`,
  requeue: `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, next_trigger = 'manual', updated_at = ?
    WHERE id = ? AND status <> 'sending' AND ${hasPayloadSql("messages", "deliveries")} RETURNING *`,
  recover: `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, next_trigger = 'manual', updated_at = ?
    WHERE endpoint_id = ? AND status = 'failed' AND updated_at >= ? AND updated_at < ?
    AND ${hasPayloadSql("messages", "deliveries")}`,

  registerWorker: `INSERT INTO workers (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
  extendLeases: `UPDATE deliveries SET next_attempt_at = ?
    WHERE id IN (SELECT value FROM json_each(?)) AND status = 'sending' AND lease_owner = ?`,
  listWorkers: "SELECT * FROM workers ORDER BY started_at, id",
  forgetWorker: "DELETE FROM workers WHERE id = ?",
  releaseOwner: `UPDATE deliveries SET status = 'pending', lease_owner = NULL, next_attempt_at = created_at,
    updated_at = ? WHERE status = 'sending' AND lease_owner = ?`,
  nextDueAt: `SELECT next_attempt_at AS at FROM deliveries WHERE ${QUEUED} AND next_attempt_at IS NOT NULL
    ORDER BY next_attempt_at LIMIT 1`,
} as const;

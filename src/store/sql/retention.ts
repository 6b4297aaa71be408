/**
 * The statements of retention, shared by the SQL stores (written with `?`
 * placeholders; the PostgreSQL store numbers them). A message is finished
 * when none of its deliveries is pending or sending: only finished messages
 * are expunged or deleted, so nothing still to be sent loses its body.
 */
export function retentionSql(
  t: { messages: string; deliveries: string },
  dialect: "sqlite" | "postgres",
): Record<"expireBefore" | "expireOwn" | "deleteBefore" | "expungeOne" | "messageExists", string> {
  const finished = (message: string) =>
    `NOT EXISTS (SELECT 1 FROM ${t.deliveries} AS d WHERE d.message_id = ${message} AND d.status IN ('pending', 'sending'))`;
  // Two purgers (two PostgreSQL processes) take disjoint batches instead of waiting on each other.
  const lock = dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
  const expunge = `UPDATE ${t.messages} SET body = '', expunged_at = ? WHERE id IN`;
  return {
    // [now, cutoff, limit]: walks messages_unexpunged from the oldest.
    expireBefore: `${expunge} (SELECT m.id FROM ${t.messages} AS m
      WHERE m.expunged_at IS NULL AND m.created_at < ? AND m.payload_expires_at IS NULL AND ${finished("m.id")}
      ORDER BY m.created_at, m.id LIMIT ?${lock})`,
    // [now, now, limit]: walks messages_payload_expiry.
    expireOwn: `${expunge} (SELECT m.id FROM ${t.messages} AS m
      WHERE m.payload_expires_at IS NOT NULL AND m.expunged_at IS NULL AND m.payload_expires_at <= ? AND ${finished("m.id")}
      ORDER BY m.payload_expires_at LIMIT ?${lock})`,
    // [cutoff, limit]: walks messages_created; deliveries and attempts go with their message (ON DELETE CASCADE).
    deleteBefore: `DELETE FROM ${t.messages} WHERE id IN (SELECT m.id FROM ${t.messages} AS m
      WHERE m.created_at < ? AND ${finished("m.id")} ORDER BY m.created_at, m.id LIMIT ?${lock})`,
    // [now, id]
    expungeOne: `UPDATE ${t.messages} SET body = '', expunged_at = COALESCE(expunged_at, ?)
      WHERE id = ? AND ${finished(`${t.messages}.id`)}`,
    // [id]
    messageExists: `SELECT 1 AS found FROM ${t.messages} WHERE id = ?`,
  };
}

/** The clause that keeps a manual requeue away from deliveries whose message has no payload left. */
export function hasPayloadSql(messages: string, deliveries: string): string {
  return `NOT EXISTS (SELECT 1 FROM ${messages} AS xm WHERE xm.id = ${deliveries}.message_id AND xm.expunged_at IS NOT NULL)`;
}

import type { QueryResult, QueryResultRow } from "pg";
import { ConfigurationError } from "../../core/errors.js";
import type { ATTEMPT_COLUMNS, DELIVERY_COLUMNS } from "../sql/rows.js";

export type Row = Record<string, unknown>;
/** What the store needs of a connection: the pool, one of its clients, or the caller's client. */
export interface Queryable {
  query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}
/** Each table's name, qualified by the store's schema. */
export type Tables = Record<
  "apps" | "endpoints" | "messages" | "deliveries" | "attempts" | "documents" | "workers" | "migrations",
  string
>;

/** Tries of a transaction that may need running again (a deadlock, a conflicting delete). */
export const MAX_TRANSACTION_TRIES = 3;

export const list = (columns: readonly string[]) => columns.join(", ");

export function closedError(): ConfigurationError {
  return new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "the PostgreSQL store is closed");
}

/** Element types of the arrays unnested into multi-row inserts. */
export const DELIVERY_SQL_TYPES: Record<(typeof DELIVERY_COLUMNS)[number], string> = {
  id: "text",
  message_id: "text",
  endpoint_id: "text",
  app_id: "text",
  status: "text",
  attempt_count: "int",
  next_attempt_at: "bigint",
  lease_owner: "text",
  next_trigger: "text",
  last_status_code: "int",
  last_error: "text",
  created_at: "bigint",
  updated_at: "bigint",
  ordering_key: "text",
};

export const ATTEMPT_SQL_TYPES: Record<(typeof ATTEMPT_COLUMNS)[number], string> = {
  id: "text",
  delivery_id: "text",
  message_id: "text",
  endpoint_id: "text",
  app_id: "text",
  number: "int",
  started_at: "bigint",
  duration_ms: "int",
  status_code: "int",
  response_excerpt: "text",
  error_code: "text",
  error: "text",
  trigger: "text",
  succeeded: "int",
};

/** A conjunction of conditions with numbered parameters. */
export class Where {
  readonly values: unknown[] = [];
  readonly #conditions: string[] = [];

  eq(column: string, value: unknown): this {
    if (value !== undefined) this.raw(`${column} =`, value);
    return this;
  }

  any(column: string, values: readonly unknown[]): this {
    this.values.push([...values]);
    this.#conditions.push(`${column} = ANY($${this.values.length})`);
    return this;
  }

  /** `left` is trusted SQL ending in an operator; `value` becomes a parameter. */
  raw(left: string, value: unknown): this {
    this.values.push(value);
    this.#conditions.push(`${left} $${this.values.length}`);
    return this;
  }

  sql(): string {
    return this.#conditions.length === 0 ? "" : `WHERE ${this.#conditions.join(" AND ")}`;
  }
}

export function placeholders(count: number, first = 1): string {
  return Array.from({ length: count }, (_, i) => `$${first + i}`).join(", ");
}

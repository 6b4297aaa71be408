import type { ATTEMPT_COLUMNS, DELIVERY_COLUMNS } from "../sql/rows.js";

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

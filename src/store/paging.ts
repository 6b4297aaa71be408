import { ConfigurationError } from "../core/errors.js";
import type { Page, PageOptions } from "./store.js";

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 250;

/** The page size asked for, checked: 1–250, 50 by default. */
export function pageLimit(options: PageOptions): number {
  const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `limit must be an integer in 1–${MAX_PAGE_LIMIT}`);
  }
  return limit;
}

/**
 * Cuts a page from rows fetched newest first with one row more than the
 * limit: the extra row only tells that another page exists.
 */
export function toPage<T>(
  rows: T[],
  limit: number,
  cursorOf: (row: T) => string = (row) => (row as { id: string }).id,
): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}

/** The SQL of a page's order: the cursor comparison and the ORDER BY direction. */
export function pageOrder(options: PageOptions): { after: "<" | ">"; direction: "DESC" | "ASC" } {
  return options.order === "ascending" ? { after: ">", direction: "ASC" } : { after: "<", direction: "DESC" };
}

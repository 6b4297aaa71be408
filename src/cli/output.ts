/** Plain-text and JSON output of the client commands; no colours, no dependencies. */

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

/** A cell as text: dates as ISO strings, lists comma-separated, nothing as "-". */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(cell).join(",");
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value).replace(/[\r\n\t]+/g, " ");
}

/** Rows under upper-case headers, columns padded to their widest cell. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}

/** One record as `key: value` lines, keys aligned. */
export function formatRecord(pairs: ReadonlyArray<readonly [string, unknown]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`).join("\n");
}

export function printLine(text = ""): void {
  process.stdout.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints a list page as a table, with a hint to the next page on stderr. */
export function printList<T>(
  page: { data: T[]; iterator: string | null; done: boolean },
  columns: readonly Column<T>[],
  json: boolean,
  what: string,
): void {
  if (json) {
    printJson(page);
    return;
  }
  if (page.data.length === 0) {
    process.stderr.write(`no ${what}\n`);
    return;
  }
  printLine(formatTable(page.data, columns));
  if (!page.done && page.iterator) process.stderr.write(`more ${what}: --iterator ${page.iterator} (or --all)\n`);
}

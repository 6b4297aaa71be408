/**
 * Whether an event type passes a subscription's filter: an empty filter takes
 * every event (the seed's wildcard); an entry matches exactly, or by prefix
 * when it ends in `.*` (`invoice.*` takes `invoice.paid`), and `*` takes all.
 */
export function matchesEventType(filter: readonly string[], eventType: string): boolean {
  if (filter.length === 0) return true;
  for (const entry of filter) {
    if (entry === eventType || entry === "*") return true;
    if (entry.endsWith(".*") && eventType.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

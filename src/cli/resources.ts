import type { ApiClient, ListResponse, QueryValue } from "./client.js";
import type { PageFlags } from "./options.js";
import type { Column } from "./output.js";

/** The fields of Svix's JSON shapes the CLI prints (dates arrive as ISO strings). */
export interface AppOut {
  id: string;
  uid?: string | null;
  name: string;
  metadata?: Record<string, string>;
  createdAt: string;
  updatedAt?: string;
}

export interface EndpointOut {
  id: string;
  uid?: string | null;
  url: string;
  description?: string;
  filterTypes?: string[] | null;
  channels?: string[] | null;
  disabled?: boolean;
  /** hookline extension: the payload filter, null when there is none. */
  filter?: Record<string, unknown> | null;
  createdAt: string;
  updatedAt?: string;
}

export interface MessageOut {
  id: string;
  eventType: string;
  eventId?: string | null;
  payload?: unknown;
  channels?: string[] | null;
  tags?: string[] | null;
  timestamp: string;
}

export interface AttemptOut {
  id: string;
  msgId: string;
  endpointId: string;
  url?: string;
  status: number;
  statusText?: string;
  responseStatusCode: number;
  responseDurationMs?: number;
  response?: string;
  timestamp: string;
  triggerType?: number;
}

export interface ApiKeyOut {
  id: string;
  appId: string | null;
  token: string;
}

/** An inbound source as the API returns it. */
export interface SourceOut {
  id: string;
  name: string;
  provider: string;
  url: string;
  createdAt: string;
}

export const sourceColumns: Column<SourceOut>[] = [
  { header: "ID", value: (s) => s.id },
  { header: "PROVIDER", value: (s) => s.provider },
  { header: "NAME", value: (s) => s.name },
  { header: "URL", value: (s) => s.url },
];

/** Svix's MessageStatus numbers, for servers that send no `statusText`. */
const STATUS_TEXT = ["success", "pending", "fail", "sending", "canceled"];

export const appColumns: Column<AppOut>[] = [
  { header: "ID", value: (a) => a.id },
  { header: "UID", value: (a) => a.uid },
  { header: "NAME", value: (a) => a.name },
  { header: "CREATED", value: (a) => a.createdAt },
];

export const endpointColumns: Column<EndpointOut>[] = [
  { header: "ID", value: (e) => e.id },
  { header: "URL", value: (e) => e.url },
  { header: "EVENT TYPES", value: (e) => (e.filterTypes?.length ? e.filterTypes : "*") },
  { header: "STATE", value: (e) => (e.disabled ? "disabled" : "enabled") },
  { header: "CREATED", value: (e) => e.createdAt },
];

export const messageColumns: Column<MessageOut>[] = [
  { header: "ID", value: (m) => m.id },
  { header: "EVENT TYPE", value: (m) => m.eventType },
  { header: "EVENT ID", value: (m) => m.eventId },
  { header: "TIMESTAMP", value: (m) => m.timestamp },
];

export const attemptColumns: Column<AttemptOut>[] = [
  { header: "TIMESTAMP", value: (a) => a.timestamp },
  { header: "ID", value: (a) => a.id },
  { header: "MESSAGE", value: (a) => a.msgId },
  { header: "ENDPOINT", value: (a) => a.endpointId },
  { header: "STATUS", value: attemptStatus },
  { header: "CODE", value: (a) => a.responseStatusCode || "-" },
  { header: "MS", value: (a) => a.responseDurationMs },
  { header: "TRIGGER", value: (a) => (a.triggerType === 1 ? "manual" : "scheduled") },
];

export function attemptStatus(attempt: AttemptOut): string {
  return attempt.statusText ?? STATUS_TEXT[attempt.status] ?? String(attempt.status);
}

/** One page (`--limit`, `--iterator`) or, with `--all`, every page merged. */
export function fetchList<T>(
  client: ApiClient,
  path: string,
  flags: PageFlags,
  query: Record<string, QueryValue> = {},
): Promise<ListResponse<T>> {
  if (flags.all) return client.listAll<T>(path, { ...query, iterator: flags.iterator });
  return client.get<ListResponse<T>>(path, { query: { ...query, limit: flags.limit, iterator: flags.iterator } });
}

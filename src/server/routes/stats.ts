import { z } from "zod";
import type { Hookline } from "../../delivery/hookline.js";
import type { AttemptRecord } from "../../store/store.js";
import { type RouteSpec, route } from "../routing.js";
import { statsQuery } from "../schemas.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The most attempts one stats request reads; beyond it the answer says `truncated`. */
const MAX_ATTEMPTS_READ = 50_000;

const hourlyOut = z.object({
  data: z.array(z.object({ start: z.iso.datetime(), succeeded: z.number().int(), failed: z.number().int() })),
  truncated: z.boolean(),
});

const healthOut = z.object({
  data: z.array(
    z.object({
      endpointId: z.string(),
      attempts: z.number().int(),
      succeeded: z.number().int(),
      /** Succeeded / attempts, null without attempts. */
      successRate: z.number().nullable(),
      lastStatusCode: z.number().int().nullable(),
      lastAttemptAt: z.iso.datetime().nullable(),
    }),
  ),
  truncated: z.boolean(),
});

/** The app's attempts started in [since, until), newest first; false when the read cap stopped it. */
async function eachAttempt(
  hl: Hookline,
  appId: string,
  since: number,
  until: number,
  visit: (attempt: AttemptRecord) => void,
): Promise<boolean> {
  let cursor: string | undefined;
  let read = 0;
  do {
    const page = await hl.attempts.list({ appId, limit: 250, ...(cursor && { cursor }) });
    for (const attempt of page.data) {
      if (attempt.startedAt < since) return true;
      if (attempt.startedAt < until) visit(attempt);
      if (++read >= MAX_ATTEMPTS_READ) return false;
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return true;
}

/** since/until from the query, by default the last 24 hours; at most 31 days. */
function window(query: { since?: number | undefined; until?: number | undefined }): { since: number; until: number } {
  const until = query.until ?? Date.now();
  return { since: Math.max(query.since ?? until - DAY_MS, until - 31 * DAY_MS), until };
}

/**
 * hookline extensions the dashboard stands on: an app's attempts per hour
 * (succeeded vs failed) and each endpoint's health (attempts, success rate,
 * last status code), over `since`/`until` (default the last 24 hours).
 */
export function statsRoutes(): RouteSpec[] {
  return [
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/stats/hourly",
      operationId: "v1.statistics.hourly",
      summary: "The app's attempts per hour, succeeded and failed (hookline extension)",
      tag: "Statistics",
      auth: "app",
      query: statsQuery,
      responses: { 200: { description: "One bucket per hour, oldest first", schema: hourlyOut } },
      handler: async ({ hl, app, query }) => {
        const { since, until } = window(query);
        const first = Math.floor(since / HOUR_MS) * HOUR_MS;
        const buckets = new Map<number, { succeeded: number; failed: number }>();
        for (let t = first; t < until; t += HOUR_MS) buckets.set(t, { succeeded: 0, failed: 0 });
        const complete = await eachAttempt(hl, app.id, since, until, (attempt) => {
          const bucket = buckets.get(Math.floor(attempt.startedAt / HOUR_MS) * HOUR_MS);
          if (bucket) bucket[attempt.succeeded ? "succeeded" : "failed"]++;
        });
        return {
          data: [...buckets].map(([start, counts]) => ({ start: new Date(start).toISOString(), ...counts })),
          truncated: !complete,
        };
      },
    }),
    route({
      method: "GET",
      url: "/api/v1/app/:app_id/stats/endpoint-health",
      operationId: "v1.statistics.endpoint-health",
      summary: "Each endpoint's attempts, success rate and last status code (hookline extension)",
      tag: "Statistics",
      auth: "app",
      query: statsQuery,
      responses: { 200: { description: "One row per endpoint that had attempts", schema: healthOut } },
      handler: async ({ hl, app, query }) => {
        const { since, until } = window(query);
        const rows = new Map<string, { attempts: number; succeeded: number; last: AttemptRecord }>();
        const complete = await eachAttempt(hl, app.id, since, until, (attempt) => {
          const row = rows.get(attempt.endpointId);
          if (row === undefined)
            rows.set(attempt.endpointId, { attempts: 1, succeeded: +attempt.succeeded, last: attempt });
          else {
            row.attempts++;
            row.succeeded += +attempt.succeeded;
          }
        });
        return {
          data: [...rows].map(([endpointId, row]) => ({
            endpointId,
            attempts: row.attempts,
            succeeded: row.succeeded,
            successRate: row.succeeded / row.attempts,
            lastStatusCode: row.last.statusCode,
            lastAttemptAt: new Date(row.last.startedAt).toISOString(),
          })),
          truncated: !complete,
        };
      },
    }),
  ];
}

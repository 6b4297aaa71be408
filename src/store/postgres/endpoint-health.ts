import type { Completion, CompletionEffects } from "../store.js";

/**
 * Endpoint health as a batch of completions leaves it, decided in memory
 * the way the memory store decides it, so the PostgreSQL queue writes only
 * the endpoints that change.
 */
export interface EndpointHealth {
  id: string;
  disabled: boolean;
  disabledReason: string | null;
  failingSince: number | null;
}

export interface EndpointHealthJson {
  id: string;
  disabled: number | string;
  disabled_reason: string | null;
  failing_since: number | string | null;
}

export function healthFromJson(row: EndpointHealthJson): EndpointHealth {
  return {
    id: row.id,
    disabled: Number(row.disabled) === 1,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since === null ? null : Number(row.failing_since),
  };
}

/**
 * Endpoint health after the batch, completion by completion in order,
 * exactly as the memory store applies it: a success ends a failing run; a
 * failure starts one (reported) if none is running; 410 disables the
 * endpoint, and so does a run older than `disableAfterMs` (reported once).
 */
export function applyHealth(
  completions: readonly Completion[],
  before: ReadonlyMap<string, EndpointHealth>,
  now: number,
  disableAfterMs: number,
): { effects: CompletionEffects; changed: EndpointHealth[] } {
  const effects: CompletionEffects = { failingEndpoints: [], disabledEndpoints: [], lostLeases: [] };
  const state = new Map<string, EndpointHealth>();
  const changed = new Set<string>();
  for (const completion of completions) {
    const id = completion.attempt.endpointId;
    const known = state.get(id) ?? before.get(id);
    if (!known) continue;
    const endpoint = { ...known };
    state.set(id, endpoint);
    if (completion.endpointOutcome === "succeeded") {
      if (endpoint.failingSince !== null) {
        endpoint.failingSince = null;
        changed.add(id);
      }
      continue;
    }
    if (endpoint.failingSince === null) {
      endpoint.failingSince = now;
      changed.add(id);
      effects.failingEndpoints.push({ endpointId: id, failingSince: now });
    }
    if (endpoint.disabled) continue;
    const reason =
      completion.endpointOutcome === "gone" ? "gone" : now - endpoint.failingSince >= disableAfterMs ? "failing" : null;
    if (reason !== null) {
      endpoint.disabled = true;
      endpoint.disabledReason = reason;
      changed.add(id);
      effects.disabledEndpoints.push({ endpointId: id, reason });
    }
  }
  return { effects, changed: [...changed].map((id) => state.get(id) as EndpointHealth) };
}

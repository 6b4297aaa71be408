import type { FastifyRequest } from "fastify";
import type { ApiKey } from "../delivery/api-keys.js";
import type { AppRecord } from "../store/store.js";

/** What the hooks learn about a request, kept beside it rather than on it (no Fastify type augmentation). */
export interface RequestState {
  /** The exact body text, for idempotency fingerprints. */
  rawBody?: string;
  apiKey?: ApiKey;
  /** The app `:app_id` names, resolved and checked against the key. */
  app?: AppRecord;
  /** Set while this request holds an idempotency record to complete. */
  idempotencyKey?: string;
  idempotencyFingerprint?: string;
}

const states = new WeakMap<FastifyRequest, RequestState>();

export function stateOf(request: FastifyRequest): RequestState {
  let state = states.get(request);
  if (state === undefined) {
    state = {};
    states.set(request, state);
  }
  return state;
}

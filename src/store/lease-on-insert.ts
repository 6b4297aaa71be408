import type { ClaimOptions, DeliveryRecord } from "./store.js";

/** What a store knows of an endpoint when a new delivery for it is written. */
export interface EndpointQueueState {
  /** An older delivery of the endpoint is due and waiting: a new one must not jump ahead of it. */
  waiting: boolean;
  /** Deliveries of the endpoint in `sending` with a live lease, every worker's. */
  live: number;
}

interface LeasedBefore {
  delivery: DeliveryRecord;
  was: Pick<DeliveryRecord, "nextAttemptAt" | "updatedAt">;
}

/**
 * The rule of `InsertOptions.claim`, shared by the stores: decides which new
 * deliveries are leased to the claiming worker as they are written, and
 * marks those `sending` under the claim's lease. One instance serves one
 * write transaction, whose messages may carry claims of their own: `stateOf`
 * is asked once per endpoint, the deliveries leased here are counted on top
 * of it, and once a delivery of an endpoint is left pending, the later ones
 * of that endpoint wait behind it.
 */
export class LeaseOnInsert {
  readonly #stateOf: (endpointId: string, now: number) => EndpointQueueState;
  readonly #states = new Map<string, EndpointQueueState>();
  /** What each leased delivery looked like before, for `undo`. */
  readonly #before: LeasedBefore[] = [];

  constructor(stateOf: (endpointId: string, now: number) => EndpointQueueState) {
    this.#stateOf = stateOf;
  }

  /** Leases what the rule allows of one message's deliveries; returns their ids. */
  lease(deliveries: readonly DeliveryRecord[], claim: ClaimOptions): string[] {
    const { owner, now, leaseMs, limit, perEndpointLimit } = claim;
    const excluded = claim.excludeEndpointIds ?? [];
    const leased: string[] = [];
    for (const delivery of deliveries) {
      if (leased.length >= limit) break;
      if (excluded.includes(delivery.endpointId)) continue;
      if (delivery.status !== "pending" || delivery.nextAttemptAt === null || delivery.nextAttemptAt > now) continue;
      let state = this.#states.get(delivery.endpointId);
      if (state === undefined) {
        state = { ...this.#stateOf(delivery.endpointId, now) };
        this.#states.set(delivery.endpointId, state);
      }
      if (state.waiting || state.live >= perEndpointLimit) {
        state.waiting = true;
        continue;
      }
      state.live++;
      this.#before.push({ delivery, was: { nextAttemptAt: delivery.nextAttemptAt, updatedAt: delivery.updatedAt } });
      Object.assign(delivery, { status: "sending", leaseOwner: owner, nextAttemptAt: now + leaseMs, updatedAt: now });
      leased.push(delivery.id);
    }
    return leased;
  }

  /**
   * Puts deliveries this instance leased back as they were: all of them when
   * the transaction rolled back, or those given, whose message was not written.
   */
  undo(only?: readonly DeliveryRecord[]): void {
    const keep: LeasedBefore[] = [];
    for (const entry of this.#before.splice(0)) {
      if (only && !only.includes(entry.delivery)) keep.push(entry);
      else Object.assign(entry.delivery, { status: "pending", leaseOwner: null, ...entry.was });
    }
    this.#before.push(...keep);
    if (!only) this.#states.clear();
  }
}

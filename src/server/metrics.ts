import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Hookline } from "../delivery/hookline.js";
import type { DeliveryEvent } from "../delivery/hookline-types.js";
import type { DeliveryStatus } from "../store/store.js";

/** Runs a gauge's store query; when the store is down the gauge keeps its last value and `hookline_store_up` says 0. */
async function unlessStoreDown(read: () => Promise<void>): Promise<void> {
  try {
    await read();
  } catch {
    // reported by hookline_store_up
  }
}

const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "sending", "delivered", "failed", "cancelled"];

/**
 * The server's Prometheus metrics, in a registry of its own (never
 * prom-client's global one, so two servers in a process never clash).
 * Counters and histograms are fed by the engine's events in this process;
 * gauges read the store at scrape time, so they describe every worker.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #hl: Hookline;
  readonly #deliveries: Counter<"outcome">;
  readonly #attemptDuration: Histogram;
  readonly #requests: Counter<"method" | "route" | "status_code">;
  readonly #requestDuration: Histogram<"method" | "route">;
  readonly #listeners: Array<[string, (event: DeliveryEvent) => void]>;
  readonly #inbound: Counter<"result" | "provider">;

  constructor(hl: Hookline) {
    this.#hl = hl;
    const registers = [this.registry];
    this.#deliveries = new Counter({
      name: "hookline_deliveries_total",
      help: "Delivery attempts completed by this process's workers, by outcome: succeeded, failed (another attempt is scheduled) or exhausted (no attempt left).",
      labelNames: ["outcome"],
      registers,
    });
    for (const outcome of ["succeeded", "failed", "exhausted"]) this.#deliveries.inc({ outcome }, 0);
    this.#inbound = new Counter({
      name: "hookline_inbound_requests_total",
      help: "Requests to inbound sources (POST /in/{source_id}), by result: accepted, duplicate (a redelivery), rejected (the signature did not verify), unknown_source, failed.",
      labelNames: ["result", "provider"],
      registers,
    });
    this.#attemptDuration = new Histogram({
      name: "hookline_attempt_duration_seconds",
      help: "Duration of delivery attempts made by this process's workers.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: "hookline_queue_depth",
      help: "Deliveries in the store, by status (pending and sending are the queue).",
      labelNames: ["status"],
      registers,
      collect: async function (this: Gauge<"status">) {
        await unlessStoreDown(async () => {
          const counts = await hl.store.countDeliveries();
          for (const status of DELIVERY_STATUSES) this.set({ status }, counts[status]);
        });
      },
    });
    new Gauge({
      name: "hookline_oldest_due_delivery_age_seconds",
      help: "How long the earliest due delivery has been waiting (0 when nothing is overdue).",
      registers,
      collect: async function (this: Gauge) {
        await unlessStoreDown(async () => {
          const dueAt = await hl.store.nextDueAt();
          this.set(dueAt === null ? 0 : Math.max(0, Date.now() - dueAt) / 1000);
        });
      },
    });
    new Gauge({
      name: "hookline_endpoints_disabled",
      help: "Endpoints that are disabled (by hand, after a 410, or after failing too long).",
      registers,
      collect: async function (this: Gauge) {
        await unlessStoreDown(async () => {
          let disabled = 0;
          let cursor: string | undefined;
          for (;;) {
            const page = await hl.store.listEndpoints({ limit: 250, ...(cursor !== undefined && { cursor }) });
            disabled += page.data.filter((e) => e.disabled).length;
            if (page.nextCursor === null) break;
            cursor = page.nextCursor;
          }
          this.set(disabled);
        });
      },
    });
    new Gauge({
      name: "hookline_store_up",
      help: "1 when the store answered the last scrape's ping, else 0.",
      registers,
      collect: async function (this: Gauge) {
        try {
          await hl.store.ping();
          this.set(1);
        } catch {
          this.set(0);
        }
      },
    });
    this.#requests = new Counter({
      name: "hookline_http_requests_total",
      help: "HTTP requests answered by the API, by method, route template and status code.",
      labelNames: ["method", "route", "status_code"],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: "hookline_http_request_duration_seconds",
      help: "Time to answer HTTP requests, by method and route template.",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const onAttempt = (outcome: string) => (event: DeliveryEvent) => {
      this.#deliveries.inc({ outcome });
      this.#attemptDuration.observe(event.attempt.durationMs / 1000);
    };
    this.#listeners = [
      ["delivery:succeeded", onAttempt("succeeded")],
      ["delivery:failed", onAttempt("failed")],
      ["delivery:exhausted", onAttempt("exhausted")],
    ];
    for (const [name, listener] of this.#listeners) {
      hl.on(name as "delivery:succeeded", listener);
    }
  }

  /** One request to an inbound source; the provider is known once the source is found. */
  observeInbound(result: string, provider = ""): void {
    this.#inbound.inc({ result, provider });
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.#requests.inc({ method, route, status_code: String(statusCode) });
    this.#requestDuration.observe({ method, route }, seconds);
  }

  /** The exposition text; a store that fails leaves its gauges at their last values. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops listening to the engine. */
  close(): void {
    for (const [name, listener] of this.#listeners) this.#hl.off(name as "delivery:succeeded", listener);
  }
}

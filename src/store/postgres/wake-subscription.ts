import type { Client, ClientConfig } from "pg";

type PgModule = typeof import("pg").default;

const RECONNECT_MIN_DELAY_MS = 100;
const RECONNECT_MAX_DELAY_MS = 5_000;

/**
 * One LISTEN connection of its own (a pooled one would be handed to other
 * queries). When the connection drops it reconnects with a bounded backoff
 * and wakes the listener once, since notifications sent meanwhile are lost.
 */
export class WakeSubscription {
  readonly #pg: PgModule;
  readonly #config: ClientConfig;
  readonly #channel: string;
  readonly #listener: () => void;
  readonly #onStop: () => void;
  #client: Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(pg: PgModule, config: ClientConfig, channel: string, listener: () => void, onStop: () => void) {
    this.#pg = pg;
    this.#config = config;
    this.#channel = channel;
    this.#listener = listener;
    this.#onStop = onStop;
  }

  /** Connects and listens; rejects if the first connection fails. */
  start(): Promise<void> {
    return this.#connect();
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      const client = this.#client;
      this.#client = null;
      this.#onStop();
      await client?.end().catch(() => {});
    })();
    return this.#stopping;
  }

  async #connect(): Promise<void> {
    const client = new this.#pg.Client(this.#config);
    let live = false;
    const dropped = () => {
      if (!live) return; // a failure while connecting rejects #connect instead
      live = false;
      this.#dropped(client);
    };
    // Listening for 'error' is what keeps a dropped connection from crashing the process.
    client.on("error", dropped);
    client.on("end", dropped);
    client.on("notification", (notification) => {
      if (notification.channel === this.#channel) this.#wake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    live = true;
    this.#client = client;
  }

  #dropped(client: Client): void {
    if (this.#client !== client || this.#stopped) return;
    this.#client = null;
    client.end().catch(() => {});
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const delayMs = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_MIN_DELAY_MS * 2 ** this.#failures);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect().then(
        () => {
          this.#failures = 0;
          if (!this.#stopped) this.#wake();
        },
        () => {
          this.#failures++;
          this.#scheduleReconnect();
        },
      );
    }, delayMs);
    this.#timer.unref();
  }

  #wake(): void {
    try {
      this.#listener();
    } catch {
      // A throwing listener must not take the connection down; the worker's poll still runs.
    }
  }
}

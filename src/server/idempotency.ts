import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Store } from "../store/store.js";
import { ApiError } from "./errors.js";
import { stateOf } from "./state.js";

const NAMESPACE = "idempotency";
/** A record answers replays for this long. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A record still `pending` after this long belongs to a request that died: the key may be used again. */
const PENDING_TIMEOUT_MS = 60_000;
const MAX_KEY_LENGTH = 256;
const SWEEP_INTERVAL_MS = 10 * 60_000;
const SWEEP_PAGES_PER_RUN = 20;

interface IdempotencyRecord {
  state: "pending" | "done";
  fingerprint: string;
  status?: number;
  contentType?: string;
  body?: string;
  createdAt: number;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * `Idempotency-Key` on POST: the first response to a key (status and body) is
 * kept in the store's documents for 24 h and replayed to any request with the
 * same key and the same method, URL and body; the same key with another
 * request is a 409 `idempotency_key_reused`, and while the first request is
 * still running a 409 `idempotency_key_in_use`. Records are scoped by API key
 * id, so two tenants' keys never collide. 5xx responses are not kept, so a
 * retry after a server error runs again.
 */
export class Idempotency {
  readonly #store: Store;
  readonly #now: () => number;
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweepCursor: string | undefined;
  #sweeping: Promise<unknown> | null = null;

  constructor(store: Store, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  /** preHandler of every POST route: replays, refuses, or takes the key for this request. */
  async begin(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const header = request.headers["idempotency-key"];
    if (header === undefined) return undefined;
    const key = Array.isArray(header) ? header[0] : header;
    if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new ApiError(400, "bad_request", `Idempotency-Key must be 1–${MAX_KEY_LENGTH} characters`);
    }
    const state = stateOf(request);
    const scope = state.apiKey?.id ?? "anonymous";
    const documentKey = `${scope}:${sha256(key)}`;
    const fingerprint = sha256(`${request.method} ${request.url}\n${state.rawBody ?? ""}`);
    const now = this.#now();
    const record: IdempotencyRecord = { state: "pending", fingerprint, createdAt: now };
    for (let tries = 0; tries < 3; tries++) {
      const taken = await this.#store.putDocument(
        { namespace: NAMESPACE, key: documentKey, value: JSON.stringify(record), createdAt: now, updatedAt: now },
        { onlyIfAbsent: true },
      );
      if (taken) {
        state.idempotencyKey = documentKey;
        state.idempotencyFingerprint = fingerprint;
        return undefined;
      }
      const existing = await this.#store.getDocument(NAMESPACE, documentKey);
      if (existing === null) continue; // deleted in between: try to take it again
      const previous = JSON.parse(existing.value) as IdempotencyRecord;
      const expired =
        now - previous.createdAt >= IDEMPOTENCY_TTL_MS ||
        (previous.state === "pending" && now - existing.updatedAt >= PENDING_TIMEOUT_MS);
      if (expired) {
        await this.#store.deleteDocument(NAMESPACE, documentKey);
        continue;
      }
      if (previous.fingerprint !== fingerprint) {
        throw new ApiError(
          409,
          "idempotency_key_reused",
          "this Idempotency-Key was used with another request (method, URL or body) in the last 24 h",
        );
      }
      if (previous.state === "pending") {
        throw new ApiError(409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running");
      }
      reply.code(previous.status ?? 200).header("idempotent-replayed", "true");
      if (previous.contentType) reply.header("content-type", previous.contentType);
      return reply.send(previous.body === "" ? undefined : previous.body);
    }
    throw new ApiError(409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running");
  }

  /** onSend of every POST route: keeps the response for replays (or lets the key go after a 5xx). */
  async complete(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<void> {
    const state = stateOf(request);
    const documentKey = state.idempotencyKey;
    const fingerprint = state.idempotencyFingerprint;
    if (documentKey === undefined || fingerprint === undefined) return;
    state.idempotencyKey = undefined;
    if (reply.statusCode >= 500) {
      await this.#store.deleteDocument(NAMESPACE, documentKey);
      return;
    }
    const existing = await this.#store.getDocument(NAMESPACE, documentKey);
    const now = this.#now();
    const record: IdempotencyRecord = {
      state: "done",
      fingerprint,
      status: reply.statusCode,
      contentType: String(reply.getHeader("content-type") ?? ""),
      body: typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString("utf8") : "",
      createdAt: existing ? (JSON.parse(existing.value) as IdempotencyRecord).createdAt : now,
    };
    await this.#store.putDocument({
      namespace: NAMESPACE,
      key: documentKey,
      value: JSON.stringify(record),
      createdAt: record.createdAt,
      updatedAt: now,
    });
  }

  /** Deletes expired records in the background every 10 minutes, a few pages at a time. */
  startSweeping(onError: (error: unknown) => void): void {
    if (this.#sweepTimer !== null) return;
    this.#sweepTimer = setInterval(() => {
      this.#sweeping ??= this.sweep()
        .catch(onError)
        .finally(() => {
          this.#sweeping = null;
        });
    }, SWEEP_INTERVAL_MS);
    this.#sweepTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    await this.#sweeping;
  }

  /** One sweep step: up to 20 pages from where the last one stopped; resolves with how many records went. */
  async sweep(): Promise<number> {
    const now = this.#now();
    let removed = 0;
    for (let pages = 0; pages < SWEEP_PAGES_PER_RUN; pages++) {
      const page = await this.#store.listDocuments(NAMESPACE, {
        limit: 250,
        ...(this.#sweepCursor !== undefined && { cursor: this.#sweepCursor }),
      });
      for (const document of page.data) {
        const record = JSON.parse(document.value) as IdempotencyRecord;
        if (now - record.createdAt >= IDEMPOTENCY_TTL_MS) {
          await this.#store.deleteDocument(NAMESPACE, document.key);
          removed++;
        }
      }
      this.#sweepCursor = page.nextCursor ?? undefined;
      if (page.nextCursor === null) break;
    }
    return removed;
  }
}

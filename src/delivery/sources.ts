import type { Clock } from "../core/clock.js";
import { ConfigurationError, NotFoundError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { pageLimit } from "../store/paging.js";
import type { Page, PageOptions, Store } from "../store/store.js";

const NAMESPACE = "source";

/** The providers an inbound source verifies (the names `verifyWebhook` of `hookline/receive` takes). */
export const SOURCE_PROVIDERS = ["standard", "hookline", "stripe", "github", "gitlab", "shopify", "slack"] as const;
export type SourceProvider = (typeof SOURCE_PROVIDERS)[number];

/**
 * An inbound source: a URL (`POST /in/{id}`) where a provider (GitHub,
 * Stripe, …) sends its webhooks. A request that verifies with the source's
 * secret becomes a message of the app.
 */
export interface InboundSource {
  id: string;
  appId: string;
  name: string;
  provider: SourceProvider;
  createdAt: number;
  updatedAt: number;
}

/** A source with its signing secrets (the first is the current one), as `sources.get` reads it for verification. */
export interface InboundSourceWithSecrets extends InboundSource {
  secrets: string[];
}

const MAX_SECRET_LENGTH = 1_024;

function requireSecret(secret: unknown): string {
  if (typeof secret !== "string" || secret.length === 0 || secret.length > MAX_SECRET_LENGTH) {
    throw new ConfigurationError(
      "HOOKLINE_SECRET_INVALID",
      `a source's secret must be a non-empty string of ≤ ${MAX_SECRET_LENGTH} characters`,
    );
  }
  return secret;
}

/**
 * Inbound sources, kept as documents of the store with the whole record
 * sealed (`Store.seal`): the providers' secrets are encrypted at rest like
 * endpoint secrets, and re-encrypted by a key rotation.
 */
export class Sources {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async create(input: {
    appId: string;
    provider: SourceProvider;
    secret: string;
    name?: string;
  }): Promise<InboundSource> {
    if (!SOURCE_PROVIDERS.includes(input.provider)) {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        `provider must be one of ${SOURCE_PROVIDERS.join(", ")}, not ${JSON.stringify(input.provider)}`,
      );
    }
    const now = this.#clock.now();
    const source: InboundSourceWithSecrets = {
      id: newId("src", now),
      appId: input.appId,
      name: input.name ?? input.provider,
      provider: input.provider,
      secrets: [requireSecret(input.secret)],
      createdAt: now,
      updatedAt: now,
    };
    await this.#write(source, now);
    return withoutSecrets(source);
  }

  /** The source with its secrets; NotFoundError when there is none. */
  async get(id: string): Promise<InboundSourceWithSecrets> {
    const document = typeof id === "string" && id.length <= 64 ? await this.#store.getDocument(NAMESPACE, id) : null;
    if (!document) throw new NotFoundError(`source ${JSON.stringify(id)} not found`);
    return JSON.parse(this.#store.unseal(document.value)) as InboundSourceWithSecrets;
  }

  /** An app's sources, newest first (oldest first with `order: "ascending"`). */
  async list(appId: string, options: PageOptions = {}): Promise<Page<InboundSource>> {
    const ascending = options.order === "ascending";
    const cursor = options.cursor;
    const mine = (await this.#ofApp(appId)).sort((a, b) => (a.id < b.id === ascending ? -1 : 1));
    const from = cursor === undefined ? mine : mine.filter((s) => (ascending ? s.id > cursor : s.id < cursor));
    const limit = pageLimit(options);
    const data = from.slice(0, limit);
    return { data, nextCursor: from.length > limit ? (data[data.length - 1]?.id ?? null) : null };
  }

  /** Replaces the secret (providers switch at once, so the old one stops verifying now). */
  async rotateSecret(id: string, secret: string): Promise<InboundSource> {
    const source = await this.get(id);
    const now = this.#clock.now();
    const updated = { ...source, secrets: [requireSecret(secret)], updatedAt: now };
    await this.#write(updated, now);
    return withoutSecrets(updated);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.#store.deleteDocument(NAMESPACE, id)))
      throw new NotFoundError(`source ${JSON.stringify(id)} not found`);
  }

  /** Removes every source of an app (when the app is deleted); resolves with how many. */
  async deleteForApp(appId: string): Promise<number> {
    const doomed = await this.#ofApp(appId);
    for (const source of doomed) await this.#store.deleteDocument(NAMESPACE, source.id);
    return doomed.length;
  }

  /** Every source of an app, without secrets, read in one walk of the documents (sources are few). */
  async #ofApp(appId: string): Promise<InboundSource[]> {
    const sources: InboundSource[] = [];
    let next: string | undefined;
    do {
      const page = await this.#store.listDocuments(NAMESPACE, { limit: 250, ...(next && { cursor: next }) });
      for (const d of page.data) {
        const source = JSON.parse(this.#store.unseal(d.value)) as InboundSourceWithSecrets;
        if (source.appId === appId) sources.push(withoutSecrets(source));
      }
      next = page.nextCursor ?? undefined;
    } while (next !== undefined);
    return sources;
  }

  async #write(source: InboundSourceWithSecrets, now: number): Promise<void> {
    await this.#store.putDocument({
      namespace: NAMESPACE,
      key: source.id,
      value: this.#store.seal(JSON.stringify(source)),
      createdAt: source.createdAt,
      updatedAt: now,
    });
  }
}

function withoutSecrets(source: InboundSourceWithSecrets): InboundSource {
  const { secrets: _secrets, ...rest } = source;
  return rest;
}

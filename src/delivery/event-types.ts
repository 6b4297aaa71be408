import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { ConfigurationError, ConflictError, NotFoundError } from "../core/errors.js";
import { requireText } from "../core/models.js";
import type { Page, PageOptions, Store } from "../store/store.js";
import { ReadCache } from "./read-cache.js";

const NAMESPACE = "event_type";
const NAME = /^[a-zA-Z0-9\-_.]{1,256}$/;

/** A declared kind of message, optionally with JSON Schemas its payloads must satisfy. */
export interface EventType {
  name: string;
  description: string;
  /** JSON Schemas by version (`{ "1": { type: "object", … } }`, as Svix keeps them); the highest version validates. */
  schemas: Record<string, unknown> | null;
  archived: boolean;
  featureFlag: string | null;
  createdAt: number;
  updatedAt: number;
}

export type EventTypeInput = Partial<Omit<EventType, "createdAt" | "updatedAt" | "name">> & { name: string };

/** One problem found in a payload: where, and what is wrong. */
export interface PayloadIssue {
  path: Array<string | number>;
  message: string;
}

/** A payload that does not match its event type's schema; `issues` name the fields. */
export class PayloadValidationError extends ConfigurationError {
  readonly issues: PayloadIssue[];

  constructor(eventType: string, issues: PayloadIssue[]) {
    const first = issues[0];
    const where = first && first.path.length > 0 ? first.path.join(".") : "payload";
    super(
      "HOOKLINE_PAYLOAD_INVALID",
      `payload does not match the schema of event type ${eventType}: ${where}: ${first?.message ?? "invalid"}`,
    );
    this.issues = issues;
  }
}

/**
 * The event type catalogue, kept in the store so every process sees the same
 * one. Payloads sent with a type that has a schema are validated against it.
 */
export class EventTypes {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #validators = new Map<string, { updatedAt: number; schema: z.ZodType | null }>();
  /** What `validatePayload` looked up, for a short while (see ReadCache). */
  readonly #cache: ReadCache<EventType | null>;
  /** What `listAll()` read, as long. */
  readonly #catalogue: ReadCache<EventType[]>;

  constructor(store: Store, clock: Clock, readCacheTtlMs = 0) {
    this.#store = store;
    this.#clock = clock;
    this.#cache = new ReadCache(readCacheTtlMs);
    this.#catalogue = new ReadCache(readCacheTtlMs);
  }

  async create(input: EventTypeInput): Promise<EventType> {
    const name = validName(input?.name);
    const now = this.#clock.now();
    const eventType: EventType = {
      name,
      description: "",
      schemas: null,
      archived: false,
      featureFlag: null,
      createdAt: now,
      updatedAt: now,
      ...validFields(input),
    };
    const created = await this.#store.putDocument(
      { namespace: NAMESPACE, key: name, value: JSON.stringify(eventType), createdAt: now, updatedAt: now },
      { onlyIfAbsent: true },
    );
    this.#clearCaches();
    if (!created) throw new ConflictError(`event type ${name} exists`);
    return eventType;
  }

  async get(name: string): Promise<EventType> {
    const found = await this.find(name);
    if (!found) throw new NotFoundError(`event type ${JSON.stringify(name)} not found`);
    return found;
  }

  async find(name: string): Promise<EventType | null> {
    if (typeof name !== "string" || !NAME.test(name)) return null;
    const document = await this.#store.getDocument(NAMESPACE, name);
    return document ? (JSON.parse(document.value) as EventType) : null;
  }

  async list(options: PageOptions & { includeArchived?: boolean } = {}): Promise<Page<EventType>> {
    const page = await this.#store.listDocuments(NAMESPACE, options);
    const data = page.data.map((d) => JSON.parse(d.value) as EventType);
    return { data: options.includeArchived ? data : data.filter((t) => !t.archived), nextCursor: page.nextCursor };
  }

  /**
   * Every event type that is not archived, all pages read. Kept as long as
   * `validatePayload`'s lookups (`readCacheTtlMs`), and concurrent calls share
   * one read, so a public document built from it costs the store little.
   */
  listAll(): Promise<EventType[]> {
    return this.#catalogue.get("", async () => {
      const all: EventType[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.list({ limit: 250, ...(cursor && { cursor }) });
        all.push(...page.data);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return all;
    });
  }

  #clearCaches(): void {
    this.#cache.clear();
    this.#catalogue.clear();
  }

  /** Replaces the given fields; creates the type when `upsert` and it does not exist. */
  async update(name: string, patch: Partial<EventTypeInput>, options: { upsert?: boolean } = {}): Promise<EventType> {
    const existing = await this.find(name);
    if (!existing) {
      if (options.upsert) return this.create({ ...patch, name });
      throw new NotFoundError(`event type ${JSON.stringify(name)} not found`);
    }
    const now = this.#clock.now();
    const updated: EventType = { ...existing, ...validFields(patch), updatedAt: now };
    await this.#store.putDocument({
      namespace: NAMESPACE,
      key: existing.name,
      value: JSON.stringify(updated),
      createdAt: existing.createdAt,
      updatedAt: now,
    });
    this.#clearCaches();
    return updated;
  }

  /** Archives the event type (it stays valid for messages), or removes it with `expunge`. */
  async delete(name: string, options: { expunge?: boolean } = {}): Promise<void> {
    const existing = await this.get(name);
    if (options.expunge) {
      await this.#store.deleteDocument(NAMESPACE, existing.name);
      this.#clearCaches();
    } else if (!existing.archived) await this.update(existing.name, { archived: true });
  }

  /** Throws a {@link PayloadValidationError} when the type has a schema the payload does not satisfy. */
  async validatePayload(eventType: string, payload: unknown): Promise<void> {
    const type = await this.#cache.get(eventType, () => this.find(eventType));
    if (!type?.schemas) return;
    let cached = this.#validators.get(type.name);
    if (!cached || cached.updatedAt !== type.updatedAt) {
      cached = { updatedAt: type.updatedAt, schema: compile(latestSchema(type.schemas)) };
      this.#validators.set(type.name, cached);
    }
    if (!cached.schema) return;
    const result = cached.schema.safeParse(payload);
    if (!result.success) {
      throw new PayloadValidationError(
        type.name,
        result.error.issues.map((issue) => ({
          path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
          message: issue.message,
        })),
      );
    }
  }
}

function validName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      "name must be 1–256 characters of letters, digits, '-', '_' and '.'",
    );
  }
  return name;
}

function validFields(input: Partial<EventTypeInput>): Partial<EventType> {
  const out: Partial<EventType> = {};
  if (input.description !== undefined) {
    requireText("description", input.description, 4096);
    out.description = input.description;
  }
  if (input.archived !== undefined) {
    if (typeof input.archived !== "boolean") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "archived must be a boolean");
    }
    out.archived = input.archived;
  }
  if (input.featureFlag !== undefined) {
    if (input.featureFlag !== null && typeof input.featureFlag !== "string") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "featureFlag must be a string or null");
    }
    out.featureFlag = input.featureFlag;
  }
  if (input.schemas !== undefined) {
    if (input.schemas !== null && (typeof input.schemas !== "object" || Array.isArray(input.schemas))) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", 'schemas must be an object such as { "1": {…} }');
    }
    if (input.schemas !== null) {
      if (JSON.stringify(input.schemas).length > 256 * 1024) {
        throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "schemas are larger than 256 KiB");
      }
      compile(latestSchema(input.schemas)); // refuse a schema we could not enforce
    }
    out.schemas = input.schemas;
  }
  return out;
}

/** The schema of the highest version in Svix's `{ "1": schema, "2": schema }`; undefined when there is none. */
export function latestSchema(schemas: Record<string, unknown>): unknown {
  const versions = Object.keys(schemas).sort((a, b) => Number(b) - Number(a) || (a < b ? 1 : -1));
  return versions.length === 0 ? undefined : schemas[versions[0] as string];
}

function compile(schema: unknown): z.ZodType | null {
  if (schema === undefined) return null;
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      `schemas: not a usable JSON Schema: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

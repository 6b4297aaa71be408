import { ConfigurationError } from "../core/errors.js";
import { type EventType, latestSchema } from "./event-types.js";

/**
 * Event types ↔ the `webhooks` section of an OpenAPI 3.1 document: one
 * webhook per event type, named after it, whose POST request body is the
 * payload's JSON Schema. A schema that refers to parts of itself (`#`,
 * `#/$defs/…`) goes to `components.schemas` (`Webhook.<event>` and
 * `Webhook.<event>.<definition>`), since in an OpenAPI document `#` means the
 * document. Reading does the reverse, so exporting and importing keeps each
 * schema as it was.
 */

type Json = Record<string, unknown>;

const COMPONENTS = "#/components/schemas/";
const PREFIX = "Webhook.";

/** One event type read from an OpenAPI document. */
export interface ImportedEventType {
  name: string;
  description: string;
  /** The payload's JSON Schema, self-contained (`$defs` for what it referred to); undefined when none is given. */
  schema: Json | undefined;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A deep copy of `value` with every `$ref` string passed through `rewrite`. */
function mapRefs(value: unknown, rewrite: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => mapRefs(item, rewrite));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = key === "$ref" && typeof item === "string" ? rewrite(item) : mapRefs(item, rewrite);
  }
  return out;
}

function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found);
  else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string") found.push(item);
      else refs(item, found);
    }
  }
  return found;
}

/** `name`, or `name2`, `name3`… when taken; records the name as taken. */
function unique(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name}${n}`;
  taken.add(candidate);
  return candidate;
}

function decodePointer(segment: string): string {
  return decodeURIComponent(segment).replaceAll("~1", "/").replaceAll("~0", "~");
}

/** The `webhooks` section and the component schemas it refers to, for these event types. */
export function openApiWebhooks(eventTypes: readonly EventType[]): { webhooks: Json; schemas: Json } {
  const webhooks: Json = {};
  const schemas: Json = {};
  const sorted = [...eventTypes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const type of sorted) {
    const schema = type.schemas ? latestSchema(type.schemas) : undefined;
    let body: unknown = schema;
    if (isObject(schema) && refs(schema).some((ref) => ref.startsWith("#"))) {
      const root = `${PREFIX}${type.name}`;
      const taken = new Set(Object.keys(schemas));
      const defNames = new Map<string, string>();
      const { $defs, definitions, ...rest } = schema;
      for (const defs of [$defs, definitions]) {
        if (!isObject(defs)) continue;
        for (const name of Object.keys(defs)) {
          if (!defNames.has(name))
            defNames.set(name, unique(`${root}.${name.replace(/[^A-Za-z0-9._-]/g, "_")}`, taken));
        }
      }
      const rewrite = (ref: string): string => {
        if (ref === "#") return `${COMPONENTS}${root}`;
        const def = /^#\/(?:\$defs|definitions)\/([^/]+)(.*)$/.exec(ref);
        const target = def ? defNames.get(decodePointer(def[1] as string)) : undefined;
        if (def && target) return `${COMPONENTS}${target}${def[2]}`;
        return ref.startsWith("#/") ? `${COMPONENTS}${root}${ref.slice(1)}` : ref;
      };
      schemas[root] = mapRefs(rest, rewrite);
      for (const defs of [definitions, $defs]) {
        if (!isObject(defs)) continue;
        for (const [name, definition] of Object.entries(defs)) {
          schemas[defNames.get(name) as string] = mapRefs(definition, rewrite);
        }
      }
      body = { $ref: `${COMPONENTS}${root}` };
    }
    webhooks[type.name] = {
      post: {
        operationId: `webhook.${type.name}`,
        summary: type.description || type.name,
        description:
          "The payload of this event type. Endpoints get it inside hookline's event envelope (`payload`), or alone for messages sent as Svix sends them.",
        // No schema: any JSON (a media type without one), which reads back as no schema.
        requestBody: { required: true, content: { "application/json": body === undefined ? {} : { schema: body } } },
        responses: { "2XX": { description: "Delivered; any other answer is retried" } },
      },
    };
  }
  return { webhooks, schemas };
}

/** Resolves a local `$ref` (`#/components/…`) of the document, or returns the value as it is. */
function resolve(doc: Json, value: unknown, what: string): unknown {
  if (!isObject(value) || typeof value.$ref !== "string") return value;
  let target: unknown = doc;
  if (!value.$ref.startsWith("#/")) throw invalid(`${what}: only local $refs can be read, got ${value.$ref}`);
  for (const segment of value.$ref.slice(2).split("/")) {
    target = isObject(target) ? target[decodePointer(segment)] : undefined;
  }
  if (target === undefined) throw invalid(`${what}: $ref ${value.$ref} points at nothing`);
  return target;
}

function invalid(message: string): ConfigurationError {
  return new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", message);
}

/**
 * The event types of an OpenAPI 3.1 document's `webhooks` section: name = the
 * webhook's key, schema = its POST request body's `application/json` schema
 * with the component schemas it refers to moved into `$defs`.
 */
export function eventTypesFromOpenApi(doc: unknown): ImportedEventType[] {
  if (!isObject(doc) || !isObject(doc.webhooks)) throw invalid("the document has no webhooks section");
  const components = isObject(doc.components) && isObject(doc.components.schemas) ? doc.components.schemas : {};
  const out: ImportedEventType[] = [];
  for (const name of Object.keys(doc.webhooks).sort()) {
    const item = resolve(doc, doc.webhooks[name], `webhooks.${name}`);
    const operation = isObject(item) ? item.post : undefined;
    if (!isObject(operation)) throw invalid(`webhooks.${name} has no post operation`);
    const requestBody = resolve(doc, operation.requestBody, `webhooks.${name}.post.requestBody`);
    const content = isObject(requestBody) && isObject(requestBody.content) ? requestBody.content : {};
    const media = content["application/json"];
    const schema = isObject(media) ? media.schema : undefined;
    if (schema !== undefined && !isObject(schema)) throw invalid(`webhooks.${name}: the schema is not an object`);
    const description = typeof operation.summary === "string" && operation.summary !== name ? operation.summary : "";
    out.push({ name, description, schema: schema && selfContained(schema, components, `${PREFIX}${name}.`) });
  }
  return out;
}

/**
 * `schema` with the component schemas it reaches moved into `$defs`; a root
 * that is only a `$ref` to a component becomes that component, and refs to it `#`.
 */
function selfContained(schema: Json, components: Json, ownPrefix: string): Json {
  const componentName = (ref: string) =>
    ref.startsWith(COMPONENTS) ? decodePointer(ref.slice(COMPONENTS.length).split("/")[0] as string) : undefined;
  const rootName = Object.keys(schema).length === 1 ? componentName(String(schema.$ref)) : undefined;
  const root = rootName !== undefined && isObject(components[rootName]) ? components[rootName] : schema;
  const taken = new Set(isObject(root.$defs) ? Object.keys(root.$defs) : []);
  const defNames = new Map<string, string>();
  const pending = refs(root);
  while (pending.length > 0) {
    const name = componentName(pending.pop() as string);
    if (name === undefined || name === rootName || defNames.has(name) || !isObject(components[name])) continue;
    defNames.set(name, unique(name.startsWith(ownPrefix) ? name.slice(ownPrefix.length) : name, taken));
    pending.push(...refs(components[name]));
  }
  const rewrite = (ref: string): string => {
    const name = componentName(ref);
    const tail = ref.slice(COMPONENTS.length);
    const rest = tail.includes("/") ? tail.slice(tail.indexOf("/")) : "";
    if (name !== undefined && name === rootName) return `#${rest}`;
    const def = name === undefined ? undefined : defNames.get(name);
    return def === undefined ? ref : `#/$defs/${encodeURIComponent(def).replaceAll("~", "~0")}${rest}`;
  };
  const out = mapRefs(root, rewrite) as Json;
  if (defNames.size === 0) return out;
  const defs: Json = isObject(out.$defs) ? { ...out.$defs } : {};
  for (const [component, def] of [...defNames].sort((a, b) => (a[1] < b[1] ? -1 : 1))) {
    defs[def] = mapRefs(components[component], rewrite);
  }
  return { ...out, $defs: defs };
}

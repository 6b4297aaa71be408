import { ConfigurationError } from "./errors.js";

/**
 * JSON with object keys sorted at every level: the exact bytes hookline signs
 * and sends. Follows `JSON.stringify` semantics (`toJSON`, `undefined`
 * properties dropped) but refuses what would silently lose data: functions,
 * symbols, bigints, non-finite numbers and cycles at any position.
 *
 * @example
 * canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }); // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  // Fast path: a copy whose objects hold their keys in sorted insertion order,
  // serialised by the native JSON.stringify. Anything unusual (an error to
  // report with its path, integer-like or __proto__ keys whose order or
  // meaning a plain object would change) takes the exact slow path below.
  const copy = sortedCopy(value, new Set());
  if (copy !== SLOW) {
    const text = JSON.stringify(copy);
    if (text !== undefined) return text;
  }
  const out = serialize(value, new Set(), "$");
  if (out === undefined) {
    throw new ConfigurationError("HOOKLINE_PAYLOAD_INVALID", "payload is not JSON-serialisable: undefined at $");
  }
  return out;
}

/**
 * JSON of `value` with its keys in its own order (`JSON.stringify`), refusing
 * what {@link canonicalJson} refuses. Plain JSON data — what a parsed request
 * body holds — is checked by one walk that allocates nothing; anything else
 * (class instances, `toJSON`, `undefined` members, deep or cyclic values)
 * goes through canonicalJson's checks, which name the offending path.
 *
 * @example
 * plainJson({ b: 1, a: 2 }); // '{"b":1,"a":2}'
 */
export function plainJson(value: unknown): string {
  if (!isPlainData(value, 0)) canonicalJson(value);
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new ConfigurationError("HOOKLINE_PAYLOAD_INVALID", "payload is not JSON-serialisable: undefined at $");
  }
  return text;
}

const PLAIN_DEPTH = 64;

function isPlainData(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainData(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) if (!isPlainData((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

function invalid(path: string, what: string): ConfigurationError {
  return new ConfigurationError("HOOKLINE_PAYLOAD_INVALID", `payload is not JSON-serialisable: ${what} at ${path}`);
}

function serialize(input: unknown, seen: Set<object>, path: string): string | undefined {
  let value = input;
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: (key: string) => unknown }).toJSON("");
  }
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw invalid(path, String(value));
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return undefined;
    case "bigint":
      throw invalid(path, "a bigint");
    case "function":
      throw invalid(path, "a function");
    case "symbol":
      throw invalid(path, "a symbol");
  }
  if (value === null) return "null";
  const object = value as object;
  if (seen.has(object)) throw invalid(path, "a circular reference");
  seen.add(object);
  let result: string;
  if (Array.isArray(object)) {
    const items = object.map((item, index) => serialize(item, seen, `${path}[${index}]`) ?? "null");
    result = `[${items.join(",")}]`;
  } else {
    const record = object as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const item = serialize(record[key], seen, `${path}.${key}`);
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
    }
    result = `{${parts.join(",")}}`;
  }
  seen.delete(object);
  return result;
}

const SLOW: unique symbol = Symbol("slow");
const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

function sortedCopy(input: unknown, seen: Set<object>): unknown {
  let value = input;
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: (key: string) => unknown }).toJSON("");
  }
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return value;
    case "number":
      return Number.isFinite(value) ? value : SLOW;
    case "object":
      break;
    default:
      return SLOW;
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return SLOW;
  seen.add(object);
  let result: unknown;
  if (Array.isArray(object)) {
    const items: unknown[] = new Array(object.length);
    for (let i = 0; i < object.length; i++) {
      const item = sortedCopy(object[i], seen);
      if (item === SLOW) return SLOW;
      items[i] = item;
    }
    result = items;
  } else {
    const record = object as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const c = key.charCodeAt(0);
      if ((c >= 48 && c <= 57 && INDEX_LIKE.test(key)) || key === "__proto__") return SLOW;
      const item = sortedCopy(record[key], seen);
      if (item === SLOW) return SLOW;
      out[key] = item;
    }
    result = out;
  }
  seen.delete(object);
  return result;
}

import { ConfigurationError } from "../core/errors.js";

/**
 * Payload filters: an endpoint's `filter` decides, at fan-out, whether a
 * message's payload (as it is sent, its JSON) gets a delivery there. The
 * language is the JSON one of Convoy and Outpost, with its semantics pinned
 * down here.
 *
 * - A filter is an object; all of its entries must hold (`{}` takes every
 *   payload). An entry is `"$and": [filter, …]`, `"$or": [filter, …]`,
 *   `"$not": filter`, or `"<path>": condition`.
 * - A path is dotted (`customer.address.country`). A segment names an object's
 *   own property; on an array, a numeric segment (`items.0.sku`) picks that
 *   element, any other segment applies to every element (`items.sku`). A
 *   field that is missing, or a path that runs into a scalar, resolves to
 *   nothing. An array at the end of the path contributes itself and each of
 *   its elements. A condition on the path holds when it holds for any value
 *   the path resolves to.
 * - A condition is a plain value (`$eq` of it), or an object of operators, all
 *   of which must hold: `$eq`/`$neq` (JSON equality: scalars strictly, `1` is
 *   not `"1"`; arrays in order and objects by their entries, deeply),
 *   `$gt`/`$gte`/`$lt`/`$lte` (a number or a string; only a number compares
 *   with a number and a string with a string, by UTF-16 code units, anything
 *   else does not hold), `$in`/`$nin` (a list of scalars: strings, numbers,
 *   booleans, null), `$exist` (true: the path resolves to something, even
 *   null; false: it does not), `$regex` (a string, or `{ pattern, flags }`
 *   with flags among `i`, `m`, `s`; only strings match), and `$not`, `$and`,
 *   `$or` over conditions. `$neq`, `$nin` and `$not` are exact negations of
 *   `$eq`, `$in` and their condition: a missing field satisfies them.
 * - `$regex` patterns are compiled with the `u` flag and must not backtrack
 *   catastrophically: backreferences are refused, as is a repeating quantifier
 *   (anything but `?`, `{0,1}`, `{1}`) on a group that holds a variable-length
 *   quantifier or an alternation, and a pattern may hold at
 *   most two variable-length quantifiers (`*`, `+`, `?`, `{n,}`, `{n,m}`). A
 *   match looks at the first 4096 UTF-16 code units of the string, or the
 *   first 256 when the pattern has two variable-length quantifiers, which
 *   bounds its worst case to milliseconds.
 * - Limits: nesting depth 10, 64 clauses (paths, operators and logical
 *   entries), 1,000 entries per `$in`/`$nin` list, 256 characters per path
 *   and per pattern, 64 KiB of filter JSON.
 */

/** A compiled filter: whether a payload (parsed JSON) matches. Never throws. */
export type FilterEvaluator = (payload: unknown) => boolean;

export const FILTER_LIMITS = {
  depth: 10,
  clauses: 64,
  inListSize: 1000,
  pathLength: 256,
  patternLength: 256,
  jsonBytes: 64 * 1024,
  /** Code units of a string a `$regex` looks at… */
  regexInput: 4096,
  /** …and when its pattern has two variable-length quantifiers. */
  regexInputTwoQuantifiers: 256,
} as const;

const MAX_VARIABLE_QUANTIFIERS = 2;
/** Nested arrays walked through on a path before giving up (a payload cannot make evaluation recurse without bound). */
const MAX_ARRAY_NESTING = 32;
const REGEX_FLAGS = new Set(["i", "m", "s"]);

type Test = (value: unknown) => boolean;
type Evaluate = (root: unknown) => boolean;

/**
 * Validates `filter` once and returns its evaluator. Throws a
 * ConfigurationError (`HOOKLINE_CONFIGURATION_INVALID`) whose message starts
 * with `filter` and names the offending operator and where it is.
 *
 * @example
 * const matches = compileFilter({ amount: { $gte: 100 }, "customer.country": { $in: ["DE", "FR"] } });
 * matches({ amount: 250, customer: { country: "DE" } }); // true
 */
export function compileFilter(filter: unknown): FilterEvaluator {
  let text: string | undefined;
  try {
    text = JSON.stringify(filter);
  } catch (error) {
    throw invalid("is not JSON", "", error);
  }
  if (text !== undefined && text.length > FILTER_LIMITS.jsonBytes) {
    throw invalid(`is over ${FILTER_LIMITS.jsonBytes} bytes of JSON`, "");
  }
  const evaluate = new Compiler().filter(filter, "", 1);
  return (payload) => {
    try {
      return evaluate(payload);
    } catch {
      // Parsed JSON cannot throw here; a hand-built object with a throwing getter does not match.
      return false;
    }
  };
}

function invalid(problem: string, where: string, cause?: unknown): ConfigurationError {
  return new ConfigurationError(
    "HOOKLINE_CONFIGURATION_INVALID",
    `filter${where === "" ? "" : ` at ${where}`} ${problem}`,
    cause === undefined ? undefined : { cause },
  );
}

const at = (where: string, key: string): string => (where === "" ? key : `${where}.${key}`);
const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};
const isScalar = (value: unknown): boolean =>
  value === null || typeof value === "string" || typeof value === "boolean" || isFiniteNumber(value);
const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

class Compiler {
  #clauses = 0;

  #count(where: string, depth: number): void {
    if (++this.#clauses > FILTER_LIMITS.clauses) throw invalid(`has more than ${FILTER_LIMITS.clauses} clauses`, where);
    if (depth > FILTER_LIMITS.depth) throw invalid(`nests deeper than ${FILTER_LIMITS.depth} levels`, where);
  }

  filter(value: unknown, where: string, depth: number): Evaluate {
    if (!isPlainObject(value)) throw invalid("must be an object", where);
    const parts: Evaluate[] = [];
    for (const [key, operand] of Object.entries(value)) {
      const here = at(where, key);
      this.#count(here, depth);
      if (key === "$and" || key === "$or") {
        const items = this.#list(operand, here).map((item, i) => this.filter(item, `${here}[${i}]`, depth + 1));
        parts.push(key === "$and" ? all(items) : any(items));
      } else if (key === "$not") {
        const inner = this.filter(operand, here, depth + 1);
        parts.push((root) => !inner(root));
      } else if (key.startsWith("$")) {
        throw invalid(
          `has an unknown operator ${JSON.stringify(key)}; at the top of a filter only $and, $or and $not`,
          here,
        );
      } else {
        parts.push(this.condition(operand, parsePath(key, here), here, depth + 1));
      }
    }
    return all(parts);
  }

  #list(operand: unknown, where: string): unknown[] {
    if (!Array.isArray(operand) || operand.length === 0) throw invalid("must be a non-empty array", where);
    return operand;
  }

  /** A condition on the values `path` resolves to. */
  condition(value: unknown, path: Path, where: string, depth: number): Evaluate {
    if (!isPlainObject(value) || !Object.keys(value).some((key) => key.startsWith("$"))) {
      return this.#operator("$eq", value, path, where, depth);
    }
    const parts: Evaluate[] = [];
    for (const [key, operand] of Object.entries(value)) {
      const here = at(where, key);
      if (!key.startsWith("$")) {
        throw invalid(`mixes the field ${JSON.stringify(key)} with operators; use a dotted path instead`, here);
      }
      this.#count(here, depth);
      parts.push(this.#operator(key, operand, path, here, depth));
    }
    return all(parts);
  }

  #operator(op: string, operand: unknown, path: Path, where: string, depth: number): Evaluate {
    switch (op) {
      case "$eq":
        return some(path, equalTo(operand, where, depth));
      case "$neq":
        return not(some(path, equalTo(operand, where, depth)));
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        return some(path, comparison(op, operand, where));
      case "$in":
        return some(path, memberOf(operand, where));
      case "$nin":
        return not(some(path, memberOf(operand, where)));
      case "$exist":
        if (typeof operand !== "boolean") throw invalid("$exist must be true or false", where);
        return operand ? some(path, () => true) : not(some(path, () => true));
      case "$regex":
        return some(path, regexTest(operand, where));
      case "$not":
        return not(this.condition(operand, path, where, depth + 1));
      case "$and":
      case "$or": {
        const items = this.#list(operand, where).map((item, i) =>
          this.condition(item, path, `${where}[${i}]`, depth + 1),
        );
        return op === "$and" ? all(items) : any(items);
      }
      default:
        throw invalid(
          `has an unknown operator ${JSON.stringify(op)}; use $eq $neq $gt $gte $lt $lte $in $nin $exist $regex $and $or $not`,
          where,
        );
    }
  }
}

const all = (parts: Evaluate[]): Evaluate => {
  if (parts.length === 1) return parts[0] as Evaluate;
  return (root) => {
    for (const part of parts) if (!part(root)) return false;
    return true;
  };
};

const any =
  (parts: Evaluate[]): Evaluate =>
  (root) => {
    for (const part of parts) if (part(root)) return true;
    return false;
  };

const not =
  (inner: Evaluate): Evaluate =>
  (root) =>
    !inner(root);

// ---- paths -----------------------------------------------------------------

interface Path {
  segments: string[];
  /** Per segment: the array index it names, or -1 when it is not a canonical non-negative integer. */
  indexes: number[];
}

function parsePath(key: string, where: string): Path {
  if (key.length > FILTER_LIMITS.pathLength)
    throw invalid(`has a path over ${FILTER_LIMITS.pathLength} characters`, where);
  const segments = key.split(".");
  if (segments.some((segment) => segment.length === 0))
    throw invalid(`has an empty segment in the path ${JSON.stringify(key)}`, where);
  const indexes = segments.map((segment) => (/^(0|[1-9]\d{0,8})$/.test(segment) ? Number(segment) : -1));
  return { segments, indexes };
}

/** Whether `test` holds for any value `path` resolves to in the payload. */
function some(path: Path, test: Test): Evaluate {
  const { segments, indexes } = path;
  const last = segments.length;
  const walk = (start: unknown, from: number, arrays: number): boolean => {
    let value = start;
    for (let i = from; i < last; i++) {
      if (typeof value !== "object" || value === null) return false;
      if (Array.isArray(value)) {
        const index = indexes[i] as number;
        if (index >= 0) {
          if (index >= value.length) return false;
          value = value[index];
          continue;
        }
        if (arrays >= MAX_ARRAY_NESTING) return false;
        for (const element of value) if (walk(element, i, arrays + 1)) return true;
        return false;
      }
      const segment = segments[i] as string;
      if (!Object.hasOwn(value, segment)) return false;
      value = (value as Record<string, unknown>)[segment];
    }
    if (test(value)) return true;
    if (Array.isArray(value)) for (const element of value) if (test(element)) return true;
    return false;
  };
  return (root) => walk(root, 0, 0);
}

// ---- operands --------------------------------------------------------------

function equalTo(operand: unknown, where: string, depth: number): Test {
  requireJson(operand, where, depth);
  if (typeof operand !== "object" || operand === null) return (value) => value === operand;
  return (value) => jsonEqual(value, operand);
}

/** A filter literal: JSON only, within the depth limit. */
function requireJson(value: unknown, where: string, depth: number): void {
  if (depth > FILTER_LIMITS.depth) throw invalid(`nests deeper than ${FILTER_LIMITS.depth} levels`, where);
  if (isScalar(value)) return;
  if (Array.isArray(value)) {
    for (const item of value) requireJson(item, where, depth + 1);
    return;
  }
  if (!isPlainObject(value)) throw invalid("holds a value that is not JSON", where);
  for (const item of Object.values(value)) requireJson(item, where, depth + 1);
}

/** JSON equality; `expected` is a validated literal, so the recursion is as deep as the filter at most. */
function jsonEqual(value: unknown, expected: unknown): boolean {
  if (typeof expected !== "object" || expected === null) return value === expected;
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(expected)) {
    if (!Array.isArray(value) || value.length !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (!jsonEqual(value[i], expected[i])) return false;
    return true;
  }
  if (Array.isArray(value)) return false;
  const keys = Object.keys(expected);
  if (Object.keys(value).length !== keys.length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(value, key)) return false;
    if (!jsonEqual((value as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key])) return false;
  }
  return true;
}

function comparison(op: "$gt" | "$gte" | "$lt" | "$lte", operand: unknown, where: string): Test {
  if (!isFiniteNumber(operand) && typeof operand !== "string")
    throw invalid(`${op} must be a number or a string`, where);
  const type = typeof operand;
  const bound = operand as number | string;
  switch (op) {
    case "$gt":
      return (value) => typeof value === type && (value as typeof bound) > bound;
    case "$gte":
      return (value) => typeof value === type && (value as typeof bound) >= bound;
    case "$lt":
      return (value) => typeof value === type && (value as typeof bound) < bound;
    case "$lte":
      return (value) => typeof value === type && (value as typeof bound) <= bound;
  }
}

function memberOf(operand: unknown, where: string): Test {
  if (!Array.isArray(operand) || operand.length > FILTER_LIMITS.inListSize || !operand.every(isScalar)) {
    throw invalid(`must be a list of at most ${FILTER_LIMITS.inListSize} strings, numbers, booleans or nulls`, where);
  }
  const members = new Set(operand);
  return (value) => members.has(value);
}

// ---- $regex ----------------------------------------------------------------

function regexTest(operand: unknown, where: string): Test {
  const { pattern, flags } = regexOperand(operand, where);
  if (pattern.length > FILTER_LIMITS.patternLength) {
    throw invalid(`$regex pattern is over ${FILTER_LIMITS.patternLength} characters`, where);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, `${flags}u`);
  } catch (error) {
    throw invalid(`$regex ${JSON.stringify(pattern)} is not a valid pattern`, where, error);
  }
  const quantifiers = checkBacktracking(pattern, where);
  const cap = quantifiers >= 2 ? FILTER_LIMITS.regexInputTwoQuantifiers : FILTER_LIMITS.regexInput;
  return (value) => typeof value === "string" && regex.test(value.length > cap ? value.slice(0, cap) : value);
}

function regexOperand(operand: unknown, where: string): { pattern: string; flags: string } {
  if (typeof operand === "string") return { pattern: operand, flags: "" };
  if (isPlainObject(operand) && typeof operand.pattern === "string") {
    const flags = operand.flags ?? "";
    const extra = Object.keys(operand).filter((key) => key !== "pattern" && key !== "flags");
    if (
      extra.length === 0 &&
      typeof flags === "string" &&
      [...flags].every((flag) => REGEX_FLAGS.has(flag)) &&
      new Set(flags).size === flags.length
    ) {
      return { pattern: operand.pattern, flags };
    }
  }
  throw invalid('$regex must be a pattern string or { "pattern": string, "flags": any of "ims" }', where);
}

interface Group {
  quantified: boolean;
  alternation: boolean;
}

/**
 * The static check against catastrophic backtracking (see the module
 * comment); returns how many variable-length quantifiers the pattern has.
 * Runs on a pattern `new RegExp(…, "u")` accepted, so its syntax is sound.
 */
function checkBacktracking(pattern: string, where: string): number {
  const refuse = (why: string) =>
    invalid(`$regex ${JSON.stringify(pattern)} could backtrack catastrophically: ${why}`, where);
  const stack: Group[] = [{ quantified: false, alternation: false }];
  let variable = 0;
  /** What the next quantifier applies to: nothing, a plain atom, or a group just closed. */
  let atom: Group | "plain" | null = null;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i] as string;
    const quantifier = readQuantifier(pattern, i);
    if (quantifier !== null) {
      if (atom !== null && atom !== "plain" && (atom.quantified || atom.alternation) && quantifier.repeats) {
        throw refuse("a quantified group holds a quantifier or an alternation");
      }
      if (quantifier.variable) {
        variable++;
        (stack[stack.length - 1] as Group).quantified = true;
      }
      atom = null;
      i = quantifier.end;
      continue;
    }
    atom = "plain";
    if (ch === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") throw refuse("backreferences are not allowed");
      i += 2;
      // \p{…}, \P{…} and \u{…} carry braces that are not a quantifier.
      if ("pPu".includes(next) && pattern[i] === "{") i = pattern.indexOf("}", i) + 1;
    } else if (ch === "[") {
      i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
    } else if (ch === "(") {
      stack.push({ quantified: false, alternation: false });
      atom = null;
      i++;
      // (?:, (?=, (?!, (?<=, (?<!, (?<name>
      if (pattern[i] === "?") {
        if (pattern[i + 1] === "<" && pattern[i + 2] !== "=" && pattern[i + 2] !== "!") i = pattern.indexOf(">", i) + 1;
        else i += pattern[i + 1] === "<" ? 3 : 2;
      }
    } else if (ch === ")") {
      const group = stack.pop() as Group;
      const parent = stack[stack.length - 1] as Group;
      parent.quantified ||= group.quantified;
      parent.alternation ||= group.alternation;
      atom = group;
      i++;
    } else {
      if (ch === "|") (stack[stack.length - 1] as Group).alternation = true;
      if (ch === "|" || ch === "^" || ch === "$") atom = null;
      i++;
    }
  }
  if (variable > MAX_VARIABLE_QUANTIFIERS) {
    throw refuse(`more than ${MAX_VARIABLE_QUANTIFIERS} variable-length quantifiers (*, +, ?, {n,}, {n,m})`);
  }
  return variable;
}

/** A quantifier starting at `i`: whether it repeats (more than once), whether its length varies, where it ends. */
function readQuantifier(pattern: string, i: number): { repeats: boolean; variable: boolean; end: number } | null {
  const ch = pattern[i];
  let end: number;
  let repeats: boolean;
  let variable: boolean;
  if (ch === "*" || ch === "+" || ch === "?") {
    end = i + 1;
    repeats = ch !== "?";
    variable = true;
  } else if (ch === "{") {
    const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (match === null) return null;
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : match[3] === "" ? Number.POSITIVE_INFINITY : Number(match[3]);
    end = i + match[0].length;
    repeats = max > 1;
    variable = max > min;
  } else {
    return null;
  }
  if (pattern[end] === "?") end++; // lazy
  return { repeats, variable, end };
}

// ---- per-endpoint cache ----------------------------------------------------

/** What the fan-out needs of an endpoint to filter on its payload. */
export interface FilteredEndpoint {
  id: string;
  updatedAt: number;
  filter?: Record<string, unknown> | null;
}

/**
 * Compiled filters of endpoints, kept per endpoint id and `updatedAt` (every
 * change of an endpoint moves it), so a send compiles nothing it compiled
 * before. A stored filter that no longer compiles takes no messages and is
 * reported once through `onInvalid`.
 */
export class EndpointFilters {
  readonly #compiled = new Map<string, { updatedAt: number; evaluate: FilterEvaluator }>();
  readonly #onInvalid: (endpointId: string, error: unknown) => void;

  constructor(onInvalid: (endpointId: string, error: unknown) => void) {
    this.#onInvalid = onInvalid;
  }

  /**
   * The endpoints among `endpoints` whose filter takes the payload;
   * `payload()` is called at most once, and only when one of them has a filter.
   */
  select<E extends FilteredEndpoint>(endpoints: E[], payload: () => unknown): E[] {
    if (!endpoints.some((e) => e.filter != null)) return endpoints;
    const value = payload();
    return endpoints.filter((e) => e.filter == null || this.#evaluator(e)(value));
  }

  #evaluator(endpoint: FilteredEndpoint): FilterEvaluator {
    const cached = this.#compiled.get(endpoint.id);
    if (cached !== undefined && cached.updatedAt === endpoint.updatedAt) return cached.evaluate;
    let evaluate: FilterEvaluator;
    try {
      evaluate = compileFilter(endpoint.filter);
    } catch (error) {
      this.#onInvalid(endpoint.id, error);
      evaluate = () => false;
    }
    // Deleted endpoints leave entries behind; a bound keeps that from growing without end.
    if (this.#compiled.size >= 10_000) this.#compiled.clear();
    this.#compiled.set(endpoint.id, { updatedAt: endpoint.updatedAt, evaluate });
    return evaluate;
  }
}

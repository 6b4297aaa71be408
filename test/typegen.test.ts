import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { generateEventTypes } from "../src/cli/typegen.js";
import { tempDir } from "./cli-support.js";
import { runTsc } from "./support/tsc.js";

/** The generated declaration of `name` (`export type Name = …;`), up to the blank line after it. */
function declaration(output: string, name: string): string {
  const start = output.indexOf(`export type ${name} = `);
  if (start < 0) throw new Error(`no type ${name} in:\n${output}`);
  const end = output.indexOf("\n\n", start);
  return output.slice(start, end < 0 ? undefined : end).trim();
}

const one = (schema: unknown, name = "a.b") => declaration(generateEventTypes([{ name, schema }]), "AB");

describe("generateEventTypes", () => {
  test("primitives, type lists, enum, const and nullable", () => {
    expect(one({ type: "string" })).toBe("export type AB = string;");
    expect(one({ type: "integer" })).toBe("export type AB = number;");
    expect(one({ type: ["string", "null"] })).toBe("export type AB = string | null;");
    expect(one({ enum: ["a", 1, true, null] })).toBe('export type AB = "a" | 1 | true | null;');
    expect(one({ const: 'say "hi"' })).toBe('export type AB = "say \\"hi\\"";');
    expect(one({ type: "string", nullable: true })).toBe("export type AB = string | null;");
    expect(one({ type: "boolean", nullable: false })).toBe("export type AB = boolean;");
  });

  test("objects: required, optional, quoted keys, exact with additionalProperties: false", () => {
    const out = one({
      type: "object",
      additionalProperties: false,
      required: ["id", "line-items", "constructor"],
      properties: { id: { type: "string" }, "line-items": { type: "array", items: { type: "number" } }, z: {} },
    });
    expect(out).toBe(
      [
        "export type AB = {",
        "  id: string;",
        '  "line-items": number[];',
        "  z?: unknown;",
        "  constructor: unknown;",
        "};",
      ].join("\n"),
    );
  });

  test("open objects get an index signature; a typed one only without named properties", () => {
    expect(one({ type: "object", properties: { a: { type: "string" } } })).toContain("[key: string]: unknown;");
    expect(one({ type: "object", additionalProperties: { type: "integer" } })).toBe(
      "export type AB = {\n  [key: string]: number;\n};",
    );
    expect(
      one({ type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "integer" } }),
    ).toBe("export type AB = {\n  a?: string;\n  [key: string]: unknown;\n};");
    expect(one({ type: "object", additionalProperties: false })).toBe("export type AB = Record<string, never>;");
    expect(one({ type: "object", additionalProperties: false, patternProperties: { "^x-": {} } })).toBe(
      "export type AB = {\n  [key: string]: unknown;\n};",
    );
  });

  test("arrays of unions are wrapped; tuples from prefixItems and items lists", () => {
    expect(one({ type: "array", items: { type: ["string", "number"] } })).toBe(
      "export type AB = Array<string | number>;",
    );
    expect(one({ type: "array", prefixItems: [{ type: "string" }, { type: "number" }], items: false })).toBe(
      "export type AB = [string, number];",
    );
    expect(one({ type: "array", items: [{ type: "string" }], additionalItems: { type: "boolean" } })).toBe(
      "export type AB = [string, ...boolean[]];",
    );
    expect(one({ type: "array" })).toBe("export type AB = unknown[];");
  });

  test("oneOf/anyOf are unions, allOf an intersection that parenthesises unions", () => {
    expect(one({ oneOf: [{ type: "string" }, { type: "number" }] })).toBe("export type AB = string | number;");
    expect(one({ anyOf: [{ type: "string" }, {}] })).toBe("export type AB = unknown;");
    expect(
      one({
        allOf: [
          { type: "object", properties: { id: { type: "string" } }, required: ["id"], additionalProperties: false },
          { anyOf: [{ const: "a|b" }, { const: "c" }] },
        ],
      }),
    ).toBe('export type AB = {\n  id: string;\n} & ("a|b" | "c");');
    // An object with a union beside its own properties: both must hold.
    expect(
      one({
        type: "object",
        properties: { kind: { type: "string" } },
        required: ["kind"],
        additionalProperties: false,
        oneOf: [{ type: "object", properties: { kind: { const: "a" } } }, { type: "null" }],
      }),
    ).toBe('export type AB = {\n  kind: string;\n} & ({\n  kind?: "a";\n  [key: string]: unknown;\n} | null);');
    expect(one({ oneOf: [{ type: "string" }, false] })).toBe("export type AB = string;");
  });

  test("$ref to definitions, $defs (escaped names) and the root become named types, recursion included", () => {
    const out = generateEventTypes([
      {
        name: "tree.grown",
        schema: {
          type: "object",
          additionalProperties: false,
          properties: {
            root: { $ref: "#/$defs/Node" },
            "a/b": { $ref: "#/definitions/a~1b" },
            self: { $ref: "#" },
            remote: { $ref: "https://example.com/schema.json" },
            missing: { $ref: "#/$defs/Nope" },
          },
          $defs: {
            Node: { type: "object", properties: { children: { type: "array", items: { $ref: "#/$defs/Node" } } } },
          },
          definitions: { "a/b": { type: "integer" } },
        },
      },
    ]);
    expect(declaration(out, "TreeGrown")).toBe(
      [
        "export type TreeGrown = {",
        '  "a/b"?: TreeGrownAB;',
        "  missing?: unknown;",
        "  remote?: unknown;",
        "  root?: TreeGrownNode;",
        "  self?: TreeGrown;",
        "};",
      ].join("\n"),
    );
    expect(declaration(out, "TreeGrownNode")).toContain("children?: TreeGrownNode[];");
    expect(declaration(out, "TreeGrownAB")).toBe("export type TreeGrownAB = number;");
  });

  test("unknown constructs are unknown; descriptions become doc comments, */ escaped, @deprecated kept", () => {
    expect(one({ not: { type: "string" } })).toBe("export type AB = unknown;");
    expect(one(JSON.parse(`{ "if": { "type": "string" }, "then": {} }`))).toBe("export type AB = unknown;");
    expect(one({ type: "date" })).toBe("export type AB = unknown;");
    expect(one(true)).toBe("export type AB = unknown;");
    const out = generateEventTypes([
      {
        name: "a.b",
        description: "Event type text",
        schema: {
          type: "object",
          description: "Line one */\nline two",
          properties: { old: { type: "string", description: "gone", deprecated: true } },
        },
      },
    ]);
    expect(out).toContain("/**\n * Line one *\\/\n * line two\n */\nexport type AB = {");
    expect(out).toContain("  /**\n   * gone\n   * @deprecated\n   */\n  old?: string;");
    expect(out).toContain('  /** Event type text */\n  "a.b": AB;');
  });

  test("output is sorted and stable; colliding names get a number; a header says it is generated", () => {
    const events = [
      { name: "user_created", schema: { type: "string" } },
      { name: "user.created", schema: { type: "number" } },
      { name: "9lives", schema: undefined },
      { name: "events", schema: { type: "boolean" } },
    ];
    const out = generateEventTypes(events);
    expect(generateEventTypes([...events].reverse())).toBe(out);
    expect(out.startsWith("// Generated by `hookline types generate`")).toBe(true);
    expect(out).toContain("export type T9lives = unknown;");
    expect(out).toContain("export type Events2 = boolean;");
    expect(out).toContain("export type UserCreated = number;");
    expect(out).toContain("export type UserCreated2 = string;");
    expect(out).toContain(
      'export interface Events {\n  "9lives": T9lives;\n  "events": Events2;\n  "user.created": UserCreated;\n  "user_created": UserCreated2;\n}',
    );
    expect(() => generateEventTypes([events[0], events[0]] as typeof events)).toThrow(/given twice/);
    expect(generateEventTypes([])).toMatch(/\nexport interface Events \{\}\n$/);
  });

  test("refs that would make an alias circular are unknown; refs inside objects and arrays stay", () => {
    expect(one({ anyOf: [{ $ref: "#" }, { type: "null" }] })).toBe("export type AB = unknown;");
    expect(one({ type: "array", items: { $ref: "#" } })).toBe("export type AB = AB[];");
    expect(one({ oneOf: [{ type: "string" }, { type: "array", items: { $ref: "#" } }] })).toBe(
      "export type AB = string | AB[];",
    );
    const out = generateEventTypes([
      {
        name: "loop",
        schema: {
          $ref: "#/$defs/A",
          $defs: {
            A: { anyOf: [{ $ref: "#/$defs/B" }, { type: "string" }] },
            B: { allOf: [{ $ref: "#/$defs/A" }, { type: "object", properties: { a: { $ref: "#/$defs/A" } } }] },
          },
        },
      },
    ]);
    expect(declaration(out, "Loop")).toBe("export type Loop = LoopA;");
    expect(declaration(out, "LoopA")).toBe("export type LoopA = unknown;");
    expect(declaration(out, "LoopB")).toContain("a?: LoopA;");
  });

  test("every tricky schema above compiles with tsc", async () => {
    const schemas = [
      { type: ["string", "null"] },
      { enum: ["a", 1, true, null, { x: [1] }] },
      { const: 'say "hi" */' },
      { type: "object", additionalProperties: false, required: ["a-b", "constructor"], properties: { "a-b": {} } },
      { type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "integer" } },
      { type: "array", items: [{ type: "string" }], additionalItems: { type: "boolean" } },
      { allOf: [{ type: "object" }, { anyOf: [{ const: "a|b" }, { const: "c" }] }] },
      { anyOf: [{ $ref: "#" }, { type: "null" }] },
      { oneOf: [{ type: "string" }, { type: "array", items: { $ref: "#" } }] },
      { $ref: "#/$defs/A", $defs: { A: { anyOf: [{ $ref: "#/$defs/B" }, {}] }, B: { $ref: "#/$defs/A" } } },
      {
        type: "object",
        properties: { self: { $ref: "#" }, "x/y": { $ref: "#/definitions/x~1y" } },
        definitions: { "x/y": { type: "number", nullable: true } },
      },
      { type: "object", additionalProperties: false },
      false,
    ];
    const source = generateEventTypes(schemas.map((schema, i) => ({ name: `case.${i}`, schema })));
    const dir = tempDir("hookline-typegen-tricky");
    writeFileSync(join(dir, "events.ts"), source);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, types: [], lib: ["ES2023"] },
        files: ["events.ts"],
      }),
    );
    expect(await runTsc(join(dir, "tsconfig.json"))).toEqual({ code: 0, output: "" });
  }, 60_000);
});

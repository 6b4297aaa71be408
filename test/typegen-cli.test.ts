/**
 * `hookline types generate` and `hookline event-types import` through the
 * built binary, against a real `hookline serve`; the generated events.ts is
 * compiled with tsc beside a file that uses it.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ensureBuilt, killAll, runCli, type ServeProcess, startServe, tempDir } from "./cli-support.js";
import { ROOT, runTsc } from "./support/tsc.js";

const invoicePaid = {
  type: "object",
  description: "An invoice was paid in full",
  additionalProperties: false,
  required: ["id", "amountCents", "lines"],
  properties: {
    id: { type: "string" },
    amountCents: { type: "integer" },
    currency: { enum: ["eur", "usd"] },
    lines: { type: "array", items: { $ref: "#/$defs/Line" } },
  },
  $defs: {
    Line: {
      type: "object",
      additionalProperties: false,
      required: ["sku"],
      properties: { sku: { type: "string" }, parts: { type: "array", items: { $ref: "#/$defs/Line" } } },
    },
  },
};
const userCreated = {
  type: "object",
  required: ["email"],
  properties: { email: { type: "string" }, plan: { anyOf: [{ const: "free" }, { const: "pro" }], nullable: true } },
};

/** Uses the generated Events; the `@ts-expect-error` lines must fail to compile. */
const USAGE = `import { createHookline } from "hookline";
import type { Events } from "./events.js";

export async function main(): Promise<void> {
  const hl = await createHookline<Events>();
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 500, lines: [{ sku: "a", parts: [{ sku: "b" }] }] } });
  await hl.send({ eventType: "user.created", payload: { email: "a@example.com", plan: null, referrer: "x" } });
  // @ts-expect-error amountCents is an integer
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: "500", lines: [] } });
  // @ts-expect-error lines is required
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 500 } });
  // @ts-expect-error additionalProperties: false makes the object exact
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 5, lines: [], extra: 1 } });
  // @ts-expect-error a nested definition is exact too
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 5, lines: [{ sku: "a", qty: 1 }] } });
  // @ts-expect-error currency is an enum
  await hl.send({ eventType: "invoice.paid", payload: { id: "in_1", amountCents: 5, lines: [], currency: "gbp" } });
  // @ts-expect-error plan is "free" | "pro" | null
  await hl.send({ eventType: "user.created", payload: { email: "a@example.com", plan: "gold" } });
  // @ts-expect-error not an event type of the catalogue
  await hl.send({ eventType: "user.deleted", payload: {} });
  await hl.close();
}
`;

/**
 * Writes events-using code and a tsconfig beside `events.ts` in `dir`, and
 * compiles them against the built package, imported by name as another
 * project would.
 */
async function compileAgainst(dir: string): Promise<{ code: number | null; output: string }> {
  writeFileSync(join(dir, "usage.ts"), USAGE);
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "hookline"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: join(ROOT, "tsconfig.json"),
      compilerOptions: { noEmit: true, skipLibCheck: true, typeRoots: [join(ROOT, "node_modules", "@types")] },
      include: ["*.ts"],
    }),
  );
  return runTsc(join(dir, "tsconfig.json"));
}

/** An OpenAPI 3.1 document with both event types, invoice.paid through a component, as many tools write it. */
function openApiDocument(): Record<string, unknown> {
  const { $defs, ...invoice } = invoicePaid;
  const toComponents = (value: unknown) =>
    JSON.parse(JSON.stringify(value).replaceAll("#/$defs/Line", "#/components/schemas/InvoiceLine"));
  const webhook = (summary: string, schema: unknown) => ({
    post: { summary, requestBody: { content: { "application/json": { schema } } }, responses: { "200": {} } },
  });
  return {
    openapi: "3.1.0",
    info: { title: "billing", version: "1" },
    webhooks: {
      "invoice.paid": webhook("Invoice paid", { $ref: "#/components/schemas/InvoicePaid" }),
      "user.created": webhook("User created", userCreated),
      ping: { post: { summary: "Ping" } },
    },
    components: { schemas: { InvoicePaid: toComponents(invoice), InvoiceLine: toComponents($defs.Line) } },
  };
}

let serve: ServeProcess;
let env: Record<string, string>;

beforeAll(async () => {
  await ensureBuilt();
  serve = await startServe(["--db", join(tempDir("hookline-typegen"), "hookline.db"), "--no-workers"], {
    persistent: true,
  });
  env = { HOOKLINE_URL: serve.url, HOOKLINE_TOKEN: serve.adminToken ?? "" };
}, 120_000);
afterAll(() => killAll({ all: true }));

describe("hookline types generate", () => {
  test("--from a directory: named, API-shaped and bare schema files; the output compiles against send()", async () => {
    const dir = tempDir("hookline-typegen-from");
    const schemas = join(dir, "schemas");
    const out = join(dir, "out");
    for (const d of [schemas, out]) mkdirSync(d);
    writeFileSync(join(schemas, "a.json"), JSON.stringify({ name: "invoice.paid", schema: invoicePaid }));
    writeFileSync(join(schemas, "user.created.json"), JSON.stringify(userCreated));
    const shipped = { type: "object", required: ["id"], properties: { id: { type: "string" } } };
    writeFileSync(
      join(schemas, "b.json"),
      JSON.stringify({ name: "order.shipped", description: "Order shipped", schemas: { "1": true, "2": shipped } }),
    );
    writeFileSync(join(schemas, "notes.txt"), "not a schema");
    const result = await runCli(["types", "generate", "--from", schemas, "--out", join(out, "events.ts")]);
    expect(result.stderr).toBe(`wrote 3 event types to ${join(out, "events.ts")}\n`);
    expect(result.code).toBe(0);
    const source = readFileSync(join(out, "events.ts"), "utf8");
    expect(source).toContain(
      '  "invoice.paid": InvoicePaid;\n  /** Order shipped */\n  "order.shipped": OrderShipped;\n  "user.created": UserCreated;',
    );
    expect(source).toContain("export type OrderShipped = {\n  id: string;\n  [key: string]: unknown;\n};");
    expect(source).toContain("/** An invoice was paid in full */\nexport type InvoicePaid = {");
    expect(await compileAgainst(out)).toEqual({ code: 0, output: "" });

    // Stdout without --out; the same input gives the same bytes.
    const again = await runCli(["types", "generate", "--from", schemas]);
    expect(again.stdout).toBe(source);
  }, 120_000);

  test("bad input: --url with --from, a missing directory, a file that is not JSON", async () => {
    const both = await runCli(["types", "generate", "--from", ".", "--url", serve.url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("give --url or --from, not both");
    const missing = await runCli(["types", "generate", "--from", join(ROOT, "no-such-dir")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*no-such-dir/);
    const dir = tempDir("hookline-typegen-bad");
    writeFileSync(join(dir, "x.json"), "{ nope");
    const bad = await runCli(["types", "generate", "--from", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/x\.json is not valid JSON/);
  });

  test("event-types import creates from an OpenAPI webhooks section, --url generates from the service, /openapi.json gives it back", async () => {
    const dir = tempDir("hookline-typegen-url");
    const docFile = join(dir, "openapi.json");
    writeFileSync(docFile, JSON.stringify(openApiDocument()));
    const imported = await runCli(["event-types", "import", docFile, "--json"], { env });
    expect(imported.stderr).toBe("");
    expect(JSON.parse(imported.stdout)).toEqual({
      data: [
        { name: "invoice.paid", outcome: "created" },
        { name: "ping", outcome: "created" },
        { name: "user.created", outcome: "created" },
      ],
    });

    // The service validates payloads with the imported schema.
    const app = await (
      await fetch(`${serve.url}/api/v1/app`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.HOOKLINE_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "a" }),
      })
    ).json();
    const send = (payload: unknown) =>
      fetch(`${serve.url}/api/v1/app/${(app as { id: string }).id}/msg`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.HOOKLINE_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ eventType: "invoice.paid", payload }),
      });
    expect((await send({ id: "in_1", amountCents: 5, lines: [{ sku: "a" }] })).status).toBe(202);
    expect((await send({ id: "in_1", amountCents: 5, lines: [{ sku: "a", qty: 1 }] })).status).toBe(422);

    const generated = await runCli(["types", "generate", "--out", join(dir, "events.ts")], { env });
    expect(generated.code).toBe(0);
    const source = readFileSync(join(dir, "events.ts"), "utf8");
    expect(source).toContain("export type InvoicePaidInvoiceLine = {");
    expect(source).toContain('  /** Invoice paid */\n  "invoice.paid": InvoicePaid;\n  /** Ping */\n  "ping": Ping;');
    expect(await compileAgainst(dir)).toEqual({ code: 0, output: "" });

    // /openapi.json lists the event types as webhooks, every $ref resolving in the document.
    const doc = (await (await fetch(`${serve.url}/openapi.json`)).json()) as {
      webhooks: Record<string, { post: { summary: string; requestBody: { content: Record<string, unknown> } } }>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.webhooks)).toEqual(["invoice.paid", "ping", "user.created"]);
    expect(doc.webhooks["user.created"]?.post.requestBody.content["application/json"]).toEqual({
      schema: userCreated,
    });
    for (const [, name] of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"/]+)/g)) {
      expect(doc.components.schemas).toHaveProperty([name as string]);
    }
    expect(doc.components.schemas["Webhook.invoice.paid.InvoiceLine"]).toBeDefined();

    // Importing the service's own document changes nothing; a changed schema becomes version 2.
    const exported = join(dir, "exported.json");
    writeFileSync(exported, JSON.stringify(doc));
    const reimported = await runCli(["event-types", "import", exported], { env });
    expect(reimported.stdout).toBe(
      "EVENT TYPE    RESULT\ninvoice.paid  unchanged\nping          unchanged\nuser.created  unchanged\n",
    );
    const changed = openApiDocument() as { webhooks: Record<string, unknown> };
    changed.webhooks = { "user.created": changed.webhooks["user.created"] };
    (userCreated.properties as Record<string, unknown>).age = { type: "integer" };
    writeFileSync(docFile, JSON.stringify(changed));
    const updated = await runCli(["event-types", "import", docFile, "--json"], { env });
    expect(JSON.parse(updated.stdout)).toEqual({ data: [{ name: "user.created", outcome: "updated" }] });
    const type = (await (
      await fetch(`${serve.url}/api/v1/event-type/user.created`, {
        headers: { authorization: `Bearer ${env.HOOKLINE_TOKEN}` },
      })
    ).json()) as { schemas: Record<string, unknown> };
    expect(Object.keys(type.schemas)).toEqual(["1", "2"]);
    expect(type.schemas["2"]).toEqual(userCreated);
  }, 120_000);

  test("event-types import refuses a document without webhooks, naming the file; reads stdin for -", async () => {
    const dir = tempDir("hookline-typegen-import");
    writeFileSync(join(dir, "doc.json"), JSON.stringify({ openapi: "3.1.0", paths: {} }));
    const result = await runCli(["event-types", "import", join(dir, "doc.json")], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("doc.json: the document has no webhooks section");
    // - reads the document from stdin; a webhook without a body is an event type without a schema.
    const stdin = await runCli(["event-types", "import", "-", "--json"], {
      env,
      input: JSON.stringify({ openapi: "3.1.0", webhooks: { "stdin.read": { post: { summary: "Read" } } } }),
    });
    expect(JSON.parse(stdin.stdout)).toEqual({ data: [{ name: "stdin.read", outcome: "created" }] });
  });
});

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");

// `npm test` builds first (pretest); this checks what another project sees.
describe("the built package, imported as `hookline` by another project", () => {
  let consumer: string;

  beforeAll(async () => {
    if (!existsSync(join(root, "dist", "index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    consumer = await mkdtemp(join(tmpdir(), "hookline-consumer-"));
    await mkdir(join(consumer, "node_modules"));
    await symlink(root, join(consumer, "node_modules", "hookline"), "dir");
    await writeFile(
      join(consumer, "package.json"),
      JSON.stringify({ type: "module", dependencies: { hookline: "*" } }),
    );
  });

  afterAll(async () => {
    if (consumer) await rm(consumer, { recursive: true, force: true });
  });

  test("ESM import by package name works and exposes the seed API", async () => {
    const script = `
      import { WebhookEvent, WebhookSignature, StandardWebhook, createWebhookDispatcher, WebhookConfig, HttpTransport } from "hookline";
      const event = new WebhookEvent({ eventType: "created", payload: { b: 1, a: 2 }, eventId: "e", timestamp: new Date(0) });
      const d = createWebhookDispatcher();
      d.registry.register("x", new WebhookConfig({ url: "https://example.com", secret: "s" }));
      const [r] = await d.dispatch(event);
      console.log(JSON.stringify({ json: event.toJson(), sig: WebhookSignature.sign("p", "s"), status: r.status,
        sw: typeof StandardWebhook, http: typeof HttpTransport }));`;
    await writeFile(join(consumer, "main.mjs"), script);
    const { stdout } = await run(process.execPath, ["main.mjs"], { cwd: consumer });
    const out = JSON.parse(stdout);
    expect(out.json).toBe(
      '{"event_id":"e","event_type":"created","payload":{"a":2,"b":1},"source":"","timestamp":"1970-01-01T00:00:00.000Z"}',
    );
    expect(out.sig).toMatch(/^[0-9a-f]{64}$/);
    expect(out).toMatchObject({ status: "delivered", sw: "function", http: "function" });
  });

  test("the hookline/receive entry verifies a webhook and drops its replay", async () => {
    const script = `
      import { createHmac } from "node:crypto";
      import { createDeduper, verifyWebhook, WebhookVerificationError, WEBHOOK_PROVIDERS } from "hookline/receive";
      const body = '{"action":"opened"}';
      const headers = { "X-Hub-Signature-256": "sha256=" + createHmac("sha256", "s").update(body).digest("hex"), "X-GitHub-Delivery": "d1" };
      const event = verifyWebhook("github", { secret: "s", body: Buffer.from(body), headers });
      const dedupe = createDeduper({ ttlMs: 60_000 });
      let code = null;
      try { verifyWebhook("github", { secret: "wrong", body, headers }); } catch (e) { code = e instanceof WebhookVerificationError && e.code; }
      console.log(JSON.stringify({ id: event.id, payload: event.payload, first: await dedupe.check("d1"),
        again: await dedupe.check("d1"), code, providers: WEBHOOK_PROVIDERS.length }));`;
    await writeFile(join(consumer, "receive.mjs"), script);
    const { stdout } = await run(process.execPath, ["receive.mjs"], { cwd: consumer });
    expect(JSON.parse(stdout)).toEqual({
      id: "d1",
      payload: { action: "opened" },
      first: true,
      again: false,
      code: "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE",
      providers: 7,
    });
  });

  test("type declarations resolve for a NodeNext TypeScript consumer", async () => {
    await writeFile(
      join(consumer, "main.ts"),
      `import { WebhookEvent, type DeliveryResult } from "hookline";\n` +
        `const e: WebhookEvent = new WebhookEvent({ eventType: "x", payload: 1 });\n` +
        `export const id: string = e.eventId;\nexport type R = DeliveryResult;\n` +
        `import { verifyWebhook, type VerifiedWebhook } from "hookline/receive";\n` +
        `export const v: VerifiedWebhook<{ a: number }> = verifyWebhook<{ a: number }>("stripe", { secret: "s", body: "{}", headers: {} });\n`,
    );
    await writeFile(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          // A Node project has @types/node; borrow ours rather than install one.
          typeRoots: [join(root, "node_modules", "@types")],
          types: ["node"],
        },
        files: ["main.ts"],
      }),
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const result = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: consumer }).catch((e) => e);
    expect(result.stdout ?? "").toBe("");
  });
});

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { HooklineError } from "../src/core/errors.js";
import { createHookline, type Hookline } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { sqliteStore } from "../src/sqlite.js";
import { parseEncryptionKey } from "../src/store/codec.js";
import type { Store } from "../src/store/store.js";
import { ensureBuilt, killAll, newSecret, runCli, signV1, startServe, tempDir } from "./cli-support.js";
import { startServer, type TestServer } from "./support/http-server.js";
import { dropSchema, PG_URL, postgresAvailable, uniqueSchemaName } from "./support/postgres.js";

const pgAvailable = await postgresAvailable();
const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");
const idA = parseEncryptionKey(keyA).id;
const idB = parseEncryptionKey(keyB).id;

let receiver: TestServer | null = null;
let hookline: Hookline | null = null;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await hookline?.close({ timeoutMs: 1_000 });
  hookline = null;
  await receiver?.close();
  receiver = null;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await killAll();
});

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every clear-text form of the credentials that must never reach the disk. */
function forbidden(secrets: string[], headerValue: string): string[] {
  return [...secrets, ...secrets.map((s) => s.slice("whsec_".length)), headerValue];
}

/** The needles found in `haystack` (a file's bytes or a dump). */
function found(haystack: Buffer, needles: string[]): string[] {
  return needles.filter((needle) => haystack.includes(needle));
}

/** The SQLite database file and its WAL and shared-memory files, concatenated. */
function sqliteBytes(path: string): Buffer {
  return Buffer.concat([path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}

/**
 * Creates an endpoint with a secret and a custom header, rotates the secret
 * (the old one stays live for an hour), sends one message and checks the
 * delivery carries both signatures (computed with node:crypto) and the header.
 */
async function exercise(store: Store): Promise<{ secrets: string[]; headerValue: string; endpointId: string }> {
  receiver = await startServer();
  hookline = await createHookline({ store, allowPrivateNetworks: true });
  await hookline.start();
  const first = newSecret();
  const headerValue = `token-${randomBytes(12).toString("hex")}`;
  const endpoint = await hookline.endpoints.create({
    url: receiver.url,
    secret: first,
    headers: { "x-api-token": headerValue },
  });
  const second = newSecret();
  await hookline.endpoints.rotateSecret(endpoint.id, { secret: second, gracePeriodMs: 3_600_000 });
  await hookline.send({ eventType: "invoice.paid", payload: { amount: 42 }, bodyFormat: "payload" });
  await until(() => receiver?.requests.length === 1);
  const request = receiver.requests[0];
  if (request === undefined) throw new Error("no request");
  const id = String(request.headers["webhook-id"]);
  const timestamp = Number(request.headers["webhook-timestamp"]);
  const signatures = String(request.headers["webhook-signature"]).split(" ");
  expect(signatures).toContain(signV1(second, id, timestamp, request.body));
  expect(signatures).toContain(signV1(first, id, timestamp, request.body));
  expect(request.headers["x-api-token"]).toBe(headerValue);
  await hookline.close({ timeoutMs: 1_000 });
  hookline = null;
  return { secrets: [first, second], headerValue, endpointId: endpoint.id };
}

/** What `migrate()` of a store opened with the wrong key throws; the store is closed after. */
async function migrateError(store: Store): Promise<{ code: string | undefined; message: string }> {
  const error = await store.migrate().then(
    () => null,
    (e: unknown) => e,
  );
  await store.close();
  return { code: (error as HooklineError | null)?.code, message: String((error as Error | null)?.message) };
}

describe("secrets at rest on SQLite", () => {
  it("finds the secrets in the file of a store without a key (the scan works)", async () => {
    const path = join(tempDir("hookline-enc"), "clear.db");
    const store = sqliteStore({ path });
    cleanups.push(() => store.close());
    const { secrets, headerValue } = await exercise(store);
    await store.close();
    expect(found(sqliteBytes(path), forbidden(secrets, headerValue)).length).toBeGreaterThan(0);
  });

  it("leaves no secret and no header value anywhere in the database files, and deliveries still verify", async () => {
    const path = join(tempDir("hookline-enc"), "enc.db");
    const store = sqliteStore({ path, encryptionKey: keyA });
    cleanups.push(() => store.close());
    const { secrets, headerValue } = await exercise(store);
    await store.close();
    const bytes = sqliteBytes(path);
    expect(found(bytes, forbidden(secrets, headerValue))).toEqual([]);
    expect(bytes.includes(`hlenc1:${idA}:`)).toBe(true);
  });

  it("refuses to start with a wrong or missing key, naming the key id, and overwrites nothing", async () => {
    const path = join(tempDir("hookline-enc"), "keys.db");
    const store = sqliteStore({ path, encryptionKey: keyA });
    cleanups.push(() => store.close());
    const { endpointId, secrets } = await exercise(store);
    await store.close();
    for (const options of [{ encryptionKey: keyB }, {}]) {
      const error = await migrateError(sqliteStore({ path, ...options }));
      expect(error.code).toBe("HOOKLINE_ENCRYPTION_KEY_INVALID");
      expect(error.message).toContain(idA);
    }
    const right = sqliteStore({ path, encryptionKey: keyA });
    cleanups.push(() => right.close());
    await right.migrate();
    expect((await right.getEndpoint(endpointId))?.secrets.map((s) => s.secret)).toEqual([secrets[1], secrets[0]]);
  });

  it("re-encrypts every endpoint under a new main key while the old key still reads, then needs only the new one", async () => {
    const path = join(tempDir("hookline-enc"), "rotate.db");
    const before = sqliteStore({ path, encryptionKey: keyA });
    cleanups.push(() => before.close());
    const { endpointId, secrets, headerValue } = await exercise(before);
    await before.close();
    const rotating = sqliteStore({ path, encryptionKey: [keyB, keyA] });
    cleanups.push(() => rotating.close());
    await rotating.migrate();
    expect(await rotating.reencryptSecrets(1)).toBe(1);
    expect(await rotating.reencryptSecrets(1)).toBe(0);
    await rotating.close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare("SELECT secrets, headers FROM endpoints").all() as Array<Record<string, string>>;
    db.close();
    expect(rows.flatMap((r) => [r.secrets, r.headers]).every((v) => v?.startsWith(`hlenc1:${idB}:`))).toBe(true);
    const after = sqliteStore({ path, encryptionKey: keyB });
    cleanups.push(() => after.close());
    await after.migrate();
    const endpoint = await after.getEndpoint(endpointId);
    expect(endpoint?.secrets.map((s) => s.secret)).toEqual([secrets[1], secrets[0]]);
    expect(endpoint?.headers).toEqual({ "x-api-token": headerValue });
  });
});

describe.skipIf(!pgAvailable)("secrets at rest on PostgreSQL", () => {
  it("leaves no secret and no header value in a dump of the schema, and deliveries still verify", async () => {
    const schema = uniqueSchemaName();
    cleanups.push(() => dropSchema(schema));
    const dump = (name = schema) =>
      execFileSync("pg_dump", ["--dbname", PG_URL, "--schema", name], { maxBuffer: 64 << 20 });

    const clear = postgresStore({ connectionString: PG_URL, schema: `${schema}_c` });
    cleanups.push(() => dropSchema(`${schema}_c`));
    cleanups.push(() => clear.close());
    const inClear = await exercise(clear);
    expect(found(dump(`${schema}_c`), forbidden(inClear.secrets, inClear.headerValue)).length).toBeGreaterThan(0);

    const store = postgresStore({ connectionString: PG_URL, schema, encryptionKey: keyA });
    cleanups.push(() => store.close());
    const { secrets, headerValue, endpointId } = await exercise(store);
    const text = dump();
    expect(found(text, forbidden(secrets, headerValue))).toEqual([]);
    expect(text.includes(`hlenc1:${idA}:`)).toBe(true);

    const error = await migrateError(postgresStore({ connectionString: PG_URL, schema, encryptionKey: keyB }));
    expect(error.code).toBe("HOOKLINE_ENCRYPTION_KEY_INVALID");
    expect(error.message).toContain(idA);

    const rotating = postgresStore({ connectionString: PG_URL, schema, encryptionKey: [keyB, keyA] });
    cleanups.push(() => rotating.close());
    await rotating.migrate();
    expect(await rotating.reencryptSecrets()).toBe(1);
    const onlyB = postgresStore({ connectionString: PG_URL, schema, encryptionKey: keyB });
    cleanups.push(() => onlyB.close());
    await onlyB.migrate();
    expect((await onlyB.getEndpoint(endpointId))?.headers).toEqual({ "x-api-token": headerValue });
    expect(dump().includes(`hlenc1:${idA}:`)).toBe(false);
  });
});

describe("hookline serve and hookline keys rotate-main", () => {
  it("creates an owner-only key file beside the database, and rotate-main re-encrypts while a running store follows the file", async () => {
    await ensureBuilt();
    const dir = tempDir("hookline-enc-cli");
    const db = join(dir, "hookline.db");
    const serve = await startServe(["--db", db]);
    const keyFile = `${db}.key`;
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(serve.proc.stdout()).toContain(keyFile);
    const headers = { authorization: `Bearer ${serve.adminToken}`, "content-type": "application/json" };
    const app = (await (
      await fetch(`${serve.url}/api/v1/app`, { method: "POST", headers, body: JSON.stringify({ name: "acme" }) })
    ).json()) as { id: string };
    const secret = newSecret();
    const endpoint = (await (
      await fetch(`${serve.url}/api/v1/app/${app.id}/endpoint`, {
        method: "POST",
        headers,
        body: JSON.stringify({ url: "https://example.com/hook", secret }),
      })
    ).json()) as { id: string };
    const headerValue = `token-${randomBytes(12).toString("hex")}`;
    const put = await fetch(`${serve.url}/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ headers: { "x-api-token": headerValue } }),
    });
    expect(put.status).toBe(204);
    await serve.proc.stop("SIGTERM");
    expect(found(sqliteBytes(db), forbidden([secret], headerValue))).toEqual([]);

    // A store of a process still running on the old key file.
    const running = sqliteStore({ path: db, encryptionKeyFile: keyFile });
    cleanups.push(() => running.close());
    await running.migrate();
    const oldKeyId = running.encryptionKeyId;

    const rotated = await runCli(["keys", "rotate-main", "--db", db]);
    expect(rotated.stderr).toBe("");
    expect(rotated.code).toBe(0);
    const keyLines = readFileSync(keyFile, "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(keyLines).toHaveLength(2);
    const newKeyId = parseEncryptionKey(keyLines[0] ?? "").id;
    expect(parseEncryptionKey(keyLines[1] ?? "").id).toBe(oldKeyId);
    expect(rotated.stdout).toContain(`re-encrypted 1 endpoint(s)`);
    expect(rotated.stdout).toContain(`under key ${newKeyId}; older keys still accepted: ${oldKeyId}`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    expect((await running.getEndpoint(endpoint.id))?.headers).toEqual({ "x-api-token": headerValue });
    expect(sqliteBytes(db).includes(`hlenc1:${newKeyId}:`)).toBe(true);

    const again = await startServe(["--db", db]);
    const answer = await fetch(`${again.url}/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`, { headers });
    expect(((await answer.json()) as { key: string }).key).toBe(secret);
  });

  it("stops with a clear error naming the key id when HOOKLINE_ENCRYPTION_KEY is not the data's key", async () => {
    await ensureBuilt();
    const dir = tempDir("hookline-enc-cli");
    const db = join(dir, "hookline.db");
    const store = sqliteStore({ path: db, encryptionKey: keyA });
    cleanups.push(() => store.close());
    await exercise(store);
    await store.close();
    const result = await runCli(["serve", "--db", db, "--port", "0"], { env: { HOOKLINE_ENCRYPTION_KEY: keyB } });
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toContain(idA);
    expect(result.stderr + result.stdout).toContain("HOOKLINE_ENCRYPTION_KEY");
  });
});

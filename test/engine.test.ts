import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStore } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { sqliteStore } from "../src/sqlite.js";
import { describeEngine } from "./support/engine-suite.js";
import { dropSchema, PG_URL, postgresAvailable, uniqueSchemaName } from "./support/postgres.js";

describeEngine("memory", async () => ({ store: memoryStore(), cleanup: async () => {} }));

describeEngine("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hookline-engine-"));
  return {
    store: sqliteStore({ path: join(dir, "hookline.db") }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

const pgAvailable = await postgresAvailable();
describeEngine(
  "postgres",
  async () => {
    const schema = uniqueSchemaName();
    return { store: postgresStore({ connectionString: PG_URL, schema }), cleanup: () => dropSchema(schema) };
  },
  { skip: !pgAvailable },
);

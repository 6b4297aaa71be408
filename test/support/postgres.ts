import { randomBytes } from "node:crypto";
import pg from "pg";

/** Where the PostgreSQL tests connect; `.ci/run` sets HOOKLINE_REQUIRE_PG=1 so an unreachable server fails there. */
export const PG_URL = process.env.HOOKLINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const PG_REQUIRED = process.env.HOOKLINE_REQUIRE_PG === "1";

let reachable: Promise<boolean> | undefined;

/**
 * Whether PostgreSQL answers. When it does not and HOOKLINE_REQUIRE_PG is not
 * set, the caller skips its tests and this prints a loud notice; when it is
 * set, this throws so the run fails.
 */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch (error) {
      if (PG_REQUIRED)
        throw new Error(`PostgreSQL at ${PG_URL} is unreachable and HOOKLINE_REQUIRE_PG=1`, { cause: error });
      console.warn(
        `\n!!! PostgreSQL at ${PG_URL} is unreachable: PostgreSQL tests are SKIPPED (${String(error)}).\n` +
          "!!! Set HOOKLINE_TEST_PG_URL, or HOOKLINE_REQUIRE_PG=1 to make this a failure.\n",
      );
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/** A new, empty schema name for one test; `dropSchema` removes it. */
export function uniqueSchemaName(): string {
  return `hookline_test_${randomBytes(6).toString("hex")}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

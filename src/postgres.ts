/**
 * `hookline/postgres`: the PostgreSQL store, for apps whose workers run in
 * several processes or on several machines against one database. It lives
 * in its own entry so that only apps that use it load the `pg` driver.
 *
 * @example
 * import { postgresStore } from "hookline/postgres";
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL });
 * await store.migrate();
 */
export { PostgresStore, type PostgresStoreOptions, postgresStore } from "./store/postgres/postgres-store.js";

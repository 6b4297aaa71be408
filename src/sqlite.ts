/**
 * `hookline/sqlite`: the SQLite store, a subpath of its own so that only apps
 * that use it load better-sqlite3 (a native module). One file holds the whole
 * durable engine; several processes on one machine may share it.
 *
 * @example
 * import { createHookline } from "hookline";
 * import { sqliteStore } from "hookline/sqlite";
 *
 * const store = sqliteStore({ path: "./hookline.db" });
 * await store.migrate();
 * const hl = await createHookline({ store });
 */
export { SqliteStore, type SqliteStoreOptions, sqliteStore } from "./store/sqlite/sqlite-store.js";

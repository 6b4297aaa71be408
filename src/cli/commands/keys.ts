import { renameSync, rmSync } from "node:fs";
import { Command } from "commander";
import { generateEncryptionKey, parseEncryptionKey, readKeyFile } from "../../store/codec.js";
import { apiPath } from "../client.js";
import { CliError } from "../errors.js";
import { type ClientFlags, withAppOption, withClient, withClientOptions } from "../options.js";
import { formatRecord, printJson, printLine } from "../output.js";
import type { ApiKeyOut } from "../resources.js";
import { openStore, resolveKeySource, type StoreFlags, withStoreOptions, writeKeyFile } from "../store.js";

/**
 * `hookline keys create --app <id>`: an API key that sees one application
 * (needs the admin key). `hookline keys rotate-main`: a new main encryption
 * key for secrets at rest, and every endpoint re-encrypted under it.
 */
export function keysCommand(): Command {
  const keys = new Command("keys").description("API keys, and the encryption key of secrets at rest");
  keys.addCommand(rotateMainCommand());
  keys.addCommand(
    withAppOption(
      withClientOptions(
        new Command("create").description(
          "create an API key scoped to one application; its token is shown once (needs an admin key)",
        ),
      ),
    ).action((flags: ClientFlags & { app: string }) =>
      withClient(flags, async (client) => {
        const key = await client.post<ApiKeyOut>(apiPath("auth", "api-key"), { appId: flags.app });
        if (flags.json) printJson(key);
        else {
          printLine(
            formatRecord([
              ["id", key.id],
              ["app", key.appId],
              ["token", key.token],
            ]),
          );
          process.stderr.write("the token is shown only once: store it now\n");
        }
      }),
    ),
  );
  return keys;
}

function rotateMainCommand(): Command {
  return withStoreOptions(
    new Command("rotate-main").description(
      "re-encrypt every endpoint's secrets and headers under a new main key (opens the store directly)",
    ),
  )
    .option("--no-new-key", "re-encrypt under the current main key: finish an interrupted rotation")
    .addHelpText(
      "after",
      `
With a key file, a new key is generated and written first in the file; the
older keys stay in it so every process can still read rows not yet
re-encrypted (a running process reads the file again when it meets a new key
id). With HOOKLINE_ENCRYPTION_KEY, list the new key first and the old ones
after it (comma-separated) in every process, then run this. Processes started
before the rotation keep writing under the old key until restarted: restart
them, run this again with --no-new-key, and only then drop the old key.`,
    )
    .action(async (flags: StoreFlags & { newKey: boolean }) => {
      const source = resolveKeySource(flags, { createDefault: false });
      if (source.kind === "none") {
        throw new CliError("no encryption key: set HOOKLINE_ENCRYPTION_KEY or give --encryption-key-file");
      }
      if (source.kind === "file" && flags.newKey) {
        const keys = [generateEncryptionKey(), ...readKeyFile(source.path)];
        const next = `${source.path}.next`;
        rmSync(next, { force: true });
        writeKeyFile(next, keys);
        renameSync(next, source.path);
      }
      const { store, where } = await openStore(flags, source);
      try {
        await store.migrate();
        const rewritten = await store.reencryptSecrets();
        const keyIds = (source.kind === "file" ? readKeyFile(source.path) : source.keys).map(
          (key) => parseEncryptionKey(key).id,
        );
        printLine(
          `re-encrypted ${rewritten} endpoint(s) in ${where} under key ${store.encryptionKeyId}` +
            (keyIds.length > 1 ? `; older keys still accepted: ${keyIds.slice(1).join(", ")}` : ""),
        );
      } finally {
        await store.close();
      }
    });
}

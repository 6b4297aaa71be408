import { Command } from "commander";
import { apiPath } from "../client.js";
import { type ClientFlags, withAppOption, withClient, withClientOptions } from "../options.js";
import { formatRecord, printJson, printLine } from "../output.js";
import type { ApiKeyOut } from "../resources.js";

/** `hookline keys create --app <id>`: an API key that sees one application (needs the admin key). */
export function keysCommand(): Command {
  const keys = new Command("keys").description("API keys: create");
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

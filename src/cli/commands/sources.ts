import { Command, Option } from "commander";
import { SOURCE_PROVIDERS } from "../../delivery/sources.js";
import { apiPath } from "../client.js";
import {
  type AppFlags,
  type PageFlags,
  withAppOption,
  withClient,
  withClientOptions,
  withPageOptions,
} from "../options.js";
import { formatRecord, printJson, printLine, printList } from "../output.js";
import { fetchList, type SourceOut, sourceColumns } from "../resources.js";

/** `hookline sources [list|add|rm]`: inbound sources, where providers such as GitHub or Stripe send webhooks. */
export function sourcesCommand(): Command {
  const sources = new Command("sources").description(
    "inbound sources of an application (a URL a provider such as GitHub or Stripe sends webhooks to): list (the default), add, rm",
  );

  const list = withPageOptions(withAppOption(withClientOptions(new Command("list").description("list sources"))));
  list.action((flags: AppFlags & PageFlags) =>
    withClient(flags, async (client) => {
      const page = await fetchList<SourceOut>(client, apiPath("app", flags.app, "source"), flags);
      printList(page, sourceColumns, Boolean(flags.json), "sources");
    }),
  );
  sources.addCommand(list, { isDefault: true });

  sources.addCommand(
    withAppOption(
      withClientOptions(
        new Command("add")
          .description("create a source; give the URL it prints to the provider")
          .addOption(
            new Option("--provider <provider>", "whose signature scheme verifies the requests")
              .choices([...SOURCE_PROVIDERS])
              .makeOptionMandatory(),
          )
          .addOption(new Option("--secret <secret>", "the provider's signing secret").makeOptionMandatory())
          .option("--name <name>", "a name for humans"),
      ),
    ).action((flags: AppFlags & { provider: string; secret: string; name?: string }) =>
      withClient(flags, async (client) => {
        const source = await client.post<SourceOut>(apiPath("app", flags.app, "source"), {
          provider: flags.provider,
          secret: flags.secret,
          ...(flags.name && { name: flags.name }),
        });
        if (flags.json) printJson(source);
        else
          printLine(
            formatRecord([
              ["id", source.id],
              ["provider", source.provider],
              ["url", source.url],
            ]),
          );
      }),
    ),
  );

  sources.addCommand(
    withAppOption(
      withClientOptions(new Command("rm").alias("delete").description("delete a source").argument("<id>", "source id")),
    ).action((id: string, flags: AppFlags) =>
      withClient(flags, async (client) => {
        await client.delete(apiPath("app", flags.app, "source", id));
        if (flags.json) printJson({ id, deleted: true });
        else printLine(`deleted source ${id}`);
      }),
    ),
  );
  return sources;
}

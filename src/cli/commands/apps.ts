import { Command } from "commander";
import { apiPath } from "../client.js";
import { type ClientFlags, type PageFlags, withClient, withClientOptions, withPageOptions } from "../options.js";
import { formatRecord, printJson, printLine, printList } from "../output.js";
import { type AppOut, appColumns, fetchList } from "../resources.js";

export function printApp(app: AppOut, json: boolean | undefined): void {
  if (json) printJson(app);
  else
    printLine(
      formatRecord([
        ["id", app.id],
        ["uid", app.uid],
        ["name", app.name],
        ["created", app.createdAt],
      ]),
    );
}

/** `hookline apps [list|create|get|rm]`. */
export function appsCommand(): Command {
  const apps = new Command("apps").description("applications: list (the default), create, get, rm");

  const list = withPageOptions(withClientOptions(new Command("list").description("list applications")));
  list.action((flags: ClientFlags & PageFlags) =>
    withClient(flags, async (client) => {
      const page = await fetchList<AppOut>(client, apiPath("app"), flags);
      printList(page, appColumns, Boolean(flags.json), "applications");
    }),
  );
  apps.addCommand(list, { isDefault: true });

  apps.addCommand(
    withClientOptions(
      new Command("create")
        .description("create an application")
        .argument("<name>", "a name for humans")
        .option("--uid <uid>", "your own unique identifier for it"),
    ).action((name: string, flags: ClientFlags & { uid?: string }) =>
      withClient(flags, async (client) => {
        const app = await client.post<AppOut>(apiPath("app"), { name, ...(flags.uid && { uid: flags.uid }) });
        printApp(app, flags.json);
      }),
    ),
  );

  apps.addCommand(
    withClientOptions(
      new Command("get").description("show an application").argument("<id>", "application id or uid"),
    ).action((id: string, flags: ClientFlags) =>
      withClient(flags, async (client) => printApp(await client.get<AppOut>(apiPath("app", id)), flags.json)),
    ),
  );

  apps.addCommand(
    withClientOptions(
      new Command("rm")
        .alias("delete")
        .description("delete an application with its endpoints and messages")
        .argument("<id>", "application id or uid"),
    ).action((id: string, flags: ClientFlags) =>
      withClient(flags, async (client) => {
        await client.delete(apiPath("app", id));
        if (flags.json) printJson({ id, deleted: true });
        else printLine(`deleted application ${id}`);
      }),
    ),
  );
  return apps;
}

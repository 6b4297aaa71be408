import { Command, Option } from "commander";
import { apiPath } from "../client.js";
import {
  type AppFlags,
  type PageFlags,
  parseInteger,
  parseJsonData,
  parseList,
  withAppOption,
  withClient,
  withClientOptions,
  withPageOptions,
} from "../options.js";
import { formatRecord, printJson, printLine, printList } from "../output.js";
import { fetchList, type MessageOut, messageColumns } from "../resources.js";

function printMessage(message: MessageOut, json: boolean | undefined, withPayload: boolean): void {
  if (json) {
    printJson(message);
    return;
  }
  const pairs: [string, unknown][] = [
    ["id", message.id],
    ["event type", message.eventType],
    ["event id", message.eventId],
    ["channels", message.channels],
    ["tags", message.tags],
    ["timestamp", message.timestamp],
  ];
  printLine(formatRecord(pairs));
  if (withPayload && message.payload === null) printLine("(payload expunged)");
  else if (withPayload && message.payload !== undefined) printLine(JSON.stringify(message.payload, null, 2));
}

/** `hookline send <eventType> --app <id> --data <json|@file>`. */
export function sendCommand(): Command {
  return withAppOption(
    withClientOptions(
      new Command("send")
        .description("send a message to every matching endpoint of an application")
        .argument("<eventType>", "the event type, e.g. invoice.paid")
        .addOption(
          new Option("--data <json|@file>", "the payload: inline JSON, @file, or @- for stdin")
            .argParser(parseJsonData)
            .makeOptionMandatory(),
        )
        .option("--event-id <id>", "idempotency key per application: sending it again creates nothing")
        .option("--channels <channels>", "comma-separated channels", parseList)
        .option("--tags <tags>", "comma-separated tags", parseList)
        .option("--ordering-key <key>", "for fifo endpoints: the group this message keeps its order in")
        .option(
          "--retention-hours <hours>",
          "expunge this message's payload this many hours after it is sent (once delivered), instead of the service's retention",
          parseInteger(1, 10 * 365 * 24),
        )
        .option("--idempotency-key <key>", "Idempotency-Key header: a retried request returns the first answer"),
    ),
  ).action(
    (
      eventType: string,
      flags: AppFlags & {
        data: unknown;
        eventId?: string;
        channels?: string[];
        tags?: string[];
        orderingKey?: string;
        retentionHours?: number;
        idempotencyKey?: string;
      },
    ) =>
      withClient(flags, async (client) => {
        const message = await client.post<MessageOut>(
          apiPath("app", flags.app, "msg"),
          {
            eventType,
            payload: flags.data,
            ...(flags.eventId && { eventId: flags.eventId }),
            ...(flags.channels && { channels: flags.channels }),
            ...(flags.tags && { tags: flags.tags }),
            ...(flags.orderingKey && { orderingKey: flags.orderingKey }),
            ...(flags.retentionHours !== undefined && { payloadRetentionHours: flags.retentionHours }),
          },
          flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {},
        );
        printMessage(message, flags.json, false);
      }),
  );
}

/** `hookline messages [list|get]`. */
export function messagesCommand(): Command {
  const messages = new Command("messages").description("messages of an application: list (the default), get, expunge");

  const list = withPageOptions(
    withAppOption(
      withClientOptions(
        new Command("list")
          .description("list messages, newest first")
          .option("--event-types <types>", "only these comma-separated event types", parseList),
      ),
    ),
  );
  list.action((flags: AppFlags & PageFlags & { eventTypes?: string[] }) =>
    withClient(flags, async (client) => {
      const page = await fetchList<MessageOut>(client, apiPath("app", flags.app, "msg"), flags, {
        event_types: flags.eventTypes?.join(","),
      });
      printList(page, messageColumns, Boolean(flags.json), "messages");
    }),
  );
  messages.addCommand(list, { isDefault: true });

  messages.addCommand(
    withAppOption(
      withClientOptions(
        new Command("get").description("show a message and its payload").argument("<id>", "message id"),
      ),
    ).action((id: string, flags: AppFlags) =>
      withClient(flags, async (client) =>
        printMessage(await client.get<MessageOut>(apiPath("app", flags.app, "msg", id)), flags.json, true),
      ),
    ),
  );
  messages.addCommand(
    withAppOption(
      withClientOptions(
        new Command("expunge")
          .description(
            "erase a message's payload now; the message and its attempts stay (refused while it is being delivered)",
          )
          .argument("<id>", "message id"),
      ),
    ).action((id: string, flags: AppFlags) =>
      withClient(flags, async (client) => {
        await client.delete(apiPath("app", flags.app, "msg", id, "content"));
        if (flags.json) printJson({ id, expunged: true });
        else printLine(`expunged the payload of ${id}`);
      }),
    ),
  );
  return messages;
}

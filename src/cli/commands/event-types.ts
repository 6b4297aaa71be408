import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { canonicalJson } from "../../core/json.js";
import { latestSchema } from "../../delivery/event-types.js";
import { eventTypesFromOpenApi, type ImportedEventType } from "../../delivery/openapi-webhooks.js";
import { type ApiClient, apiPath } from "../client.js";
import { ApiError, CliError } from "../errors.js";
import { type ClientFlags, withClient, withClientOptions } from "../options.js";
import { formatTable, printJson, printLine } from "../output.js";
import { readStdin } from "./verify.js";

/** The fields of Svix's EventTypeOut the CLI reads. */
export interface EventTypeOut {
  name: string;
  description: string;
  schemas: Record<string, unknown> | null;
}

type ImportOutcome = "created" | "updated" | "unchanged";

/** Reads a JSON file, or stdin for `-`; a missing or malformed file is a failure with its name. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === "-" ? (await readStdin()).toString("utf8") : await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, 1, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file} is not valid JSON: ${(error as Error).message}`, 1, { cause: error });
  }
}

/**
 * Creates the event type, or gives it the imported schema as a new version
 * (Svix keeps schemas by version; the highest validates) when it differs from
 * the current one. The description is replaced only when the document has one.
 */
async function importOne(client: ApiClient, type: ImportedEventType): Promise<ImportOutcome> {
  const path = apiPath("event-type", type.name);
  let existing: EventTypeOut | null = null;
  try {
    existing = await client.get<EventTypeOut>(path);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  if (existing === null) {
    await client.post(apiPath("event-type"), {
      name: type.name,
      description: type.description,
      ...(type.schema && { schemas: { "1": type.schema } }),
    });
    return "created";
  }
  const schemas = existing.schemas ?? {};
  const current = latestSchema(schemas);
  const schemaChanged =
    type.schema !== undefined && (current === undefined || canonicalJson(current) !== canonicalJson(type.schema));
  const descriptionChanged = type.description !== "" && type.description !== existing.description;
  if (!schemaChanged && !descriptionChanged) return "unchanged";
  const nextVersion = Math.max(0, ...Object.keys(schemas).map(Number).filter(Number.isFinite)) + 1;
  await client.call("PATCH", path, {
    body: {
      ...(descriptionChanged && { description: type.description }),
      ...(schemaChanged && { schemas: { ...schemas, [String(nextVersion)]: type.schema } }),
    },
  });
  return "updated";
}

/** `hookline event-types import <openapi.json>`. */
export function eventTypesCommand(): Command {
  const eventTypes = new Command("event-types").description("the event type catalogue: import");
  eventTypes.addCommand(
    withClientOptions(
      new Command("import")
        .description(
          "create or update event types from the webhooks section of an OpenAPI 3.1 document (name = the webhook's key, schema = its POST application/json request body)",
        )
        .argument("<file>", "the OpenAPI document (JSON), or - for stdin"),
    ).action((file: string, flags: ClientFlags) =>
      withClient(flags, async (client) => {
        let types: ImportedEventType[];
        try {
          types = eventTypesFromOpenApi(await readJsonFile(file));
        } catch (error) {
          if (error instanceof CliError) throw error;
          throw new CliError(`${file}: ${(error as Error).message}`, 1, { cause: error });
        }
        const results: Array<{ name: string; outcome: ImportOutcome }> = [];
        for (const type of types) results.push({ name: type.name, outcome: await importOne(client, type) });
        if (flags.json) printJson({ data: results });
        else if (results.length === 0) process.stderr.write("no webhooks in the document\n");
        else
          printLine(
            formatTable(results, [
              { header: "EVENT TYPE", value: (r) => r.name },
              { header: "RESULT", value: (r) => r.outcome },
            ]),
          );
      }),
    ),
  );
  return eventTypes;
}

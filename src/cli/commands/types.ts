import { readdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Command } from "commander";
import { latestSchema } from "../../delivery/event-types.js";
import type { ApiClient } from "../client.js";
import { apiPath } from "../client.js";
import { CliError, UsageError } from "../errors.js";
import { type ClientFlags, withClient, withClientOptions } from "../options.js";
import { printJson } from "../output.js";
import { type EventSchema, generateEventTypes } from "../typegen.js";
import { type EventTypeOut, readJsonFile } from "./event-types.js";

interface GenerateFlags extends ClientFlags {
  from?: string;
  out?: string;
}

/**
 * The schemas of a directory's `*.json` files, in name order. A file is
 * `{ "name": "invoice.paid", "schema": {…} }` (optionally with
 * `"description"`), an event type as the API returns it (`name` and
 * `schemas` by version), or a bare JSON Schema named after the file:
 * `invoice.paid.json` → `invoice.paid`.
 */
export async function schemasFromDirectory(dir: string): Promise<EventSchema[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  } catch (error) {
    throw new CliError(`cannot read ${dir}: ${(error as Error).message}`, 1, { cause: error });
  }
  const events: EventSchema[] = [];
  for (const file of files) {
    const json = await readJsonFile(join(dir, file));
    const record =
      json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
    const description = typeof record.description === "string" ? record.description : "";
    if (typeof record.name === "string" && "schema" in record) {
      events.push({ name: record.name, schema: record.schema, description });
    } else if (typeof record.name === "string" && "schemas" in record) {
      const schemas = record.schemas as Record<string, unknown> | null;
      events.push({ name: record.name, schema: schemas ? latestSchema(schemas) : undefined, description });
    } else {
      events.push({ name: basename(file, ".json"), schema: json });
    }
  }
  return events;
}

/** Every event type of the service (archived ones left out) with its newest schema. */
async function schemasFromService(client: ApiClient): Promise<EventSchema[]> {
  const page = await client.listAll<EventTypeOut>(apiPath("event-type"), { with_content: true });
  return page.data.map((type) => ({
    name: type.name,
    schema: type.schemas ? latestSchema(type.schemas) : undefined,
    description: type.description,
  }));
}

async function emit(events: EventSchema[], flags: GenerateFlags): Promise<void> {
  let source: string;
  try {
    source = generateEventTypes(events);
  } catch (error) {
    throw new CliError((error as Error).message, 1, { cause: error });
  }
  if (flags.out === undefined || flags.out === "-") {
    process.stdout.write(source);
    return;
  }
  await writeFile(flags.out, source);
  if (flags.json) printJson({ out: flags.out, eventTypes: events.map((e) => e.name).sort() });
  else process.stderr.write(`wrote ${events.length} event types to ${flags.out}\n`);
}

/** `hookline types generate [--url … | --from <dir>] --out events.ts`. */
export function typesCommand(): Command {
  const types = new Command("types").description("TypeScript types of the event catalogue: generate");
  types.addCommand(
    withClientOptions(
      new Command("generate")
        .description(
          "write an Events interface (event type name → payload type) from the event types' JSON Schemas, read from the service or from --from <dir>",
        )
        .option(
          "--from <dir>",
          'a directory of *.json files: { "name", "schema" } each, or a bare schema named after its file',
        )
        .option("--out <file>", "where to write the TypeScript (default: stdout)"),
    ).action(async (flags: GenerateFlags, command: Command) => {
      if (flags.from !== undefined) {
        if (command.getOptionValueSource("url") === "cli") throw new UsageError("give --url or --from, not both");
        await emit(await schemasFromDirectory(flags.from), flags);
        return;
      }
      await withClient(flags, async (client) => emit(await schemasFromService(client), flags));
    }),
  );
  return types;
}

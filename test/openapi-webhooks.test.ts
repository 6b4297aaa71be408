import { describe, expect, test } from "vitest";
import { systemClock } from "../src/core/clock.js";
import { type EventType, EventTypes } from "../src/delivery/event-types.js";
import { eventTypesFromOpenApi, openApiWebhooks } from "../src/delivery/openapi-webhooks.js";
import { MemoryStore } from "../src/store/memory/memory-store.js";

function eventType(name: string, schemas: Record<string, unknown> | null, description = ""): EventType {
  return { name, description, schemas, archived: false, featureFlag: null, createdAt: 0, updatedAt: 0 };
}

const tree = {
  type: "object",
  properties: {
    node: { $ref: "#/$defs/Node" },
    id: { $ref: "#/definitions/Id" },
    again: { $ref: "#" },
    name: { $ref: "#/properties/id" },
  },
  $defs: { Node: { type: "object", properties: { children: { type: "array", items: { $ref: "#/$defs/Node" } } } } },
  definitions: { Id: { type: "string" } },
};

describe("openApiWebhooks / eventTypesFromOpenApi", () => {
  test("a self-contained schema is inlined; one with local refs goes to components and comes back the same", () => {
    const flat = { type: "object", properties: { id: { type: "string" } } };
    const { webhooks, schemas } = openApiWebhooks([
      eventType("tree.grown", { "1": { type: "string" }, "2": tree }, "A tree grew"),
      eventType("flat", { "1": flat }),
      eventType("free", null),
    ]);
    expect(Object.keys(webhooks)).toEqual(["flat", "free", "tree.grown"]);
    expect(schemas).toEqual({
      "Webhook.tree.grown": {
        type: "object",
        properties: {
          node: { $ref: "#/components/schemas/Webhook.tree.grown.Node" },
          id: { $ref: "#/components/schemas/Webhook.tree.grown.Id" },
          again: { $ref: "#/components/schemas/Webhook.tree.grown" },
          name: { $ref: "#/components/schemas/Webhook.tree.grown/properties/id" },
        },
      },
      "Webhook.tree.grown.Node": {
        type: "object",
        properties: { children: { type: "array", items: { $ref: "#/components/schemas/Webhook.tree.grown.Node" } } },
      },
      "Webhook.tree.grown.Id": { type: "string" },
    });
    const doc = { openapi: "3.1.0", webhooks, components: { schemas } };
    const back = eventTypesFromOpenApi(JSON.parse(JSON.stringify(doc)));
    expect(back.map((t) => t.name)).toEqual(["flat", "free", "tree.grown"]);
    expect(back[0]).toEqual({ name: "flat", description: "", schema: flat });
    expect(back[1]).toEqual({ name: "free", description: "", schema: undefined });
    const { definitions, $defs, ...rest } = tree;
    expect(back[2]).toEqual({
      name: "tree.grown",
      description: "A tree grew",
      schema: {
        ...rest,
        properties: { ...rest.properties, id: { $ref: "#/$defs/Id" } },
        $defs: { Id: definitions.Id, ...$defs },
      },
    });
  });

  test("path items and request bodies by $ref; a webhook without post, or a remote $ref, is refused by name", () => {
    const doc = {
      webhooks: { "a.b": { $ref: "#/components/pathItems/AB" } },
      components: {
        pathItems: { AB: { post: { requestBody: { $ref: "#/components/requestBodies/AB" } } } },
        requestBodies: { AB: { content: { "application/json": { schema: { type: "integer" } } } } },
      },
    };
    expect(eventTypesFromOpenApi(doc)).toEqual([{ name: "a.b", description: "", schema: { type: "integer" } }]);
    expect(() => eventTypesFromOpenApi({ webhooks: { x: { get: {} } } })).toThrow("webhooks.x has no post operation");
    expect(() => eventTypesFromOpenApi({ webhooks: { x: { $ref: "other.json#/x" } } })).toThrow(
      "webhooks.x: only local $refs can be read",
    );
    expect(() => eventTypesFromOpenApi({ webhooks: { x: { $ref: "#/nowhere" } } })).toThrow("points at nothing");
    expect(() => eventTypesFromOpenApi({ openapi: "3.0.0", paths: {} })).toThrow("no webhooks section");
    // A webhook without a JSON body is an event type without a schema.
    expect(eventTypesFromOpenApi({ webhooks: { x: { post: { summary: "X happened" } } } })).toEqual([
      { name: "x", description: "X happened", schema: undefined },
    ]);
  });
});

test("EventTypes.listAll reads every page, leaves archived types out, and sees this process's writes at once", async () => {
  const store = new MemoryStore();
  await store.migrate();
  const types = new EventTypes(store, systemClock, 60_000);
  for (let i = 0; i < 260; i++) await types.create({ name: `t.${String(i).padStart(3, "0")}` });
  await types.delete("t.007");
  const first = await types.listAll();
  expect(first).toHaveLength(259);
  expect(first.map((t) => t.name)).not.toContain("t.007");
  expect(await types.listAll()).toBe(first); // cached
  await types.create({ name: "zz.new", schemas: { "1": { type: "string" } } });
  const second = await types.listAll();
  expect(second).toHaveLength(260);
  expect(second.find((t) => t.name === "zz.new")?.schemas).toEqual({ "1": { type: "string" } });
});

import { describe, expect, test } from "vitest";
import { ConfigurationError, createWebhookRegistry, matchesEventType, WebhookConfig } from "../src/index.js";

const config = (events: string[] = [], active = true) =>
  new WebhookConfig({ url: "https://example.com/hook", secret: "s", events, active });

describe("WebhookRegistry", () => {
  test("register, get, replace, unregister", () => {
    const registry = createWebhookRegistry();
    const first = config();
    registry.register("a", first);
    expect(registry.get("a")).toBe(first);
    const second = config(["created"]);
    registry.register("a", second);
    expect(registry.get("a")).toBe(second);
    expect(registry.listAll().size).toBe(1);
    registry.unregister("a");
    expect(registry.get("a")).toBeUndefined();
  });

  test("unregister of an unknown id throws an error saying not found", () => {
    const registry = createWebhookRegistry();
    expect(() => registry.unregister("ghost")).toThrow(/not found/);
  });

  test("listAll returns a copy", () => {
    const registry = createWebhookRegistry();
    registry.register("a", config());
    const all = registry.listAll();
    all.delete("a");
    expect(registry.listAll().has("a")).toBe(true);
  });

  test("listForEvent keeps active webhooks that list the type or take everything", () => {
    const registry = createWebhookRegistry();
    registry.register("all", config());
    registry.register("created", config(["created"]));
    registry.register("updated", config(["updated"]));
    registry.register("inactive", config(["created"], false));
    registry.register("invoices", config(["invoice.*"]));
    expect([...registry.listForEvent("created").keys()].sort()).toEqual(["all", "created"]);
    expect([...registry.listForEvent("invoice.paid").keys()].sort()).toEqual(["all", "invoices"]);
    expect([...registry.listForEvent("deleted").keys()]).toEqual(["all"]);
  });

  test("rejects bad input at registration", () => {
    const registry = createWebhookRegistry();
    expect(() => registry.register("", config())).toThrow(ConfigurationError);
    expect(() => registry.register("x", { url: "https://x", secret: "s" } as never)).toThrow(/WebhookConfig/);
    const malformed = new WebhookConfig({ url: "https://x", secret: "whsec_not*base64" });
    expect(() => registry.register("x", malformed)).toThrow(/base64/);
    expect(registry.listAll().size).toBe(0);
  });
});

describe("matchesEventType", () => {
  test.each([
    [[], "anything", true],
    [["a.b"], "a.b", true],
    [["a.b"], "a.bc", false],
    [["a.*"], "a.b.c", true],
    [["a.*"], "ab.c", false],
    [["a.*"], "a", false],
    [["*"], "x", true],
  ])("%o matches %s: %s", (filter, type, expected) => {
    expect(matchesEventType(filter, type)).toBe(expected);
  });
});

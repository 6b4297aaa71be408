import type { AddressInfo } from "node:net";
import { Svix } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerHarness, startHarness } from "./server-harness.js";

let harness: ServerHarness | null = null;

afterEach(async () => {
  await harness?.close();
  harness = null;
});

describe("oversized request bodies over a real socket", () => {
  it("answers a 2 MB POST /api/v1/app with 413 every time and stores nothing", async () => {
    harness = await startHarness();
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const body = JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) });
    const before = (await harness.call("GET", "/api/v1/app")).json().data.length;
    const outcomes: Record<string, number> = {};
    for (let run = 0; run < 20; run++) {
      let outcome: string;
      try {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/app`, {
          method: "POST",
          headers: { authorization: `Bearer ${harness.adminToken}`, "content-type": "application/json" },
          body,
        });
        const answer = (await response.json()) as { code?: string };
        outcome = `${response.status} ${answer.code}`;
      } catch (error) {
        outcome = String((error as { cause?: { code?: string } }).cause?.code ?? error);
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    expect(outcomes).toEqual({ "413 payload_too_large": 20 });
    const after = (await harness.call("GET", "/api/v1/app")).json().data.length;
    expect(after).toBe(before);
  });

  it("gives the official svix client the 413, not a reset", async () => {
    harness = await startHarness();
    await harness.server.listen({ host: "127.0.0.1", port: 0 });
    const { port } = harness.server.server.address() as AddressInfo;
    const svix = new Svix(harness.adminToken, { serverUrl: `http://127.0.0.1:${port}` });
    const statuses: string[] = [];
    for (let run = 0; run < 5; run++) {
      try {
        await svix.application.create({ name: "x".repeat(2 * 1024 * 1024) });
        statuses.push("created");
      } catch (error) {
        const code = (error as { code?: unknown; cause?: { code?: string } }).code;
        statuses.push(String(code ?? (error as { cause?: { code?: string } }).cause?.code ?? error));
      }
    }
    expect(statuses).toEqual(["413", "413", "413", "413", "413"]);
    expect((await harness.call("GET", "/api/v1/app")).json().data).toEqual([]);
  });
});

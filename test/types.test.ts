import { join } from "node:path";
import { expect, test } from "vitest";
import { ROOT, runTsc } from "./support/tsc.js";

test("test/types compiles: typed send() and verify() accept what they should, and every @ts-expect-error line fails", async () => {
  const result = await runTsc(join(ROOT, "test", "types", "tsconfig.json"));
  expect(result.output).toBe("");
  expect(result.code).toBe(0);
}, 120_000);

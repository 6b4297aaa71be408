// Builds the dashboard into dist/ui (one script, one stylesheet, one page) and prints its gzipped size.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
const SOURCE = join(ROOT, "src", "ui");
const OUT = join(ROOT, "dist", "ui");
const BUDGET_BYTES = 150 * 1024;

mkdirSync(OUT, { recursive: true });
await build({
  entryPoints: [join(SOURCE, "main.ts")],
  outfile: join(OUT, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  logLevel: "warning",
});
await build({
  entryPoints: [join(SOURCE, "app.css")],
  outfile: join(OUT, "app.css"),
  minify: true,
  logLevel: "warning",
});
copyFileSync(join(SOURCE, "index.html"), join(OUT, "index.html"));

const gzipped = ["index.html", "app.js", "app.css"].reduce(
  (sum, name) => sum + gzipSync(readFileSync(join(OUT, name))).length,
  0,
);
console.log(`dist/ui first page: ${(gzipped / 1024).toFixed(1)} kB gzipped (budget ${BUDGET_BYTES / 1024} kB)`);
if (gzipped > BUDGET_BYTES) {
  console.error("the UI is over its size budget");
  process.exit(1);
}

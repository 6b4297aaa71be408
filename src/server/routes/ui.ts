import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** dist/ui next to the built server; from the sources (tests), the built copy in dist/. */
function uiDirectory(): string {
  const built = fileURLToPath(new URL("../../ui/", import.meta.url));
  if (existsSync(join(built, "index.html"))) return built;
  return fileURLToPath(new URL("../../../dist/ui/", import.meta.url));
}

const ASSET = /^[A-Za-z0-9_-]+\.(js|css|svg)$/;

/**
 * The dashboard and customer portal under /ui/ (`/` redirects there): the
 * built files of dist/ui, each with a strict Content-Security-Policy (no
 * inline script, only this origin), nosniff and no referrer. `portalOrigins`
 * are the origins allowed to frame the UI; none by default.
 */
export function registerUi(app: FastifyInstance, options: { portalOrigins: readonly string[] }): void {
  const dir = uiDirectory();
  const ancestors = options.portalOrigins.length > 0 ? options.portalOrigins.join(" ") : "'none'";
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${ancestors}`,
  ].join("; ");
  const secure = (reply: FastifyReply) =>
    reply
      .header("content-security-policy", csp)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer");

  const sendFile = async (reply: FastifyReply, name: string, cache: string) => {
    let body: Buffer;
    try {
      body = await readFile(join(dir, name));
    } catch {
      return secure(reply).code(404).type("text/plain; charset=utf-8").send("the UI is not built (npm run build)");
    }
    return secure(reply)
      .header("cache-control", cache)
      .type(TYPES[extname(name)] ?? "application/octet-stream")
      .send(body);
  };

  app.get("/", async (_request, reply) => reply.redirect("/ui/"));
  app.get("/ui", async (_request, reply) => reply.redirect("/ui/"));
  app.get("/ui/*", async (request, reply) => {
    const rest = (request.params as { "*": string })["*"];
    if (ASSET.test(rest)) return sendFile(reply, rest, "no-cache");
    // Every other path is a page of the single-page UI.
    return sendFile(reply, "index.html", "no-store");
  });
}

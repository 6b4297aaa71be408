/**
 * The dashboard and the customer portal in Debian's Chromium, against a real
 * `hookline serve` on SQLite and real receivers on 127.0.0.1 (one answering
 * 200, one 500).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ensureBuilt, killAll, ROOT, type ServeProcess, startServe, tempDir } from "./cli-support.js";

const CHROMIUM = "/usr/bin/chromium";
/**
 * Where the screenshots go: the README's own (docs/screenshots) with
 * HOOKLINE_SCREENSHOTS=1, so a plain test run leaves the tree as it was;
 * a temporary directory otherwise, still taken so the pages render in both schemes.
 */
const SHOTS =
  process.env.HOOKLINE_SCREENSHOTS === "1"
    ? join(ROOT, "docs", "screenshots")
    : mkdtempSync(join(tmpdir(), "hookline-screenshots-"));
type Json = Record<string, unknown>;

let serve: ServeProcess;
let browser: Browser;
let okUrl: string;
let failUrl: string;
const receivers: Server[] = [];

function receiver(status: number, body: string): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => response.writeHead(status, { "content-type": "text/plain" }).end(body));
  });
  receivers.push(server);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)),
  );
}

async function call(method: string, path: string, body?: unknown, token = serve.adminToken): Promise<Response> {
  return fetch(`${serve.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function json<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await call(method, path, body);
  expect(response.ok, `${method} ${path}: ${response.status}`).toBe(true);
  return (await response.json()) as T;
}

/** Presses "Refresh" until the attempts table has a row matching `pattern` (the worker records it a moment later). */
async function waitForAttempt(page: Page, pattern: RegExp, count = 1): Promise<void> {
  const rows = page.getByRole("row").filter({ hasText: pattern });
  for (let i = 0; i < 100; i++) {
    if ((await rows.count()) >= count) return;
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.waitForTimeout(100);
  }
  throw new Error(`no attempt matching ${pattern}`);
}

async function screenshots(page: Page, name: string): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/**
 * The page's globals, typed only as far as the functions run in the page (page.evaluate) use them:
 * this project compiles its Node code without the DOM library.
 */
interface PageElement {
  tagName: string;
  id: string;
  textContent: string | null;
  parentElement: PageElement | null;
  matches(selector: string): boolean;
}
declare const document: {
  activeElement: PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};
declare function getComputedStyle(
  el: PageElement,
): Record<"color" | "backgroundColor" | "outlineWidth" | "outlineStyle", string>;

/** A new tab, logged in with the admin key, showing the view at `path`. */
async function logIn(path: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${serve.url}/ui/`);
  await page.getByLabel("API key").fill(serve.adminToken ?? "");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Apps" }).waitFor();
  await page.goto(`${serve.url}/ui/#${path}`);
  return { context, page };
}

/** Presses "Filter" and waits until the filtered view is shown (it takes the focus from the pressed button). */
async function filter(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForFunction(() => document.activeElement?.id === "main");
}

/** Presses Tab until the focused element matches `selector` (and has `text`, when given). */
async function tabTo(page: Page, selector: string, text?: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(
      ([s, t]) => {
        const el = document.activeElement;
        return el?.matches(s as string) && (t === null || el.textContent === t);
      },
      [selector, text ?? null],
    );
    if (focused) return;
  }
  throw new Error(`Tab never reached ${selector} ${text ?? ""}`);
}

/** The focused element shows a focus indicator: it matches :focus-visible and draws an outline. */
async function expectFocusRing(page: Page): Promise<void> {
  const ring = await page.evaluate(() => {
    const el = document.activeElement as PageElement;
    const style = getComputedStyle(el);
    return {
      visible: el.matches(":focus-visible"),
      width: Number.parseFloat(style.outlineWidth),
      style: style.outlineStyle,
    };
  });
  expect(ring.visible).toBe(true);
  expect(ring.width).toBeGreaterThan(0);
  expect(ring.style).not.toBe("none");
}

/**
 * Runs in the page: for each named selector, the lowest WCAG 2.x contrast ratio of an element's
 * text colour against its effective background (the first opaque background up its ancestors,
 * with translucent ones blended over it). Every selector must match some element with text.
 */
function contrastRatios(selectors: Record<string, string>): Record<string, { ratio: number; where: string }> {
  type Rgba = [number, number, number, number];
  const parse = (css: string): Rgba => {
    const srgb = /^color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)(?: \/ ([\d.e-]+))?\)$/.exec(css);
    if (srgb) return [Number(srgb[1]) * 255, Number(srgb[2]) * 255, Number(srgb[3]) * 255, Number(srgb[4] ?? 1)];
    const rgb = /^rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)$/.exec(css);
    if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3]), Number(rgb[4] ?? 1)];
    throw new Error(`unexpected colour ${css}`);
  };
  const over = (top: Rgba, bottom: Rgba): Rgba => {
    const a = top[3];
    return [0, 1, 2].map((i) => (top[i] as number) * a + (bottom[i] as number) * (1 - a)).concat(1) as Rgba;
  };
  const background = (el: PageElement): Rgba => {
    const layers: Rgba[] = [];
    for (let node: PageElement | null = el; node !== null; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] === 1) break;
    }
    // The canvas behind everything: white unless a layer above covers it.
    return layers.reduceRight<Rgba>((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = ([r, g, b]: Rgba) => {
    const channel = (c: number) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const result: Record<string, { ratio: number; where: string }> = {};
  for (const [what, selector] of Object.entries(selectors)) {
    for (const el of document.querySelectorAll(selector)) {
      if (!el.textContent?.trim()) continue;
      const back = background(el);
      const text = over(parse(getComputedStyle(el).color), back);
      const [light, dark] = [luminance(text), luminance(back)].sort((a, b) => b - a) as [number, number];
      const ratio = (light + 0.05) / (dark + 0.05);
      if (ratio < (result[what]?.ratio ?? Number.POSITIVE_INFINITY)) {
        result[what] = { ratio, where: `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"` };
      }
    }
    if (result[what] === undefined) throw new Error(`no text matches ${selector}`);
  }
  return result;
}

beforeAll(async () => {
  await ensureBuilt();
  // The UI bundle is built by `npm run build`; build it here too when it is missing or older than its sources.
  const bundle = join(ROOT, "dist", "ui", "app.js");
  const sources = ["main.ts", "app.css", "index.html"].map((name) => statSync(join(ROOT, "src", "ui", name)).mtimeMs);
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < Math.max(...sources)) {
    execFileSync(process.execPath, [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/build-ui.ts"], {
      cwd: ROOT,
    });
  }
  mkdirSync(SHOTS, { recursive: true });
  okUrl = await receiver(200, "ok, thanks");
  failUrl = await receiver(500, "receiver exploded");
  serve = await startServe(["--db", join(tempDir("hookline-ui"), "hookline.db"), "--retry-schedule", "0"], {
    persistent: true,
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const server of receivers) server.close();
  await killAll({ all: true });
  if (process.env.HOOKLINE_SCREENSHOTS !== "1") rmSync(SHOTS, { recursive: true, force: true });
});

describe("the UI", () => {
  test("is served under /ui/ with a strict CSP and nosniff, and / redirects there", async () => {
    const root = await fetch(`${serve.url}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/ui/");
    for (const path of ["/ui/", "/ui/app.js", "/ui/portal"]) {
      const response = await fetch(`${serve.url}${path}`);
      expect(response.status).toBe(200);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
    expect((await fetch(`${serve.url}/ui/app.js`)).headers.get("content-type")).toMatch(/javascript/);
  });

  test("operator flow: log in, add an endpoint, send an example, see 200; a 500 shows its response; resend; rotate", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${serve.url}/`);
    expect(new URL(page.url()).pathname).toBe("/ui/");
    await page.getByLabel("API key").fill(serve.adminToken ?? "");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByLabel("Name").fill("Acme");
    await page.getByRole("button", { name: "Create app" }).click();
    await page.getByRole("heading", { name: "Acme" }).waitFor();
    // The key is kept in this tab's sessionStorage, not in the address or a cookie.
    expect(page.url()).not.toContain(serve.adminToken ?? "-");
    expect(await context.cookies()).toEqual([]);

    await page.getByLabel("Endpoint URL").fill(okUrl);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByRole("button", { name: "Send example" }).click();
    await waitForAttempt(page, /Success.*200.*ok, thanks/);

    // Show secret, then rotate it: a different secret is shown.
    await expect(page.getByTestId("secret").textContent()).resolves.not.toMatch(/^whsec_/);
    await page.getByRole("button", { name: "Show secret" }).click();
    await page
      .getByTestId("secret")
      .filter({ hasText: /^whsec_/ })
      .waitFor();
    const before = await page.getByTestId("secret").textContent();
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page
      .getByTestId("secret")
      .filter({ hasNotText: before ?? "" })
      .waitFor();
    expect(await page.getByTestId("secret").textContent()).toMatch(/^whsec_/);
    await screenshots(page, "endpoint");

    // An endpoint answering 500: its failed attempt shows the status code and the response.
    const appId = new URL(page.url()).hash.split("/")[2] ?? "";
    const failing = await json("POST", `/app/${appId}/endpoint`, { url: failUrl });
    await json("POST", `/app/${appId}/msg`, { eventType: "order.paid", payload: { order: 7 } });
    await page.goto(`${serve.url}/ui/#/app/${appId}/endpoint/${failing.id}`);
    await waitForAttempt(page, /Failed.*500.*receiver exploded/);
    await page.getByRole("button", { name: "Resend" }).first().click();
    await waitForAttempt(page, /Failed.*500.*receiver exploded/, 2);
    expect(await page.getByRole("row").filter({ hasText: "Manual" }).count()).toBeGreaterThanOrEqual(1);

    // Disable, then enable.
    await page.getByRole("button", { name: "Disable" }).click();
    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByRole("button", { name: "Disable" }).waitFor();

    await page.goto(`${serve.url}/ui/#/app/${appId}`);
    await page.getByRole("cell", { name: failUrl }).waitFor();
    // Health over 24 h: the 200 endpoint 100 % with 200 last, the 500 one 0 % with 500 last (two attempts).
    const okRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: okUrl, exact: true }) });
    const failRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: failUrl, exact: true }) });
    expect(await okRow.getByRole("cell").allTextContents()).toEqual([okUrl, "", "Enabled", "100%", "2", "200"]);
    expect(await failRow.getByRole("cell").allTextContents()).toEqual([failUrl, "", "Enabled", "0%", "2", "500"]);
    // The chart counts the four attempts (two sends reached the 200 endpoint: the example and order.paid).
    await page.getByRole("img", { name: /4 in all/ }).waitFor();
    await screenshots(page, "app");
    await page.getByRole("link", { name: "Messages" }).first().click();
    await page.getByRole("cell", { name: "order.paid" }).waitFor();
    await page.getByRole("cell", { name: "example.ping" }).waitFor();
    await screenshots(page, "messages");
    // The Status column, and the status filter: order.paid failed at the 500 endpoint, example.ping did not.
    const paidRow = page.getByRole("row").filter({ has: page.getByRole("cell", { name: "order.paid" }) });
    expect(await paidRow.getByRole("cell").last().textContent()).toBe("delivered · failed");
    await page.getByLabel("Status").selectOption({ label: "Failed" });
    await filter(page);
    await page.waitForURL(/status=2/);
    await page.getByRole("cell", { name: "example.ping" }).waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "order.paid" }).waitFor();
    expect(await page.getByRole("row").count()).toBe(2);
    expect(await page.getByLabel("Status").inputValue()).toBe("2");
    // Filters: by event type, then by time (nothing was sent after tomorrow).
    await page.getByLabel("Event type").fill("order.paid");
    await filter(page);
    await page.waitForURL(/event_types=order.paid/);
    await page.getByRole("cell", { name: "example.ping" }).waitFor({ state: "detached" });
    await page.getByRole("cell", { name: "order.paid" }).waitFor();
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel("Sent after").fill(local);
    await filter(page);
    await page.waitForURL(/after=/);
    await page.getByRole("cell", { name: "order.paid" }).waitFor({ state: "detached" });
    expect(await page.getByRole("row").count()).toBe(1); // the header row alone
    await context.close();
  }, 90_000);

  test("portal flow: one app only, another app's id shows an error, read-only hides writes, an expired link says so", async () => {
    const mine = await json("POST", "/app", { name: "Customer One" });
    const theirs = await json("POST", "/app", { name: "Customer Two" });
    await json("POST", `/app/${mine.id}/endpoint`, { url: `${okUrl}?mine` });
    await json("POST", `/app/${theirs.id}/endpoint`, { url: `${okUrl}?theirs` });
    const access = await json<{ url: string; token: string }>("POST", `/auth/app-portal-access/${mine.id}`, {});
    expect(access.url.startsWith(`${serve.url}/ui/portal#`)).toBe(true);
    expect(new URL(access.url).search).toBe("");

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(access.url);
    await page.getByRole("cell", { name: `${okUrl}?mine` }).waitFor();
    expect(await page.getByRole("cell", { name: `${okUrl}?theirs` }).count()).toBe(0);
    // The token left the address bar.
    expect(page.url()).not.toContain(access.token);
    await page.getByRole("button", { name: "Add endpoint" }).waitFor();
    await screenshots(page, "portal");

    await page.goto(`${serve.url}/ui/portal#/app/${theirs.id}`);
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("cell", { name: `${okUrl}?theirs` }).count()).toBe(0);
    // The API refuses the other app as well.
    expect((await call("GET", `/app/${theirs.id}/endpoint`, undefined, access.token)).status).toBe(403);
    expect((await call("GET", "/app", undefined, access.token)).status).toBe(403);
    await context.close();

    // Read-only: no write button, and the API refuses writes.
    const readOnly = await json<{ url: string; token: string }>("POST", `/auth/app-portal-access/${mine.id}`, {
      readOnly: true,
    });
    const roContext = await browser.newContext();
    const roPage = await roContext.newPage();
    await roPage.goto(readOnly.url);
    await roPage.getByRole("link", { name: `${okUrl}?mine` }).click();
    await roPage.getByRole("button", { name: "Show secret" }).waitFor();
    expect(await roPage.getByRole("textbox", { name: /Sent with every webhook/ }).getAttribute("readonly")).toBe("");
    for (const name of [
      "Add endpoint",
      "Save",
      "Delete",
      "Disable",
      "Enable",
      "Rotate secret",
      "Recover",
      "Send example",
      "Save headers",
    ]) {
      expect(await roPage.getByRole("button", { name }).count(), name).toBe(0);
    }
    const refused = await call("POST", `/app/${mine.id}/endpoint`, { url: okUrl }, readOnly.token);
    expect(refused.status).toBe(403);
    await roContext.close();

    // A link that expires after 1 s: once the API refuses it, the portal says the link has expired.
    const short = await json<{ url: string; token: string }>("POST", `/auth/app-portal-access/${mine.id}`, {
      expiry: 1,
    });
    for (let i = 0; i < 40; i++) {
      if ((await call("GET", `/app/${mine.id}`, undefined, short.token)).status === 401) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const expired = await call("GET", `/app/${mine.id}`, undefined, short.token);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as Json).code).toBe("token_expired");
    const expiredContext = await browser.newContext();
    const expiredPage = await expiredContext.newPage();
    await expiredPage.goto(short.url);
    await expiredPage.getByRole("heading", { name: "This link has expired" }).waitFor();
    await expiredContext.close();
  }, 90_000);

  test("endpoint headers: shown (a sensitive one by name only), edited, saved; after a reload they are there", async () => {
    const app = await json("POST", "/app", { name: "Headers Inc" });
    const endpoint = await json("POST", `/app/${app.id}/endpoint`, {
      url: okUrl,
      headers: { "X-Tenant": "t-1", Authorization: "Bearer very-secret" },
    });
    const { context, page } = await logIn(`/app/${app.id}/endpoint/${endpoint.id}`);
    const box = page.getByRole("textbox", { name: /Sent with every webhook/ });
    await box.waitFor();
    expect((await box.inputValue()).split("\n")).toEqual(["X-Tenant: t-1", "Authorization: (hidden)"]);

    await box.fill(`${await box.inputValue()}\nX-Team: payments`);
    await page.getByRole("button", { name: "Save headers" }).click();
    // The API has it, and the sensitive header is still there, though the page never saw its value.
    const headersPath = `/app/${app.id}/endpoint/${endpoint.id}/headers`;
    await expect
      .poll(async () => (await json("GET", headersPath)).headers)
      .toEqual({ "X-Tenant": "t-1", "X-Team": "payments" });
    expect((await json("GET", headersPath)).sensitive).toEqual(["Authorization"]);
    await page.reload();
    await box.waitFor();
    expect((await box.inputValue()).split("\n").sort()).toEqual([
      "Authorization: (hidden)",
      "X-Team: payments",
      "X-Tenant: t-1",
    ]);

    // Dropping a line deletes that header; a line that is not "Name: value" is refused where it was typed.
    await box.fill("X-Team: platform\nAuthorization: (hidden)");
    await page.getByRole("button", { name: "Save headers" }).click();
    await expect
      .poll(async () => json("GET", headersPath))
      .toEqual({
        headers: { "X-Team": "platform" },
        sensitive: ["Authorization"],
      });
    await page.reload();
    await box.waitFor();
    await box.fill("no colon here");
    await page.getByRole("button", { name: "Save headers" }).click();
    await page.getByRole("alert").filter({ hasText: "is not" }).waitFor();
    expect((await json("GET", headersPath)).headers).toEqual({ "X-Team": "platform" });
    await context.close();
  }, 60_000);

  test("keyboard only: log in, open an app, and every focused control shows a focus ring", async () => {
    await json("POST", "/app", { name: "Keyboard Co" });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${serve.url}/ui/`);
    await tabTo(page, "input[name=key]");
    await page.keyboard.type(serve.adminToken ?? "");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Apps" }).waitFor();
    await page.waitForFunction(() => document.activeElement?.id === "main");

    await tabTo(page, "a", "Keyboard Co");
    await expectFocusRing(page);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keyboard Co" }).waitFor();
    // The new view's content has the focus, so the next Tab reaches its first link.
    await page.waitForFunction(() => document.activeElement?.id === "main");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Messages");
    await expectFocusRing(page);
    await tabTo(page, "button", "Add endpoint");
    await expectFocusRing(page);
    await page.keyboard.press("Enter"); // an empty URL: the API refuses it, and the page says so
    await page.getByRole("alert").waitFor();
    await context.close();
  }, 60_000);

  test("contrast: text against its background is at least 4.5:1 (WCAG AA) in the light and the dark scheme", async () => {
    const app = await json("POST", "/app", { name: "Contrast Ltd" });
    await json("POST", `/app/${app.id}/endpoint`, { url: okUrl });
    const disabled = await json("POST", `/app/${app.id}/endpoint`, { url: failUrl });
    await json("PATCH", `/app/${app.id}/endpoint/${disabled.id}`, { disabled: true });
    const { context, page } = await logIn(`/app/${app.id}`);
    await page.getByRole("cell", { name: "Disabled" }).waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const ratios = await page.evaluate(contrastRatios, {
        "main text": "main h1, main h2, main td",
        "muted text": "th, label > span",
        links: "main a, nav a",
        buttons: "main button:not(.secondary)",
        "secondary buttons": "button.secondary",
        "good status": ".good",
        "bad status": ".bad",
      });
      const lowest = Object.entries(ratios).sort(([, a], [, b]) => a.ratio - b.ratio)[0];
      console.log(
        `lowest contrast, ${scheme}: ${lowest?.[1].ratio.toFixed(2)}:1 (${lowest?.[0]}, ${lowest?.[1].where})`,
      );
      for (const [what, { ratio, where }] of Object.entries(ratios)) {
        expect(ratio, `${scheme} ${what}: ${where}`).toBeGreaterThanOrEqual(4.5);
      }
    }
    await context.close();
  }, 60_000);

  test("--portal-origins sets frame-ancestors", async () => {
    const framed = await startServe(
      ["--db", join(tempDir("hookline-ui-frame"), "hookline.db"), "--portal-origins", "https://app.example.com"],
      {},
    );
    const response = await fetch(`${framed.url}/ui/`);
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors https://app.example.com");
    await framed.proc.stop();
  }, 60_000);
});

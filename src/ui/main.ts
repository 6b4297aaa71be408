// The dashboard and the customer portal: a small single-page app over hookline's public HTTP API.
type Json = Record<string, unknown>;
type Child = Node | string | null | undefined | false;

const KEY = "hookline.key";
const PORTAL = "hookline.portal";
const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;

function h(tag: string, attrs: Record<string, unknown> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function")
      el.addEventListener(name.slice(2), value as EventListener);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

interface Portal {
  app: string;
  readOnly: boolean;
}
const portal = (): Portal | null => JSON.parse(sessionStorage.getItem(PORTAL) ?? "null") as Portal | null;
const canWrite = () => portal()?.readOnly !== true;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

async function api<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${sessionStorage.getItem(KEY) ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (response.status === 204) return {} as T;
  const json = (await response.json().catch(() => ({}))) as Json;
  if (!response.ok) {
    const detail = typeof json.detail === "string" ? json.detail : JSON.stringify(json.detail ?? response.statusText);
    throw new HttpError(response.status, String(json.code ?? "error"), detail);
  }
  return json as T;
}

const e = encodeURIComponent;
const when = (iso: unknown) => (typeof iso === "string" ? new Date(iso).toLocaleString() : "");
const link = (href: string, text: string) => h("a", { href: `#${href}` }, text);
const table = (heads: string[], rows: Child[][]) =>
  h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c))))),
  );
/** A button running `action`; what it throws is shown beside it. */
function button(label: string, action: () => unknown, secondary = false): HTMLElement {
  const el = h("button", { type: "button", class: secondary ? "secondary" : undefined }, label);
  el.addEventListener("click", async () => {
    if (el.nextElementSibling?.matches(".error")) el.nextElementSibling.remove();
    try {
      await action();
    } catch (error) {
      el.after(h("div", { class: "error", role: "alert" }, `Error: ${(error as Error).message}`));
    }
  });
  return el;
}
const field = (label: string, input: HTMLElement) => h("label", {}, h("span", {}, label), input);
const input = (name: string, value = "", type = "text") => h("input", { name, value, type }) as HTMLInputElement;
const statusText = ["Success", "Pending", "Failed", "Sending"];
/** A message's deliveries by Svix's MessageStatus number, as the Messages view names them. */
const deliveryState = ["delivered", "pending", "failed", "sending"];
const select = (name: string, value: string, options: [string, string][]) =>
  h(
    "select",
    { name },
    ...options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
  ) as HTMLSelectElement;

function show(...children: Child[]): void {
  main.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

function loginView(): void {
  const key = input("key", "", "password");
  key.setAttribute("autocomplete", "off");
  const form = h(
    "form",
    {
      onsubmit: (event: Event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY, key.value.trim());
        sessionStorage.removeItem(PORTAL);
        go("/apps");
      },
    },
    field("API key", key),
    h("button", { type: "submit" }, "Log in"),
  );
  show(h("h1", {}, "Log in"), h("p", {}, "The key stays in this tab only."), form);
}

async function appsView(): Promise<void> {
  const search = input("search");
  search.setAttribute("aria-label", "Search apps");
  const list = (await api<{ data: Json[] }>("GET", "/app?limit=250")).data;
  const rows = () =>
    list
      .filter((a) => `${a.name} ${a.id} ${a.uid ?? ""}`.toLowerCase().includes(search.value.toLowerCase()))
      .map((a) => [link(`/app/${a.id}`, String(a.name)), String(a.uid ?? ""), when(a.createdAt)]);
  const holder = h("div", {}, table(["Name", "UID", "Created"], rows()));
  search.addEventListener("input", () => holder.replaceChildren(table(["Name", "UID", "Created"], rows())));
  const name = input("name");
  show(
    h("h1", {}, "Apps"),
    search,
    holder,
    h("h2", {}, "Create an app"),
    field("Name", name),
    button("Create app", async () => {
      const app = await api("POST", "/app", { name: name.value });
      location.hash = `#/app/${app.id}`;
    }),
  );
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag: string, attrs: Record<string, string | number>, ...children: Node[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

/** Succeeded (bottom) and failed (top) attempts per hour, as stacked SVG bars. */
function hourlyChart(hours: { start: string; succeeded: number; failed: number }[]): Node {
  const width = 720;
  const height = 160;
  const max = Math.max(1, ...hours.map((b) => b.succeeded + b.failed));
  const bar = width / Math.max(1, hours.length);
  const scale = (n: number) => (n / max) * (height - 20);
  const bars = hours.flatMap((b, i) => {
    const ok = scale(b.succeeded);
    const bad = scale(b.failed);
    const x = i * bar + 1;
    const title = svg(
      "title",
      {},
      document.createTextNode(`${when(b.start)}: ${b.succeeded} succeeded, ${b.failed} failed`),
    );
    return [
      svg("rect", { x, y: height - ok, width: bar - 2, height: ok, class: "ok" }, title),
      svg("rect", { x, y: height - ok - bad, width: bar - 2, height: bad, class: "failed" }, title.cloneNode(true)),
    ];
  });
  const total = hours.reduce((n, b) => n + b.succeeded + b.failed, 0);
  return svg(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `Attempts per hour over 24 hours: ${total} in all`,
    },
    svg("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis" }),
    ...bars,
  );
}

async function appView(appId: string): Promise<void> {
  const [app, endpointPage, health, hourly] = await Promise.all([
    api("GET", `/app/${e(appId)}`),
    api<{ data: Json[] }>("GET", `/app/${e(appId)}/endpoint?limit=250`),
    api<{ data: Json[] }>("GET", `/app/${e(appId)}/stats/endpoint-health`),
    api<{ data: { start: string; succeeded: number; failed: number }[] }>("GET", `/app/${e(appId)}/stats/hourly`),
  ]);
  const byEndpoint = new Map(health.data.map((row) => [String(row.endpointId), row]));
  const url = input("url", "", "url");
  show(
    h("h1", {}, String(app.name)),
    h("p", {}, link(`/app/${appId}/messages`, "Messages"), " · ", link(`/event-types`, "Event types")),
    h("h2", {}, "Deliveries, last 24 hours"),
    h(
      "p",
      { class: "legend" },
      h("span", { class: "good" }, "■ succeeded"),
      " ",
      h("span", { class: "bad" }, "■ failed"),
    ),
    hourlyChart(hourly.data),
    h("h2", {}, "Endpoints"),
    table(
      ["URL", "Description", "State", "Success (24 h)", "Attempts (24 h)", "Last status"],
      endpointPage.data.map((ep) => {
        const row = byEndpoint.get(String(ep.id));
        return [
          link(`/app/${appId}/endpoint/${ep.id}`, String(ep.url)),
          String(ep.description),
          ep.disabled ? h("span", { class: "bad" }, "Disabled") : h("span", { class: "good" }, "Enabled"),
          row ? `${Math.round(Number(row.successRate) * 100)}%` : "–",
          row ? String(row.attempts) : "0",
          row ? String(row.lastStatusCode ?? "no response") : "–",
        ];
      }),
    ),
    canWrite() && h("h2", {}, "New endpoint"),
    canWrite() && field("Endpoint URL", url),
    canWrite() &&
      button("Add endpoint", async () => {
        const ep = await api("POST", `/app/${e(appId)}/endpoint`, { url: url.value });
        location.hash = `#/app/${appId}/endpoint/${ep.id}`;
      }),
  );
}

function attemptsTable(appId: string, attempts: Json[], resend: boolean): HTMLElement {
  return table(
    ["Time", "Status", "Code", "Duration", "Trigger", "Response", ""],
    attempts.map((a) => [
      when(a.timestamp),
      statusText[Number(a.status)] ?? String(a.statusText),
      String(a.responseStatusCode),
      `${a.responseDurationMs} ms`,
      Number(a.triggerType) === 1 ? "Manual" : "Scheduled",
      h("code", {}, String(a.response).slice(0, 200)),
      resend && canWrite()
        ? button("Resend", async () => {
            await api("POST", `/app/${e(appId)}/msg/${e(String(a.msgId))}/endpoint/${e(String(a.endpointId))}/resend`);
            await render();
          })
        : "",
    ]),
  );
}

const HIDDEN = "(hidden)";

/** The edited "Name: value" lines as a PATCH: the headers to set and the stored ones no longer named. */
function headerChanges(text: string, stored: { headers: Record<string, string>; sensitive: string[] }) {
  const sensitive = new Set(stored.sensitive.map((name) => name.toLowerCase()));
  const headers: Record<string, string> = {};
  const named = new Set<string>();
  for (const line of text.split("\n").filter((l) => l.trim())) {
    const colon = line.indexOf(":");
    if (colon < 1) throw new Error(`"${line.trim()}" is not "Name: value"`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    named.add(name.toLowerCase());
    // A sensitive header still shown as hidden keeps its value, which never reaches the browser
    // (and is why this is a PATCH: a PUT would drop it).
    if (value !== HIDDEN || !sensitive.has(name.toLowerCase())) headers[name] = value;
  }
  const deleteHeaders = [...Object.keys(stored.headers), ...stored.sensitive].filter(
    (n) => !named.has(n.toLowerCase()),
  );
  return { headers, deleteHeaders };
}

async function endpointView(appId: string, endpointId: string): Promise<void> {
  const base = `/app/${e(appId)}/endpoint/${e(endpointId)}`;
  const ep = await api("GET", base);
  const attempts = (await api<{ data: Json[] }>("GET", `/app/${e(appId)}/attempt/endpoint/${e(endpointId)}?limit=50`))
    .data;
  const stored = await api<{ headers: Record<string, string>; sensitive: string[] }>("GET", `${base}/headers`);
  const url = input("url", String(ep.url), "url");
  const description = input("description", String(ep.description));
  const types = input("filterTypes", ((ep.filterTypes as string[] | null) ?? []).join(", "));
  const channels = input("channels", ((ep.channels as string[] | null) ?? []).join(", "));
  const rate = input("rateLimit", ep.rateLimit == null ? "" : String(ep.rateLimit), "number");
  const secret = h("code", { "data-testid": "secret" }, "••••••••");
  const since = input("since", new Date(Date.now() - 86_400_000).toISOString().slice(0, 16), "datetime-local");
  const exampleType = input("eventType", "example.ping");
  const list = (s: string) => {
    const items = s
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    return items.length > 0 ? items : null;
  };
  const write = canWrite();
  const headers = h("textarea", { name: "headers", rows: "4", cols: "60", readonly: !write }) as HTMLTextAreaElement;
  headers.value = [
    ...Object.entries(stored.headers).map(([name, value]) => `${name}: ${value}`),
    ...stored.sensitive.map((name) => `${name}: ${HIDDEN}`),
  ].join("\n");
  show(
    h("p", {}, link(`/app/${appId}`, "← App")),
    h("h1", {}, String(ep.url)),
    h("p", {}, ep.disabled ? h("span", { class: "bad" }, "Disabled") : h("span", { class: "good" }, "Enabled")),
    field("URL", url),
    field("Description", description),
    field("Event types (comma-separated, empty for all)", types),
    field("Channels (comma-separated)", channels),
    field("Rate limit (per second)", rate),
    write &&
      button("Save", async () => {
        await api("PATCH", base, {
          url: url.value,
          description: description.value,
          filterTypes: list(types.value),
          channels: list(channels.value),
          rateLimit: rate.value === "" ? null : Number(rate.value),
        });
        await render();
      }),
    write &&
      button(
        ep.disabled ? "Enable" : "Disable",
        async () => {
          await api("PATCH", base, { disabled: !ep.disabled });
          await render();
        },
        true,
      ),
    write &&
      button(
        "Delete",
        async () => {
          if (!confirm("Delete this endpoint?")) return;
          await api("DELETE", base);
          location.hash = `#/app/${appId}`;
        },
        true,
      ),
    h("h2", {}, "Headers"),
    field(`Sent with every webhook, one "Name: value" a line (sensitive values show as ${HIDDEN})`, headers),
    write &&
      button("Save headers", async () => {
        await api("PATCH", `${base}/headers`, headerChanges(headers.value, stored));
        await render();
      }),
    h("h2", {}, "Signing secret"),
    h("p", {}, secret),
    button(
      "Show secret",
      async () => {
        secret.textContent = String((await api("GET", `${base}/secret`)).key);
      },
      true,
    ),
    write &&
      button(
        "Rotate secret",
        async () => {
          await api("POST", `${base}/secret/rotate`, {});
          secret.textContent = String((await api("GET", `${base}/secret`)).key);
        },
        true,
      ),
    write && h("h2", {}, "Recover failed messages"),
    write && field("Since", since),
    write &&
      button("Recover", async () => {
        await api("POST", `${base}/recover`, { since: new Date(since.value).toISOString() });
        await render();
      }),
    write && h("h2", {}, "Send an example"),
    write && field("Event type", exampleType),
    write &&
      button("Send example", async () => {
        await api("POST", `/app/${e(appId)}/msg`, {
          eventType: exampleType.value,
          payload: { type: exampleType.value, example: true, sentAt: new Date().toISOString() },
        });
        await render();
      }),
    h("h2", {}, "Attempts"),
    button("Refresh", () => render(), true),
    attemptsTable(appId, attempts, true),
  );
}

async function messagesView(appId: string, query: URLSearchParams): Promise<void> {
  const eventType = input("event_types", query.get("event_types") ?? "");
  const channel = input("channel", query.get("channel") ?? "");
  const after = input("after", query.get("after") ?? "", "datetime-local");
  const before = input("before", query.get("before") ?? "", "datetime-local");
  const status = select("status", query.get("status") ?? "", [
    ["", "Any"],
    ["0", "Succeeded"],
    ["1", "Pending"],
    ["2", "Failed"],
    ["3", "Sending"],
  ]);
  const params = new URLSearchParams({ limit: "100" });
  if (eventType.value) params.set("event_types", eventType.value);
  if (channel.value) params.set("channel", channel.value);
  if (after.value) params.set("after", new Date(after.value).toISOString());
  if (before.value) params.set("before", new Date(before.value).toISOString());
  // The same page once per delivery state (the API filters each page alike): the Status column, and the filter's answer.
  const [any, ...byState] = await Promise.all(
    ["", "0", "1", "2", "3"].map(
      async (s) => (await api<{ data: Json[] }>("GET", `/app/${e(appId)}/msg?${params}${s && `&status=${s}`}`)).data,
    ),
  );
  const messages = (status.value === "" ? any : byState[Number(status.value)]) ?? [];
  const states = (id: unknown) =>
    byState.flatMap((page, state) =>
      page.some((m) => m.id === id)
        ? [h("span", { class: state === 0 ? "good" : state === 2 ? "bad" : undefined }, deliveryState[state])]
        : [],
    );
  show(
    h("p", {}, link(`/app/${appId}`, "← App")),
    h("h1", {}, "Messages"),
    field("Event type", eventType),
    field("Channel", channel),
    field("Sent after", after),
    field("Sent before", before),
    field("Status", status),
    button("Filter", () => {
      const q = new URLSearchParams();
      for (const [name, el] of [
        ["event_types", eventType],
        ["channel", channel],
        ["after", after],
        ["before", before],
        ["status", status],
      ] as const) {
        if (el.value) q.set(name, el.value);
      }
      go(`/app/${appId}/messages?${q}`);
    }),
    table(
      ["Message", "Event type", "Time", "Status"],
      messages.map((m) => [
        link(`/app/${appId}/msg/${m.id}`, String(m.id)),
        String(m.eventType),
        when(m.timestamp),
        h("span", {}, ...states(m.id).flatMap((span, i) => (i === 0 ? [span] : [" · ", span]))),
      ]),
    ),
  );
}

async function messageView(appId: string, msgId: string): Promise<void> {
  const message = await api("GET", `/app/${e(appId)}/msg/${e(msgId)}`);
  const attempts = (await api<{ data: Json[] }>("GET", `/app/${e(appId)}/attempt/msg/${e(msgId)}?limit=100`)).data;
  show(
    h("p", {}, link(`/app/${appId}/messages`, "← Messages")),
    h("h1", {}, String(message.eventType)),
    h(
      "pre",
      {},
      message.payload === null
        ? "(payload expunged by retention or an erasure request)"
        : JSON.stringify(message.payload, null, 2),
    ),
    h("h2", {}, "Attempts"),
    attemptsTable(appId, attempts, true),
  );
}

async function eventTypesView(): Promise<void> {
  const types = (await api<{ data: Json[] }>("GET", "/event-type?limit=250&include_archived=true")).data;
  const name = input("name");
  const description = input("description");
  const schema = h("textarea", { name: "schema", rows: "4", cols: "60" }) as HTMLTextAreaElement;
  const write = canWrite() && portal() === null;
  show(
    h("h1", {}, "Event types"),
    table(
      ["Name", "Description", "Schema", ""],
      types.map((t) => [
        String(t.name),
        String(t.description),
        t.schemas ? h("pre", {}, JSON.stringify(t.schemas, null, 2)) : "",
        t.archived
          ? "Archived"
          : write
            ? button("Archive", async () => {
                await api("DELETE", `/event-type/${e(String(t.name))}`);
                await render();
              })
            : "",
      ]),
    ),
    write && h("h2", {}, "New event type"),
    write && field("Name", name),
    write && field("Description", description),
    write && field("JSON Schema (optional)", schema),
    write &&
      button("Create event type", async () => {
        await api("POST", "/event-type", {
          name: name.value,
          description: description.value,
          ...(schema.value.trim() && { schemas: { "1": JSON.parse(schema.value) } }),
        });
        await render();
      }),
  );
}

/** A portal link carries its key in the fragment: keep it in this tab, then drop it from the address bar. */
function takePortalLink(): void {
  if (!location.pathname.startsWith("/ui/portal") || !location.hash.includes("key=")) return;
  const fragment = new URLSearchParams(location.hash.slice(1));
  sessionStorage.setItem(KEY, fragment.get("key") ?? "");
  sessionStorage.setItem(
    PORTAL,
    JSON.stringify({ app: fragment.get("app") ?? "", readOnly: fragment.get("readOnly") === "true" }),
  );
  history.replaceState(null, "", `/ui/portal#/app/${fragment.get("app") ?? ""}`);
}

function applyTheme(): void {
  const query = new URLSearchParams(location.search);
  const theme = query.get("theme");
  if (theme === "dark" || theme === "light") document.documentElement.classList.add(theme);
  const primary = query.get("primary");
  if (primary && /^#?[0-9a-fA-F]{3,8}$/.test(primary)) {
    document.documentElement.style.setProperty("--primary", primary.startsWith("#") ? primary : `#${primary}`);
  }
}

async function render(): Promise<void> {
  const path = location.hash.slice(1) || "/apps";
  const [route = "", search = ""] = path.split("?");
  const parts = route.split("/").filter(Boolean).map(decodeURIComponent);
  const p = portal();
  nav.replaceChildren(
    ...(p
      ? [
          link(`/app/${p.app}`, "Endpoints"),
          link(`/app/${p.app}/messages`, "Messages"),
          link("/event-types", "Event types"),
        ]
      : sessionStorage.getItem(KEY)
        ? [link("/apps", "Apps"), link("/event-types", "Event types"), button("Log out", logout, true)]
        : []),
  );
  if (!sessionStorage.getItem(KEY)) return loginView();
  try {
    if (parts[0] === "app" && parts[1]) {
      if (p && parts[1] !== p.app) throw new HttpError(403, "forbidden", "this link opens another app");
      if (parts[2] === "endpoint" && parts[3]) return await endpointView(parts[1], parts[3]);
      if (parts[2] === "messages") return await messagesView(parts[1], new URLSearchParams(search));
      if (parts[2] === "msg" && parts[3]) return await messageView(parts[1], parts[3]);
      return await appView(parts[1]);
    }
    if (parts[0] === "event-types") return await eventTypesView();
    if (p) return await appView(p.app);
    return await appsView();
  } catch (error) {
    if (error instanceof HttpError && error.code === "token_expired") {
      return show(h("h1", {}, "This link has expired"), h("p", {}, "Ask for a new link to the portal."));
    }
    if (error instanceof HttpError && error.status === 401 && !p) {
      sessionStorage.removeItem(KEY);
      return loginView();
    }
    show(h("div", { class: "error", role: "alert" }, `Error: ${(error as Error).message}`));
  }
}

function logout(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(PORTAL);
  go("");
}

applyTheme();
takePortalLink();
// After a move to another view, keyboard and screen-reader users start at its content, not at a link that is gone.
const navigated = () => void render().then(() => main.focus());
/** Shows the view at `path`, rendering it again when the address already names it. */
function go(path: string): void {
  const before = location.hash;
  location.hash = path && `#${path}`;
  if (location.hash === before) navigated();
}
window.addEventListener("hashchange", navigated);
void render();

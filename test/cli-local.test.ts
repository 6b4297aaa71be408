/**
 * The `hookline` binary without a service: help, usage errors, `verify` and
 * `listen`, and the client's error handling against a stand-in HTTP server.
 * Signatures are computed here with node:crypto, never with hookline's signer.
 */

import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { ensureBuilt, killAll, newSecret, runCli, signV1, startCli, tempDir } from "./cli-support.js";

beforeAll(ensureBuilt, 120_000);
afterEach(() => killAll());

const now = () => Math.floor(Date.now() / 1000);

describe("help and usage", () => {
  const commands = [
    [],
    ["serve"],
    ["apps"],
    ["apps", "list"],
    ["apps", "create"],
    ["apps", "get"],
    ["apps", "rm"],
    ["endpoints"],
    ["endpoints", "list"],
    ["endpoints", "add"],
    ["endpoints", "get"],
    ["endpoints", "rm"],
    ["endpoints", "secret"],
    ["endpoints", "rotate"],
    ["endpoints", "recover"],
    ["send"],
    ["messages"],
    ["messages", "list"],
    ["messages", "get"],
    ["attempts"],
    ["attempts", "list"],
    ["resend"],
    ["tail"],
    ["keys"],
    ["keys", "create"],
    ["event-types"],
    ["event-types", "import"],
    ["types"],
    ["types", "generate"],
    ["listen"],
    ["verify"],
  ];

  test("--help on every command prints its usage and exits 0", async () => {
    const results = await Promise.all(commands.map((path) => runCli([...path, "--help"])));
    results.forEach((result, i) => {
      const path = commands[i] ?? [];
      expect(result.code, `hookline ${path.join(" ")} --help`).toBe(0);
      expect(result.stdout).toContain(`Usage: hookline${path.length ? ` ${path.join(" ")}` : ""}`);
    });
    expect(results[0]?.stdout).toMatch(/serve[\s\S]*listen[\s\S]*verify/);
    expect(results[1]?.stdout).toMatch(
      /--port[\s\S]*--db[\s\S]*--pg[\s\S]*--no-workers[\s\S]*--no-api[\s\S]*--allow-private/,
    );
  });

  test("--version prints the package version", async () => {
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test.each([
    ["no command", []],
    ["an unknown command", ["frobnicate"]],
    ["an unknown option", ["apps", "--frobnicate"]],
    ["a missing required option", ["send", "x.y", "--app", "app_1", "--token", "t"]],
    ["a missing argument", ["apps", "create", "--token", "t"]],
    ["an extra argument", ["apps", "get", "a", "b", "--token", "t"]],
    ["a port that is not a number", ["listen", "--port", "eighty"]],
    ["a port out of range", ["listen", "--port", "70000"]],
    ["JSON data that does not parse", ["send", "x.y", "--app", "a", "--data", "{nope", "--token", "t"]],
    ["a data file that does not exist", ["send", "x.y", "--app", "a", "--data", "@/no/such/file.json", "--token", "t"]],
    [
      "a date that does not parse",
      ["endpoints", "recover", "ep_1", "--app", "a", "--since", "yesterday-ish", "--token", "t"],
    ],
    ["a client command without a token", ["apps"]],
    ["a malformed secret", ["verify", "--secret", "whsec_***", "-H", "webhook-id: x"]],
    ["a malformed header", ["verify", "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "-H", "no-colon"]],
    ["--db with --pg", ["serve", "--db", "x.db", "--pg", "postgres://127.0.0.1/x"]],
    ["--no-api with --no-workers", ["serve", "--no-api", "--no-workers"]],
    ["an invalid log level", ["serve", "--log-level", "loud"]],
    ["--reject-invalid without --secret", ["listen", "--reject-invalid", "--port", "0"]],
  ])("%s is a usage error: exit 2", async (_name, args) => {
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/error/);
    expect(result.stdout).toBe("");
  });
});

describe("hookline verify", () => {
  const secret = newSecret();
  const body = '{"type":"invoice.paid","data":{"id":"in_1","amount":4200}}';

  const headers = (sig: string, ts = now(), id = "msg_2abc", prefix = "webhook") => [
    "-H",
    `${prefix}-id: ${id}`,
    "-H",
    `${prefix}-timestamp: ${ts}`,
    "--header",
    `${prefix}-signature: ${sig}`,
  ];

  test("a valid signature exits 0", async () => {
    const ts = now();
    const result = await runCli(["verify", "--secret", secret, ...headers(signV1(secret, "msg_2abc", ts, body), ts)], {
      input: body,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^valid: msg_2abc signed at /);
  });

  test("svix-* headers are accepted", async () => {
    const ts = now();
    const sig = signV1(secret, "msg_svix", ts, body);
    const result = await runCli(["verify", "--secret", secret, ...headers(sig, ts, "msg_svix", "svix")], {
      input: body,
    });
    expect(result.code).toBe(0);
  });

  test("a raw (non-whsec) secret, read from HOOKLINE_WEBHOOK_SECRET, and a body from --body", async () => {
    const raw = "a plain shared secret";
    const ts = now();
    const dir = tempDir("hookline-verify");
    const file = join(dir, "body.json");
    writeFileSync(file, body);
    const result = await runCli(
      ["verify", "--body", file, ...headers(signV1(raw, "msg_raw", ts, body), ts, "msg_raw")],
      {
        env: { HOOKLINE_WEBHOOK_SECRET: raw },
      },
    );
    expect(result.code, result.stderr).toBe(0);
  });

  test("one matching signature among several (a rotation) is enough", async () => {
    const ts = now();
    const other = newSecret();
    const sig = `${signV1(other, "msg_2abc", ts, body)} ${signV1(secret, "msg_2abc", ts, body)}`;
    const result = await runCli(["verify", "--secret", secret, ...headers(sig, ts)], { input: body });
    expect(result.code).toBe(0);
  });

  test.each([
    ["a tampered body", (ts: number) => signV1(secret, "msg_2abc", ts, body), `${body} `, "NO_MATCHING_SIGNATURE"],
    ["another secret", (ts: number) => signV1(newSecret(), "msg_2abc", ts, body), body, "NO_MATCHING_SIGNATURE"],
    ["a signature of another id", (ts: number) => signV1(secret, "msg_other", ts, body), body, "NO_MATCHING_SIGNATURE"],
    ["garbage in the signature", () => "v1,not*base64", body, "NO_MATCHING_SIGNATURE"],
  ])("%s exits 1 with the reason on stderr", async (_name, sign, sentBody, code) => {
    const ts = now();
    const result = await runCli(["verify", "--secret", secret, ...headers(sign(ts), ts)], { input: sentBody });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`HOOKLINE_VERIFICATION_${code}`);
    expect(result.stderr).toMatch(/^invalid: /);
  });

  test("an old timestamp exits 1 unless --tolerance allows it", async () => {
    const ts = now() - 3_600;
    const args = ["verify", "--secret", secret, ...headers(signV1(secret, "msg_2abc", ts, body), ts)];
    const old = await runCli(args, { input: body });
    expect(old.code).toBe(1);
    expect(old.stderr).toContain("HOOKLINE_VERIFICATION_TIMESTAMP_TOO_OLD");
    const tolerated = await runCli([...args, "--tolerance", "7200"], { input: body });
    expect(tolerated.code).toBe(0);
  });

  test("missing headers exit 1; --json reports the result on stdout", async () => {
    const result = await runCli(["verify", "--secret", secret, "-H", "webhook-id: msg_1", "--json"], { input: body });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: false, code: "HOOKLINE_VERIFICATION_MISSING_HEADERS" });
    const ts = now();
    const ok = await runCli(
      ["verify", "--secret", secret, ...headers(signV1(secret, "m", ts, body), ts, "m"), "--json"],
      {
        input: body,
      },
    );
    expect(JSON.parse(ok.stdout)).toEqual({ valid: true, msgId: "m", timestamp: ts });
  });
});

describe("hookline listen", () => {
  const secret = newSecret();

  async function post(url: string, body: string, headers: Record<string, string>) {
    const response = await request(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
    });
    return { status: response.statusCode, body: await response.body.text() };
  }

  function signed(body: string, id = "msg_listen", ts = now()) {
    return { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": signV1(secret, id, ts, body) };
  }

  test("prints each webhook as JSON, verifies it, answers 200, and stops on SIGINT", async () => {
    const listener = startCli(["listen", "--port", "0", "--secret", secret, "--json"]);
    const [, port] = await listener.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const url = `http://127.0.0.1:${port}/hooks?x=1`;
    const body = JSON.stringify({ hello: "world" });

    expect((await post(url, body, signed(body))).status).toBe(200);
    expect((await post(url, body, { ...signed(body), "webhook-signature": "v1,AAAA" })).status).toBe(200);
    expect((await post(url, body, {})).status).toBe(200);

    await listener.waitFor(/("signature":"invalid"[\s\S]*){2}/, 5_000, "stdout");
    const lines = listener
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ method: "POST", path: "/hooks?x=1", body, signature: "valid", status: 200 });
    expect(lines[0].headers["webhook-id"]).toBe("msg_listen");
    expect(lines[1]).toMatchObject({
      signature: "invalid",
      error: { code: "HOOKLINE_VERIFICATION_NO_MATCHING_SIGNATURE" },
    });
    expect(lines[2]).toMatchObject({ signature: "invalid", error: { code: "HOOKLINE_VERIFICATION_MISSING_HEADERS" } });

    const exit = await listener.stop("SIGINT");
    expect(exit.code).toBe(0);
    expect(listener.stderr()).toContain("received 3 webhooks (1 valid, 2 invalid)");
  });

  test("--reject-invalid answers 401 to a bad signature; svix-* headers verify", async () => {
    const listener = startCli(["listen", "--port", "0", "--secret", secret, "--reject-invalid"]);
    const [, port] = await listener.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const url = `http://127.0.0.1:${port}/`;
    const body = '{"n":1}';
    const ts = now();
    const svix = {
      "svix-id": "msg_s",
      "svix-timestamp": String(ts),
      "svix-signature": signV1(secret, "msg_s", ts, body),
    };
    expect((await post(url, body, svix)).status).toBe(200);
    expect((await post(url, `${body} `, svix)).status).toBe(401);
    await listener.waitFor(/signature: INVALID — no matching signature found/, 5_000, "stdout");
    expect(listener.stdout()).toContain("signature: valid");
    expect(listener.stdout()).toContain("svix-id: msg_s");
    expect(listener.stdout()).toContain('"n": 1');
    expect((await listener.stop("SIGTERM")).code).toBe(0);
  });

  test("without a secret every webhook is printed unchecked and answered with --status", async () => {
    const listener = startCli(["listen", "--port", "0", "--status", "204"]);
    const [, port] = await listener.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+).*not verifying/);
    const result = await post(`http://127.0.0.1:${port}/x`, "not json", { "webhook-id": "msg_1" });
    expect(result.status).toBe(204);
    await listener.waitFor(/POST \/x\s+-> 204[\s\S]*webhook-id: msg_1[\s\S]*not json/, 5_000, "stdout");
    expect(listener.stdout()).not.toContain("signature:");
    await listener.stop("SIGINT");
  });

  test("a port in use is a failure: exit 1", async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const result = await runCli(["listen", "--port", String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("EADDRINUSE");
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe("client commands against a stand-in server", () => {
  interface Seen {
    method: string;
    url: string;
    authorization: string | undefined;
    idempotencyKey: string | undefined;
    body: unknown;
  }
  const seen: Seen[] = [];
  let server: http.Server;
  let url = "";
  const responses = new Map<string, { status: number; body: unknown }>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          authorization: req.headers.authorization,
          idempotencyKey: req.headers["idempotency-key"] as string | undefined,
          body: text ? JSON.parse(text) : undefined,
        });
        const path = (req.url ?? "").split("?")[0] ?? "";
        const answer = responses.get(`${req.method} ${path}`) ?? {
          status: 404,
          body: { code: "not_found", detail: "Entity not found" },
        };
        if (answer.status === 204) {
          res.writeHead(204).end();
          return;
        }
        res
          .writeHead(answer.status, { "content-type": "application/json" })
          .end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const cli = (args: string[], input?: string) =>
    runCli(args, {
      env: { HOOKLINE_URL: url, HOOKLINE_TOKEN: "hl_test_token" },
      ...(input !== undefined && { input }),
    });

  test("an API error prints `code: detail` and exits 1", async () => {
    const result = await cli(["apps", "get", "app_missing"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe("not_found: Entity not found");
    expect(seen.at(-1)).toMatchObject({
      method: "GET",
      url: "/api/v1/app/app_missing",
      authorization: "Bearer hl_test_token",
    });
  });

  test("validation errors name their fields; non-JSON errors quote the body", async () => {
    responses.set("POST /api/v1/app", {
      status: 422,
      body: { code: "validation", detail: [{ loc: ["body", "name"], msg: "field required", type: "missing" }] },
    });
    const result = await cli(["apps", "create", "x"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe("validation: body.name: field required");
    responses.set("GET /api/v1/app", { status: 502, body: "<html>bad gateway</html>" });
    const gateway = await cli(["apps"]);
    expect(gateway.code).toBe(1);
    expect(gateway.stderr.trim()).toBe("http_502: <html>bad gateway</html>");
  });

  test("send posts the payload from --data @file with the event id and Idempotency-Key", async () => {
    responses.set("POST /api/v1/app/app_1/msg", {
      status: 202,
      body: {
        id: "msg_1",
        eventType: "invoice.paid",
        eventId: "evt_1",
        payload: {},
        timestamp: "2024-01-01T00:00:00Z",
      },
    });
    const dir = tempDir("hookline-send");
    const file = join(dir, "payload.json");
    writeFileSync(file, '{"id":"in_1","lines":[1,2]}');
    const result = await cli([
      "send",
      "invoice.paid",
      "--app",
      "app_1",
      "--data",
      `@${file}`,
      "--event-id",
      "evt_1",
      "--tags",
      "a, b",
      "--idempotency-key",
      "idem-1",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/id:\s+msg_1/);
    expect(seen.at(-1)).toMatchObject({
      method: "POST",
      url: "/api/v1/app/app_1/msg",
      idempotencyKey: "idem-1",
      body: { eventType: "invoice.paid", payload: { id: "in_1", lines: [1, 2] }, eventId: "evt_1", tags: ["a", "b"] },
    });
    const fromStdin = await cli(["send", "x.y", "--app", "app_1", "--data", "@-", "--json"], '{"from":"stdin"}');
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout).id).toBe("msg_1");
    expect(seen.at(-1)?.body).toMatchObject({ payload: { from: "stdin" } });
  });

  test("recover follows a background task until it finishes", async () => {
    responses.set("POST /api/v1/app/app_1/endpoint/ep_1/recover", {
      status: 202,
      body: { id: "qtask_1", status: "running", task: "endpoint.recover", updatedAt: "2024-01-01T00:00:00Z" },
    });
    responses.set("GET /api/v1/background-task/qtask_1", {
      status: 200,
      body: { id: "qtask_1", status: "finished", task: "endpoint.recover", data: { count: 42 }, updatedAt: "x" },
    });
    const result = await cli(["endpoints", "recover", "ep_1", "--app", "app_1", "--since", "2024-01-01T00:00:00Z"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("recovery of ep_1 finished: 42 deliveries re-queued");
    // stderr is not a terminal here: no progress indicator, no control characters.
    expect(result.stderr).toBe("");
    const post = seen.find((s) => s.url === "/api/v1/app/app_1/endpoint/ep_1/recover");
    expect(post?.body).toEqual({ since: "2024-01-01T00:00:00.000Z" });
  });

  test("an unreachable service is a failure: exit 1", async () => {
    const result = await runCli(["apps", "--url", "http://127.0.0.1:9", "--token", "t"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
  });
});

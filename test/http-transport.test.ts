import diagnosticsChannel from "node:diagnostics_channel";
import { EventEmitter, getEventListeners, once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigurationError, DeliveryError, type HooklineErrorCode } from "../src/core/errors.js";
import { HttpTransport, type HttpTransportOptions } from "../src/transport/http-transport.js";

// Every server here listens on loopback only, and every transport that is allowed to
// connect is built with allowPrivateNetworks or a loopback allow-list: no byte of these
// tests leaves the machine.

interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, recorded: RecordedRequest) => void;

interface TestServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** TCP connections accepted, over every address the server listens on. */
  connections: number;
  requests: RecordedRequest[];
  /** Server-side sockets, open or closed. */
  sockets: Socket[];
  /** Emits "request" with each RecordedRequest once its body has arrived. */
  events: EventEmitter;
  /** Also listen on [::1] with the same port; false when IPv6 loopback is unavailable. */
  listenOnIPv6Loopback(): Promise<boolean>;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const transports: HttpTransport[] = [];

afterEach(async () => {
  // Servers first: dropping their sockets lets the transports' close() finish at once.
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
});

function transport(options: HttpTransportOptions = {}): HttpTransport {
  const created = new HttpTransport(options);
  transports.push(created);
  return created;
}

/** A transport that may reach loopback, for everything but the egress-guard tests. */
function localTransport(options: HttpTransportOptions = {}): HttpTransport {
  return transport({ allowPrivateNetworks: true, ...options });
}

async function startServer(handler: Handler = (_req, res) => res.end("ok")): Promise<TestServer> {
  const httpServers: http.Server[] = [];
  const events = new EventEmitter();
  const state: TestServer = {
    port: 0,
    origin: "",
    connections: 0,
    requests: [],
    sockets: [],
    events,
    async listenOnIPv6Loopback() {
      const extra = http.createServer();
      wire(extra);
      try {
        await listen(extra, "::1", state.port);
      } catch {
        return false;
      }
      httpServers.push(extra);
      return true;
    },
    async close() {
      await Promise.all(
        httpServers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
  function wire(server: http.Server): void {
    server.on("connection", (socket: Socket) => {
      state.connections++;
      state.sockets.push(socket);
    });
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const recorded: RecordedRequest = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks),
        };
        state.requests.push(recorded);
        events.emit("request", recorded);
        handler(req, res, recorded);
      });
    });
  }
  const main = http.createServer();
  wire(main);
  await listen(main, "127.0.0.1", 0);
  httpServers.push(main);
  state.port = (main.address() as AddressInfo).port;
  state.origin = `http://127.0.0.1:${state.port}`;
  servers.push(state);
  return state;
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** A port on 127.0.0.1 that nothing listens on: bind it, then let it go. */
async function freePort(): Promise<number> {
  const server = http.createServer();
  await listen(server, "127.0.0.1", 0);
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The DeliveryError a promise rejects with; fails the test when it resolves or throws anything else. */
async function deliveryError(promise: Promise<unknown>, code: HooklineErrorCode): Promise<DeliveryError> {
  const outcome = await promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => ({ error }),
  );
  if ("resolved" in outcome) {
    throw new Error(`expected a DeliveryError ${code}, got a response: ${JSON.stringify(outcome.resolved)}`);
  }
  expect(outcome.error).toBeInstanceOf(DeliveryError);
  expect((outcome.error as DeliveryError).code).toBe(code);
  return outcome.error as DeliveryError;
}

/**
 * Sends to a non-loopback literal that the guard must refuse. The signal is already
 * aborted, so even a regressed guard cannot dial out: the send would then fail with
 * HOOKLINE_DELIVERY_ABORTED instead of HOOKLINE_DELIVERY_EGRESS_BLOCKED, and the test fails
 * without a packet leaving the machine.
 */
function sendNowhere(client: HttpTransport, url: string): Promise<unknown> {
  return client.send(url, "x", {}, 300, AbortSignal.abort(new Error("never dial a non-loopback address")));
}

/** Records every client socket node:net creates while `body` runs, whatever dials it. */
async function countClientSockets(body: () => Promise<void>): Promise<number> {
  let created = 0;
  const onSocket = () => {
    created++;
  };
  diagnosticsChannel.subscribe("net.client.socket", onSocket);
  try {
    await body();
  } finally {
    diagnosticsChannel.unsubscribe("net.client.socket", onSocket);
  }
  return created;
}

describe("HttpTransport: successful delivery", () => {
  it("returns status, body and lower-cased headers of a 2xx", async () => {
    const server = await startServer((_req, res) => {
      res.setHeader("X-Reply", "yes");
      res.setHeader("Set-Cookie", ["a=1", "b=2"]);
      res.writeHead(202, { "Content-Type": "text/plain" });
      res.end("accepted ✓");
    });
    const response = await localTransport().send(`${server.origin}/hook`, "{}", {}, 2_000);
    expect(response.statusCode).toBe(202);
    expect(response.body).toBe("accepted ✓");
    expect(response.headers?.["x-reply"]).toBe("yes");
    expect(response.headers?.["content-type"]).toBe("text/plain");
    expect(response.headers?.["set-cookie"]).toBe("a=1, b=2");
  });

  it("POSTs the exact body bytes, path, query and the given headers", async () => {
    const server = await startServer();
    const payload = JSON.stringify({ event_id: "evt_1", payload: { text: "héllo ✓ 🚀", n: 1 } });
    const headers = {
      "Content-Type": "application/json",
      "X-Webhook-Event": "order.created",
      "X-Webhook-Signature": "abc123",
      "webhook-id": "msg_1",
    };
    const response = await localTransport().send(`${server.origin}/hooks/in?tenant=a&x=1`, payload, headers, 2_000);
    expect(response.statusCode).toBe(200);
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/hooks/in?tenant=a&x=1");
    expect(request?.body.equals(Buffer.from(payload, "utf8"))).toBe(true);
    expect(request?.headers["content-length"]).toBe(String(Buffer.byteLength(payload)));
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["x-webhook-event"]).toBe("order.created");
    expect(request?.headers["x-webhook-signature"]).toBe("abc123");
    expect(request?.headers["webhook-id"]).toBe("msg_1");
    expect(request?.headers["user-agent"]).toBe("hookline/0.1");
  });

  it("sends the configured userAgent", async () => {
    const server = await startServer();
    await localTransport({ userAgent: "acme-hooks/2" }).send(server.origin, "x", {}, 2_000);
    expect(server.requests[0]?.headers["user-agent"]).toBe("acme-hooks/2");
  });

  it.each(["user-agent", "User-Agent", "USER-AGENT"])(
    "a %s header from the caller replaces the default, sent once",
    async (name) => {
      const server = await startServer();
      await localTransport().send(server.origin, "x", { [name]: "caller/1" }, 2_000);
      const rawHeaders = server.requests[0]?.rawHeaders ?? [];
      const userAgents = rawHeaders.filter(
        (_value, index) => index % 2 === 0 && rawHeaders[index]?.toLowerCase() === "user-agent",
      );
      expect(userAgents).toHaveLength(1);
      expect(server.requests[0]?.headers["user-agent"]).toBe("caller/1");
    },
  );

  it("reuses keep-alive connections: several requests, fewer connections", async () => {
    const server = await startServer();
    const client = localTransport();
    for (let i = 0; i < 5; i++) {
      const response = await client.send(`${server.origin}/n${i}`, `body ${i}`, {}, 2_000);
      expect(response.statusCode).toBe(200);
    }
    expect(server.requests.map((r) => r.url)).toEqual(["/n0", "/n1", "/n2", "/n3", "/n4"]);
    expect(server.connections).toBeLessThan(5);
  });

  it("connectionsPerOrigin: 1 puts concurrent requests on a single connection", async () => {
    const server = await startServer();
    const client = localTransport({ connectionsPerOrigin: 1 });
    const responses = await Promise.all([0, 1, 2].map((i) => client.send(`${server.origin}/${i}`, "x", {}, 5_000)));
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(server.requests).toHaveLength(3);
    expect(server.connections).toBe(1);
  });
});

describe("HttpTransport: non-2xx statuses are data", () => {
  it.each([
    [500, "boom"],
    [502, "bad gateway"],
    [503, "down for maintenance"],
  ])("returns a %i with its body", async (status, text) => {
    const server = await startServer((_req, res) => {
      res.writeHead(status, { "Retry-After": "120" });
      res.end(text);
    });
    const response = await localTransport().send(server.origin, "x", {}, 2_000);
    expect(response).toMatchObject({ statusCode: status, body: text });
    expect(response.headers?.["retry-after"]).toBe("120");
  });

  it.each([
    [400, "bad request"],
    [401, "unauthorized"],
    [404, "no such hook"],
    [410, "gone"],
    [429, "slow down"],
  ])("returns a %i with its body", async (status, text) => {
    const server = await startServer((_req, res) => {
      res.writeHead(status);
      res.end(text);
    });
    const response = await localTransport().send(server.origin, "x", {}, 2_000);
    expect(response).toMatchObject({ statusCode: status, body: text });
  });

  it.each([301, 302, 303, 307, 308])("returns a %i without following the redirect", async (status) => {
    const target = await startServer((_req, res) => res.end("you should not be here"));
    const redirecting = await startServer((_req, res) => {
      res.writeHead(status, { Location: `${target.origin}/elsewhere` });
      res.end("moved");
    });
    const response = await localTransport().send(`${redirecting.origin}/hook`, "x", {}, 2_000);
    expect(response.statusCode).toBe(status);
    expect(response.body).toBe("moved");
    expect(response.headers?.location).toBe(`${target.origin}/elsewhere`);
    expect(redirecting.requests).toHaveLength(1);
    expect(target.requests).toHaveLength(0);
    expect(target.connections).toBe(0);
  });
});

describe("HttpTransport: timeouts", () => {
  it("times out when the server never sends headers", async () => {
    const server = await startServer(() => {
      // Never answer.
    });
    const error = await deliveryError(localTransport().send(server.origin, "x", {}, 250), "HOOKLINE_DELIVERY_TIMEOUT");
    expect(error.message).toMatch(/250 ms|in time/);
    // The request really went out: this is a response timeout, not a connect failure.
    expect(server.requests).toHaveLength(1);
  });

  it("times out when the server sends headers and then trickles the body forever", async () => {
    let responseClosed: Promise<unknown> = Promise.resolve();
    let chunksWritten = 0;
    const server = await startServer((_req, res) => {
      responseClosed = once(res, "close");
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.flushHeaders();
      // A byte every 20 ms keeps any per-chunk idle timer happy; only a whole-request deadline stops it.
      const timer = setInterval(() => {
        chunksWritten++;
        res.write("x");
      }, 20);
      res.on("close", () => clearInterval(timer));
    });
    await deliveryError(localTransport().send(server.origin, "x", {}, 300), "HOOKLINE_DELIVERY_TIMEOUT");
    expect(chunksWritten).toBeGreaterThan(0);
    // The transport hung up on the stream rather than leaving it running.
    await responseClosed;
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])("refuses timeoutMs %s without sending", async (timeoutMs) => {
    const server = await startServer();
    const error = await deliveryError(
      localTransport().send(server.origin, "x", {}, timeoutMs),
      "HOOKLINE_DELIVERY_TRANSPORT_FAILED",
    );
    expect(error.message).toContain("timeoutMs");
    expect(server.connections).toBe(0);
  });
});

describe("HttpTransport: response body cap", () => {
  const MiB = 1024 * 1024;

  /** Serves `totalBytes` of "a", honouring backpressure; reports whether the whole body was written. */
  async function startBigServer(totalBytes: number) {
    let finished: Promise<boolean> = Promise.resolve(false);
    const server = await startServer((_req, res) => {
      finished = new Promise((resolve) => res.on("close", () => resolve(res.writableFinished)));
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": String(totalBytes) });
      const chunk = Buffer.alloc(Math.min(MiB, totalBytes), "a");
      let written = 0;
      const pump = () => {
        while (written < totalBytes && !res.destroyed) {
          const piece = chunk.subarray(0, Math.min(chunk.length, totalBytes - written));
          written += piece.length;
          if (!res.write(piece)) {
            res.once("drain", pump);
            return;
          }
        }
        if (written >= totalBytes) res.end();
      };
      pump();
    });
    return { server, wroteEverything: () => finished };
  }

  it("keeps 64 KiB of a 20 MB body by default and stops downloading the rest", async () => {
    const { server, wroteEverything } = await startBigServer(20 * MiB);
    const response = await localTransport().send(server.origin, "x", {}, 10_000);
    expect(response.statusCode).toBe(200);
    expect(response.body.length).toBe(64 * 1024);
    expect(response.body).toMatch(/^a+$/);
    // 20 MB cannot sit in loopback socket buffers: the server is cut off before it finishes.
    expect(await wroteEverything()).toBe(false);
  });

  it("honours a custom maxResponseBodyBytes", async () => {
    const { server } = await startBigServer(20 * MiB);
    const response = await localTransport({ maxResponseBodyBytes: 1_000 }).send(server.origin, "x", {}, 10_000);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe("a".repeat(1_000));
  });

  it("maxResponseBodyBytes: 0 keeps no body but still returns the status", async () => {
    const { server } = await startBigServer(MiB);
    const response = await localTransport({ maxResponseBodyBytes: 0 }).send(server.origin, "x", {}, 10_000);
    expect(response).toMatchObject({ statusCode: 200, body: "" });
  });

  it("returns a body below the cap whole, and one of exactly the cap whole", async () => {
    const small = await startBigServer(100_000);
    const client = localTransport({ maxResponseBodyBytes: 200_000 });
    expect((await client.send(small.server.origin, "x", {}, 10_000)).body).toBe("a".repeat(100_000));
    const exact = await startBigServer(64 * 1024);
    expect((await localTransport().send(exact.server.origin, "x", {}, 10_000)).body).toBe("a".repeat(64 * 1024));
  });

  it("a capped response does not poison the pool: the next request succeeds", async () => {
    const big = await startBigServer(5 * MiB);
    const client = localTransport({ maxResponseBodyBytes: 10 });
    expect((await client.send(big.server.origin, "x", {}, 10_000)).body).toBe("a".repeat(10));
    expect((await client.send(big.server.origin, "x", {}, 10_000)).body).toBe("a".repeat(10));
    expect(big.server.requests).toHaveLength(2);
  });
});

describe("HttpTransport: connection failures and bad URLs", () => {
  it("reports a refused connection as HOOKLINE_DELIVERY_CONNECTION_FAILED", async () => {
    const port = await freePort();
    const error = await deliveryError(
      localTransport().send(`http://127.0.0.1:${port}/hook`, "x", {}, 2_000),
      "HOOKLINE_DELIVERY_CONNECTION_FAILED",
    );
    expect(error.message).toContain(String(port));
    expect(error.cause).toBeDefined();
  });

  it("reports a connection the server drops mid-request as HOOKLINE_DELIVERY_CONNECTION_FAILED", async () => {
    const server = await startServer((req) => req.socket.destroy());
    await deliveryError(localTransport().send(server.origin, "x", {}, 2_000), "HOOKLINE_DELIVERY_CONNECTION_FAILED");
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    "ftp://127.0.0.1:PORT/hook",
    "ws://127.0.0.1:PORT/hook",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/plain,hello",
    "mailto:ops@example.com",
  ])("refuses the non-http URL %s with HOOKLINE_DELIVERY_INVALID_URL", async (template) => {
    const server = await startServer();
    const url = template.replace("PORT", String(server.port));
    const error = await deliveryError(localTransport().send(url, "x", {}, 2_000), "HOOKLINE_DELIVERY_INVALID_URL");
    expect(error.message).toMatch(/scheme/);
    expect(server.connections).toBe(0);
  });

  it.each(["", "not a url", "http://", "http://[::1", "//127.0.0.1/hook", "http://exa mple.com/", "http://:80/"])(
    "refuses the unparsable URL %j with HOOKLINE_DELIVERY_INVALID_URL",
    async (url) => {
      const error = await deliveryError(localTransport().send(url, "x", {}, 2_000), "HOOKLINE_DELIVERY_INVALID_URL");
      expect(error.message).toContain(JSON.stringify(url));
    },
  );
});

describe("HttpTransport: AbortSignal", () => {
  it("an external abort while waiting for the response rejects with HOOKLINE_DELIVERY_ABORTED", async () => {
    const server = await startServer(() => {
      // Never answer.
    });
    const controller = new AbortController();
    const arrived = once(server.events, "request");
    const sending = localTransport().send(server.origin, "x", {}, 10_000, controller.signal);
    await arrived;
    const reason = new Error("shutting down");
    controller.abort(reason);
    const error = await deliveryError(sending, "HOOKLINE_DELIVERY_ABORTED");
    expect(error.cause).toBe(reason);
  });

  it("an already-aborted signal sends nothing", async () => {
    const server = await startServer();
    const controller = new AbortController();
    controller.abort();
    await deliveryError(
      localTransport().send(server.origin, "x", {}, 2_000, controller.signal),
      "HOOKLINE_DELIVERY_ABORTED",
    );
    // The egress tests rely on this: an aborted send never dials.
    expect(server.connections).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it("removes its abort listener once the send settles", async () => {
    const server = await startServer();
    const controller = new AbortController();
    const client = localTransport();
    await client.send(server.origin, "x", {}, 2_000, controller.signal);
    const port = await freePort();
    await deliveryError(
      client.send(`http://127.0.0.1:${port}/`, "x", {}, 2_000, controller.signal),
      "HOOKLINE_DELIVERY_CONNECTION_FAILED",
    );
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});

describe("HttpTransport: close()", () => {
  it("closes pooled connections, can be called again, and then refuses to send", async () => {
    const server = await startServer();
    const client = new HttpTransport({ allowPrivateNetworks: true });
    await client.send(server.origin, "x", {}, 2_000);
    await client.send(server.origin, "x", {}, 2_000);
    expect(server.sockets.length).toBeGreaterThan(0);
    const serverSocketsClosed = Promise.all(
      server.sockets.map((socket) => (socket.closed ? Promise.resolve() : once(socket, "close"))),
    );
    await Promise.all([client.close(), client.close()]);
    await client.close();
    // Every keep-alive socket the transport held is gone, seen from the server's side.
    await serverSocketsClosed;
    expect(server.sockets.every((socket) => socket.closed)).toBe(true);
    const connectionsBefore = server.connections;
    await expect(client.send(server.origin, "x", {}, 2_000)).rejects.toBeInstanceOf(DeliveryError);
    expect(server.connections).toBe(connectionsBefore);
  });

  it("close() on a transport that never sent resolves", async () => {
    const client = new HttpTransport();
    await expect(client.close()).resolves.toBeUndefined();
    await expect(client.close()).resolves.toBeUndefined();
  });
});

describe("HttpTransport: options", () => {
  it.each<[string, HttpTransportOptions]>([
    ["maxResponseBodyBytes -1", { maxResponseBodyBytes: -1 }],
    ["maxResponseBodyBytes 1.5", { maxResponseBodyBytes: 1.5 }],
    ["connectionsPerOrigin 0", { connectionsPerOrigin: 0 }],
    ["keepAliveTimeoutMs 0", { keepAliveTimeoutMs: 0 }],
    ["allowedCidrs 10.0.0.0/33", { allowedCidrs: ["10.0.0.0/33"] }],
    ["allowedCidrs not-a-cidr", { allowedCidrs: ["not-a-cidr"] }],
    ["allowedCidrs without a prefix", { allowedCidrs: ["10.0.0.1"] }],
    ["allowedCidrs empty string", { allowedCidrs: [""] }],
    ["allowedCidrs ::1/129", { allowedCidrs: ["::1/129"] }],
    ["allowedCidrs as a bare string", { allowedCidrs: "10.0.0.0/8" as unknown as string[] }],
  ])("rejects %s with a ConfigurationError at construction", (_label, options) => {
    let thrown: unknown;
    try {
      new HttpTransport(options);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as ConfigurationError).code).toBe("HOOKLINE_CONFIGURATION_INVALID");
  });

  it("names the offending CIDR", () => {
    expect(() => new HttpTransport({ allowedCidrs: ["127.0.0.0/8", "10.0.0.0/99"] })).toThrow(/10\.0\.0\.0\/99/);
  });
});

describe("HttpTransport: egress guard (default on)", () => {
  // [URL host, the address the error must name]
  const loopbackNotations: Array<[string, string]> = [
    ["127.0.0.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["127.0.1", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["0x7f000001", "127.0.0.1"],
    ["0x7f.0.0.1", "127.0.0.1"],
    ["0x7F.1", "127.0.0.1"],
    ["017700000001", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["%31%32%37.0.0.1", "127.0.0.1"],
    ["[::1]", "::1"],
    ["[0:0:0:0:0:0:0:1]", "::1"],
    ["[::ffff:127.0.0.1]", "::ffff:7f00:1"],
    ["[::ffff:7f00:1]", "::ffff:7f00:1"],
    ["0.0.0.0", "0.0.0.0"],
    ["0", "0.0.0.0"],
    ["localhost", "localhost"],
    ["LOCALHOST", "localhost"],
  ];

  it.each(loopbackNotations)("refuses %s before connecting", async (host, named) => {
    const server = await startServer();
    await server.listenOnIPv6Loopback();
    const error = await deliveryError(
      transport().send(`http://${host}:${server.port}/hook`, "x", {}, 2_000),
      "HOOKLINE_DELIVERY_EGRESS_BLOCKED",
    );
    expect(error.message).toContain(named);
    expect(error.message).toContain("allowPrivateNetworks");
    expect(error.message).toContain("allowedCidrs");
    expect(server.connections).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it("refuses https to a loopback literal too", async () => {
    const server = await startServer();
    await deliveryError(
      transport().send(`https://127.0.0.1:${server.port}/`, "x", {}, 2_000),
      "HOOKLINE_DELIVERY_EGRESS_BLOCKED",
    );
    expect(server.connections).toBe(0);
  });

  it.each(["10.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.0.1", "100.64.0.1", "[fd00::1]", "[fe80::1]"])(
    "refuses the private literal %s without creating a socket",
    async (host) => {
      const client = transport();
      const sockets = await countClientSockets(async () => {
        await deliveryError(sendNowhere(client, `http://${host}:9/hook`), "HOOKLINE_DELIVERY_EGRESS_BLOCKED");
      });
      expect(sockets).toBe(0);
    },
  );

  it("allowPrivateNetworks: true lifts the guard", async () => {
    const server = await startServer();
    const client = transport({ allowPrivateNetworks: true });
    for (const host of ["127.0.0.1", "127.1", "2130706433", "localhost"]) {
      const response = await client.send(`http://${host}:${server.port}/`, host, {}, 2_000);
      expect(response.statusCode).toBe(200);
    }
    expect(server.requests.map((r) => r.body.toString())).toEqual(["127.0.0.1", "127.1", "2130706433", "localhost"]);
  });

  it('allowedCidrs: ["127.0.0.0/8"] lifts it for loopback only', async () => {
    const server = await startServer();
    const client = transport({ allowedCidrs: ["127.0.0.0/8"] });
    for (const host of ["127.0.0.1", "0x7f000001", "[::ffff:127.0.0.1]"]) {
      const response = await client.send(`http://${host}:${server.port}/`, host, {}, 2_000);
      expect(response.statusCode).toBe(200);
    }
    expect(server.requests).toHaveLength(3);

    const refused = await deliveryError(
      client.send(`http://[::1]:${server.port}/`, "x", {}, 2_000),
      "HOOKLINE_DELIVERY_EGRESS_BLOCKED",
    );
    expect(refused.message).toContain("::1");
    const sockets = await countClientSockets(async () => {
      for (const host of ["10.0.0.1", "169.254.169.254", "192.168.0.10", "0.0.0.0"]) {
        const error = await deliveryError(sendNowhere(client, `http://${host}:9/`), "HOOKLINE_DELIVERY_EGRESS_BLOCKED");
        expect(error.message).toContain(host);
      }
    });
    expect(sockets).toBe(0);
    expect(server.requests).toHaveLength(3);
  });

  it("a host name is judged by what it resolves to: localhost passes a loopback allow-list", async () => {
    const server = await startServer();
    await server.listenOnIPv6Loopback();
    const response = await transport({ allowedCidrs: ["127.0.0.0/8", "::1/128"] }).send(
      `http://localhost:${server.port}/`,
      "x",
      {},
      2_000,
    );
    expect(response.statusCode).toBe(200);
    expect(server.requests).toHaveLength(1);
  });
});

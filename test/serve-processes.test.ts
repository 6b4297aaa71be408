/**
 * `hookline serve` runs its delivery workers in a second process by default
 * (`--processes 2`, so the API and the deliveries each get a core): killed
 * for real, restarted, and never outliving the service.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, childEnv, ensureBuilt, killAll, ROOT, startServe, tempDir } from "./cli-support.js";
import { startServer, type TestServer } from "./support/http-server.js";

let receiver: TestServer | null = null;

afterEach(async () => {
  await killAll();
  await receiver?.close();
  receiver = null;
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The workers' process PID from the service's "listening" line. */
function workersPid(stdout: string): number {
  const match = stdout.match(/"workers":"in process (\d+)"/);
  if (!match) throw new Error(`no workers process in:\n${stdout}`);
  return Number(match[1]);
}

async function sendOne(url: string, token: string, appId: string, n: number): Promise<void> {
  const response = await fetch(`${url}/api/v1/app/${appId}/msg`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ eventType: "order.paid", payload: { n } }),
  });
  expect(response.status).toBe(202);
}

describe("hookline serve with its workers in a second process", () => {
  it("delivers through the workers' process, counts it in /metrics, restarts it after a SIGKILL, and stops with the service", async () => {
    await ensureBuilt();
    receiver = await startServer();
    const db = join(tempDir("hookline-processes"), "hookline.db");
    const serve = await startServe(["--db", db]);
    const token = serve.adminToken ?? "";
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const app = (await (
      await fetch(`${serve.url}/api/v1/app`, { method: "POST", headers, body: JSON.stringify({ name: "acme" }) })
    ).json()) as { id: string };
    await fetch(`${serve.url}/api/v1/app/${app.id}/endpoint`, {
      method: "POST",
      headers,
      body: JSON.stringify({ url: receiver.url }),
    });

    const first = workersPid(serve.proc.stdout());
    expect(first).not.toBe(serve.proc.child.pid);
    await until(() => serve.proc.stdout().includes('"process":"workers"'));
    await sendOne(serve.url, token, app.id, 1);
    await until(() => receiver?.requests.length === 1);
    // The workers' events reach the service's /metrics.
    await until(async () =>
      /hookline_deliveries_total\{outcome="succeeded"\} 1/.test(await (await fetch(`${serve.url}/metrics`)).text()),
    );

    // SIGKILL the workers' process with a message waiting: the service starts another, which delivers it.
    const killedAt = Date.now();
    process.kill(first, "SIGKILL");
    await until(() => !alive(first));
    await sendOne(serve.url, token, app.id, 2);
    await serve.proc.waitFor(/the delivery workers' process exited; starting it again/);
    await until(() => receiver?.requests.length === 2);
    console.log(
      `serve: workers' process SIGKILLed, next delivery ${Date.now() - killedAt} ms later (restart after 1 s, then Node's start)`,
    );

    const { code } = await serve.proc.stop("SIGTERM");
    expect(code).toBe(0);
    expect(serve.proc.stdout()).toMatch(/"process":"workers".*"msg":"stopped"/);
    expect(receiver.requests.map((r) => JSON.parse(r.body).n)).toEqual([1, 2]);
  }, 60_000);

  it("the workers' process ends by itself when the service is SIGKILLed", async () => {
    await ensureBuilt();
    const db = join(tempDir("hookline-processes"), "hookline.db");
    const serve = await startServe(["--db", db]);
    const workers = workersPid(serve.proc.stdout());
    await until(() => serve.proc.stdout().includes('"process":"workers"'));
    const killedAt = Date.now();
    await serve.proc.stop("SIGKILL");
    await until(() => !alive(workers), 10_000);
    console.log(`serve: service SIGKILLed, its workers' process gone ${Date.now() - killedAt} ms later`);
  }, 60_000);

  it("Ctrl-C (SIGINT to the whole process group) stops the API first, then the workers, both gracefully", async () => {
    await ensureBuilt();
    const db = join(tempDir("hookline-processes"), "hookline.db");
    // Its own process group, as a terminal's foreground job is.
    const child = spawn(process.execPath, [CLI, "serve", "--db", db, "--port", "0"], {
      cwd: ROOT,
      env: childEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      await until(() => out.includes('"process":"workers"') && out.includes("hookline listening"));
      process.kill(-(child.pid as number), "SIGINT");
      expect(await exited).toBe(0);
      const order = [...out.matchAll(/"process":"(api|workers)"[^\n]*"msg":"(shutting down|stopped)"/g)].map(
        (m) => `${m[1]} ${m[2]}`,
      );
      expect(order).toEqual(["api shutting down", "workers shutting down", "workers stopped", "api stopped"]);
      expect(out).toMatch(/"process":"workers","signal":"SIGTERM"/);
    } finally {
      if (child.exitCode === null) process.kill(-(child.pid as number), "SIGKILL");
    }
  }, 60_000);

  it("--processes 1 keeps the workers in the service's own process", async () => {
    await ensureBuilt();
    const db = join(tempDir("hookline-processes"), "hookline.db");
    const serve = await startServe(["--db", db, "--processes", "1"]);
    expect(serve.proc.stdout()).toContain('"workers":"on"');
    expect(serve.proc.stdout()).not.toContain('"process":');
  }, 60_000);
});

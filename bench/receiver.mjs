// The webhook receiver for bench/dispatch.ts, run as a separate process so it
// does not share an event loop (or a core) with the sender being measured.
// Plain JavaScript so it starts with `node` alone, without a TypeScript loader.
//
// It reads every request body, answers 200 "ok" with keep-alive, prints its
// port on stdout, and exits when its parent's stdin pipe closes (so a parent
// that crashes cannot leave it behind) or on SIGTERM. A "cpu" line on stdin
// is answered with "cpu <microseconds>", its own CPU time so far, which tells
// the parent whether the receiver was the bottleneck.
import { createServer } from "node:http";

const server = createServer((request, response) => {
  request.on("data", () => {});
  request.on("end", () => {
    response.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    response.end("ok");
  });
});
// Longer than the sender's idle timeout, so the sender always closes first
// and never writes a request onto a socket the server is closing.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => process.exit(0));
  // Exit even if a socket lingers; the parent waits on our exit.
  setTimeout(() => process.exit(0), 1_000).unref();
}

process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.setEncoding("utf8");
let pending = "";
process.stdin.on("data", (chunk) => {
  pending += chunk;
  for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (line === "cpu") {
      const usage = process.cpuUsage();
      process.stdout.write(`cpu ${usage.user + usage.system}\n`);
    }
  }
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") {
    process.stderr.write("receiver: no TCP address\n");
    process.exit(1);
  }
  process.stdout.write(`${address.port}\n`);
});

import { readFileSync } from "node:fs";
import { Command } from "commander";
import { appsCommand } from "./commands/apps.js";
import { attemptsCommand, resendCommand, tailCommand } from "./commands/attempts.js";
import { endpointsCommand } from "./commands/endpoints.js";
import { eventTypesCommand } from "./commands/event-types.js";
import { keysCommand } from "./commands/keys.js";
import { listenCommand } from "./commands/listen.js";
import { messagesCommand, sendCommand } from "./commands/messages.js";
import { serveCommand } from "./commands/serve.js";
import { sourcesCommand } from "./commands/sources.js";
import { typesCommand } from "./commands/types.js";
import { verifyCommand } from "./commands/verify.js";

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Every command throws instead of exiting, so `main` alone decides the exit code. */
function applySettings(command: Command): void {
  command.exitOverride().showHelpAfterError("(add --help for usage)");
  for (const sub of command.commands) applySettings(sub);
}

/** The `hookline` command tree. */
export function buildProgram(): Command {
  const program = new Command("hookline")
    .description("durable webhooks: run the service, manage it, and receive and verify webhooks locally")
    .version(packageVersion(), "-V, --version");
  program.addCommand(serveCommand());
  program.addCommand(appsCommand());
  program.addCommand(endpointsCommand());
  program.addCommand(sendCommand());
  program.addCommand(messagesCommand());
  program.addCommand(attemptsCommand());
  program.addCommand(resendCommand());
  program.addCommand(tailCommand());
  program.addCommand(keysCommand());
  program.addCommand(eventTypesCommand());
  program.addCommand(sourcesCommand());
  program.addCommand(typesCommand());
  program.addCommand(listenCommand());
  program.addCommand(verifyCommand());
  program.addHelpText(
    "after",
    `
Client commands talk to a running service: --url (HOOKLINE_URL, default
http://127.0.0.1:8080) and --token (HOOKLINE_TOKEN). listen, verify and
types generate --from need no service. Exit codes: 0 success, 1 failure, 2 usage error.`,
  );
  applySettings(program);
  return program;
}

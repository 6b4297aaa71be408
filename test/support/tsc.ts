import { execFile } from "node:child_process";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");

/** Runs the project's tsc on a tsconfig; resolves with its exit code and everything it printed. */
export function runTsc(project: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "--pretty", "false", "-p", project],
      { cwd: ROOT },
      (error, stdout, stderr) =>
        done({ code: error ? ((error.code as number | null) ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "@orderflow/testing";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** A line a child script printed on stdout, as JSON. */
export type ChildLine = Record<string, unknown>;

export interface Child {
  readonly process: ChildProcess;
  readonly lines: readonly ChildLine[];
  /** Waits (with a deadline) for the first line that `match` accepts. */
  line(what: string, match: (l: ChildLine) => boolean, timeoutMs?: number): Promise<ChildLine>;
  /** Sends `signal` and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Runs `test/<script>` in a real child process (`node --import tsx`), settings passed by env.
 * The scripts print one JSON object per line on stdout to tell the test where they are.
 */
export function spawnChild(script: string, env: Record<string, string>): Child {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL(script, import.meta.url))],
    {
      cwd: packageDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: ChildLine[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout.on("data", (b: Buffer) => {
    buffered += b.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as ChildLine);
      } catch {
        stderr += `${text}\n`;
      }
    }
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;

  return {
    process: child,
    lines,
    async line(what, match, timeoutMs = 15_000) {
      return waitFor(
        `${script}: ${what}`,
        () => {
          const found = lines.find(match);
          if (found) return found;
          if (!running())
            throw new Error(`${script} exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
          return undefined;
        },
        { timeoutMs },
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; child stderr: ${stderr}`, { cause: err });
      });
    },
    async kill(signal = "SIGKILL") {
      if (running()) child.kill(signal);
      await exited;
    },
    async [Symbol.asyncDispose]() {
      if (running()) child.kill("SIGKILL");
      await exited;
    },
  };
}

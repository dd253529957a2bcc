import type { ChildProcess } from "node:child_process";
import { oneLine } from "../errors.js";

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process and the promise of its exit. */
export interface TrackedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when it exited, or with code 127 when it could not be spawned. */
  readonly exited: Promise<Exit>;
  /** Whether `exited` has resolved. */
  readonly gone: boolean;
}

/** Follows `child` until it exits; an error of the process itself goes to `err` as one line. */
export function trackProcess(name: string, child: ChildProcess, err: (line: string) => void): TrackedProcess {
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (e) => {
      // spawn failed: no 'exit' follows
      if (child.pid === undefined) resolve({ code: 127, signal: null });
      err(`orderflow: ${name}: ${oneLine(e)}`);
    });
  });
  const proc = { name, child, exited, gone: false };
  void exited.then(() => {
    proc.gone = true;
  });
  return proc;
}

export const describeExit = ({ code, signal }: Exit): string =>
  signal ? `was killed by ${signal}` : `exited with code ${code}`;

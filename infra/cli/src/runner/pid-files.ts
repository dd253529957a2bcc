import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** Whether `pid` is a live process (a zombie counts as gone: it only waits to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user (the embedded postgres runs as `postgres`).
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** The command line of `pid`, where the platform tells (Linux); undefined elsewhere. */
export function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return undefined;
  }
}

/** The pid on the first line of a pid file, or undefined when there is no such file or no number. */
export function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const pid = Number(text.split("\n")[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export type PidFileState =
  | { readonly state: "absent" }
  | { readonly state: "stale"; readonly pid: number }
  | { readonly state: "live"; readonly pid: number };

/**
 * What a pid file says: no file, a process that is gone (or a recycled pid now running something
 * else, where the platform lets us tell by `looksLike`), or a live process.
 */
export function inspectPidFile(file: string, looksLike: RegExp): PidFileState {
  const pid = readPid(file);
  if (pid === undefined) {
    try {
      readFileSync(file);
      return { state: "stale", pid: 0 }; // a file without a usable pid
    } catch {
      return { state: "absent" };
    }
  }
  if (!isAlive(pid)) return { state: "stale", pid };
  const cmd = commandOf(pid);
  if (cmd !== undefined && !looksLike.test(cmd)) return { state: "stale", pid };
  return { state: "live", pid };
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

export function writePid(file: string, pid: number = process.pid): void {
  writeFileSync(file, `${pid}\n`);
}

import { closeSync, openSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.js";
import { inspectPidFile, removeFile } from "./pid-files.js";

export const LOCK_FILE = "orderflow.pid";

export interface ProcessEntry {
  readonly name: string;
  readonly pid: number | undefined;
}

/**
 * One runner per data directory. The lock file doubles as the record of the process tree:
 * `<runner pid>` then `<name> <pid>` lines, read by tools outside this repository.
 */
export class RunLock {
  readonly #file: string;

  private constructor(file: string) {
    this.#file = file;
  }

  /** Takes the data directory, or throws ALREADY_RUNNING naming the runner that holds it. */
  static acquire(dataDir: string): RunLock {
    const file = join(dataDir, LOCK_FILE);
    const state = inspectPidFile(file, /node|orderflow/);
    if (state.state === "live" && state.pid !== process.pid) {
      throw new CliError("ALREADY_RUNNING", `another orderflow is running (pid ${state.pid})`);
    }
    if (state.state !== "absent") removeFile(file);
    try {
      // Exclusive create: of two runners starting at once, one wins.
      closeSync(openSync(file, "wx"));
    } catch {
      throw new CliError("ALREADY_RUNNING", `another orderflow is starting in ${dataDir}`);
    }
    const lock = new RunLock(file);
    lock.record([]);
    return lock;
  }

  /** Rewrites the record with the processes running now; a reader never sees it half written. */
  record(processes: readonly ProcessEntry[]): void {
    const lines = [String(process.pid)];
    for (const p of processes) if (p.pid) lines.push(`${p.name} ${p.pid}`);
    const next = `${this.#file}.next`;
    writeFileSync(next, `${lines.join("\n")}\n`);
    renameSync(next, this.#file);
  }

  release(): void {
    removeFile(this.#file);
  }
}

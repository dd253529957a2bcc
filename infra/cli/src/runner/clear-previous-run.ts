import { join } from "node:path";
import { waitFor } from "@orderflow/testing";
import { CliError } from "../errors.js";
import { shownPath } from "../shown-path.js";
import { inspectPidFile, removeFile } from "./pid-files.js";
import { natsPidFiles } from "./nats-cluster.js";
import type { UpConfig } from "./up-config.js";

/** How long a server left by a previous run may take to finish stopping before we give up on it. */
const PREVIOUS_RUN_TIMEOUT_MS = 15_000;

export interface ClearPreviousRunOptions {
  readonly dataDir: string;
  /** Which servers this run spawns (those given by URL have no pid file here). */
  readonly config: Pick<UpConfig, "natsUrl" | "databaseUrl" | "natsNodes">;
  readonly out: (line: string) => void;
}

interface PidFile {
  readonly file: string;
  readonly looksLike: RegExp;
  readonly what: string;
}

/**
 * A run killed with -9 leaves pid files behind: a file naming a process that is gone is removed
 * (PostgreSQL then recovers from its WAL). A live one is waited for a little, since a killed
 * runner's infra host stops its servers once the services are gone; after that it is in use.
 */
export async function clearPreviousRun(opts: ClearPreviousRunOptions): Promise<void> {
  for (const pidFile of serverPidFiles(opts)) {
    let state = inspectPidFile(pidFile.file, pidFile.looksLike);
    if (state.state === "live") {
      await waitForPrevious(pidFile, state.pid, opts.out);
      state = inspectPidFile(pidFile.file, pidFile.looksLike);
    }
    if (state.state === "stale") {
      removeFile(pidFile.file);
      opts.out(
        `orderflow: removed ${pidFile.file} left by an earlier run that did not stop (pid ${state.pid} is gone)`,
      );
    }
  }
}

function serverPidFiles({ dataDir, config }: ClearPreviousRunOptions): PidFile[] {
  const files: PidFile[] = [];
  if (config.natsUrl === undefined)
    for (const file of natsPidFiles(dataDir, config.natsNodes))
      files.push({ file, looksLike: /nats-server/, what: "nats-server" });
  if (config.databaseUrl === undefined)
    files.push({
      file: join(dataDir, "postgres", "postmaster.pid"),
      looksLike: /postgres/,
      what: "PostgreSQL",
    });
  return files;
}

async function waitForPrevious(
  { file, looksLike, what }: PidFile,
  pid: number,
  out: (line: string) => void,
): Promise<void> {
  out(`orderflow: waiting for ${what} (pid ${pid}) of an earlier run to stop`);
  await waitFor(`${what} pid ${pid} to exit`, () => inspectPidFile(file, looksLike).state !== "live", {
    timeoutMs: PREVIOUS_RUN_TIMEOUT_MS,
    intervalMs: 100,
  }).catch(() => {
    throw new CliError(
      "ALREADY_RUNNING",
      `another orderflow is running (pid ${pid}: ${what} on ${shownPath(file)})`,
    );
  });
}

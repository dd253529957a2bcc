import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, fstatSync, mkdirSync, openSync } from "node:fs";
import { join, relative } from "node:path";
import { processName } from "./instances.js";
import { tracedStart } from "./service-tracing.js";
import { StderrTail } from "./stderr-tail.js";
import { trackProcess, type TrackedProcess } from "./tracked-process.js";
import type { ServicePlan } from "./up-config.js";

/**
 * Each service's stderr goes to `<data dir>/logs/<name>.stderr.log` (`<name>-<i>` for instance i ≥ 2;
 * see StderrTail for why a file).
 */
export const LOG_DIR = "logs";
/** How many of its last stderr lines are kept, to be shown when a service exits on its own. */
const LAST_LINES = 20;

export interface ServiceProcess extends TrackedProcess {
  readonly plan: ServicePlan;
  /** Its stderr: the log file, followed line by line. */
  readonly stderr: { readonly file: string; readonly tail: StderrTail };
}

export interface SpawnServiceOptions {
  /** The working directory; the entry point is given relative to it. */
  readonly root: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Where its stderr lines go as they are written. */
  readonly err: (line: string) => void;
  /** A restart appends to the log instead of starting it afresh. */
  readonly restarted: boolean;
}

/** Starts one service with node, in its own process group, its stderr to its log file. */
export function spawnServiceProcess(plan: ServicePlan, opts: SpawnServiceOptions): ServiceProcess {
  const logDir = join(opts.dataDir, LOG_DIR);
  mkdirSync(logDir, { recursive: true });
  const name = processName(plan);
  const file = join(logDir, `${name}.stderr.log`);
  const fd = openSync(file, opts.restarted ? "a" : "w");
  const fromOffset = fstatSync(fd).size;
  let child: ChildProcess;
  const traced = tracedStart(plan, opts.env);
  try {
    child = spawn(process.execPath, [...traced.nodeArgs, relative(opts.root, plan.service.main)], {
      cwd: opts.root,
      // Own process group: a Ctrl-C reaches the runner only, which stops services before servers.
      detached: true,
      // stdout (its logs) to ours; stderr to a file we follow, which outlives us (see StderrTail).
      // The IPC channel is how a service notices the runner's death: when the runner dies, the
      // channel closes and the child gets 'disconnect' (runService of @orderflow/outbox stops on it).
      stdio: ["ignore", "inherit", fd, "ipc"],
      env: traced.env,
    });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const tail = new StderrTail({ file, onLine: opts.err, keep: LAST_LINES, fromOffset });
  const proc = trackProcess(name, child, opts.err);
  void proc.exited.then(() => tail.close());
  return Object.assign(proc, { plan, stderr: { file, tail } });
}

import { CliError } from "../errors.js";
import { shownPath } from "../shown-path.js";
import { RestartBudget } from "./restart-budget.js";
import type { ProcessEntry } from "./run-lock.js";
import { spawnServiceProcess, type ServiceProcess } from "./service-process.js";
import { describeExit, type Exit } from "./tracked-process.js";
import type { ServicePlan } from "./up-config.js";
import { TIMED_OUT, withDeadline } from "./with-deadline.js";

const STOP_TIMEOUT_MS = 30_000;

export interface ServiceSupervisorOptions {
  readonly root: string;
  readonly dataDir: string;
  /** Every service's environment. */
  readonly env: NodeJS.ProcessEnv;
  /** What one service gets on top of (or instead of) `env`: its own credentials; undefined removes a variable. */
  readonly serviceEnv?: (plan: ServicePlan) => NodeJS.ProcessEnv;
  readonly err: (line: string) => void;
  /** A service died before everything was ready, or too often: the run has failed. */
  readonly onFailure: (err: CliError) => void;
  /** A service that died was started again. */
  readonly onRestart: (proc: ServiceProcess) => void;
}

/**
 * The services' processes. A service that dies once everything is ready is started again: it
 * resumes where its durable consumers stand (what it had received and not acknowledged is
 * redelivered after the consumers' ack_wait, and its relay publishes its outbox rows). With
 * `--instances`, each instance is a process of its own, supervised alone (see instances.ts).
 */
export class ServiceSupervisor {
  readonly #opts: ServiceSupervisorOptions;
  readonly #procs: ServiceProcess[] = [];
  readonly #budget = new RestartBudget();
  #ready = false;
  #stopping = false;
  #forced = false;

  constructor(opts: ServiceSupervisorOptions) {
    this.#opts = opts;
  }

  start(plans: readonly ServicePlan[]): void {
    for (const plan of plans) this.#procs.push(this.#spawn(plan, false));
  }

  /** From now on a service that dies is restarted; before, its death fails the start. */
  markReady(): void {
    this.#ready = true;
  }

  /** In the order of the plans (a restarted service takes the place of the one that died). */
  get processes(): readonly ServiceProcess[] {
    return this.#procs;
  }

  entries(): ProcessEntry[] {
    return this.#procs.map((p) => ({ name: p.name, pid: p.child.pid }));
  }

  pids(): number[] {
    return this.#procs.flatMap((p) => (p.child.pid ? [p.child.pid] : []));
  }

  /** SIGTERM (each finishes in-flight work and drains), then SIGKILL for any still running after 30 s. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const running = this.#procs.filter((p) => !p.gone);
    for (const p of running) p.child.kill("SIGTERM");
    const allExited = Promise.all(running.map(async (p) => ({ p, how: await p.exited })));
    let results = await withDeadline(allExited, STOP_TIMEOUT_MS);
    if (results === TIMED_OUT) {
      const late = running.filter((p) => !p.gone);
      this.#opts.err(
        `orderflow: ${late.map((p) => p.name).join(", ")} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing`,
      );
      for (const p of late) p.child.kill("SIGKILL");
      results = await allExited;
    }
    if (this.#forced) return;
    for (const { p, how } of results)
      if (how.code !== 0) this.#opts.err(`orderflow: ${p.name} ${describeExit(how)} while stopping`);
  }

  /** SIGKILL to every service (a forced stop: their exits are not reported). */
  kill(): void {
    this.#forced = true;
    this.#stopping = true;
    for (const p of this.#procs) if (!p.gone) p.child.kill("SIGKILL");
  }

  #spawn(plan: ServicePlan, restarted: boolean): ServiceProcess {
    const { root, dataDir, err, serviceEnv } = this.#opts;
    // An instance past the first listens on its own port (see instances.ts).
    const env = withoutUndefined({
      ...this.#opts.env,
      ...serviceEnv?.(plan),
      [plan.portVar]: String(plan.port),
    });
    const proc = spawnServiceProcess(plan, { root, dataDir, env, err, restarted });
    void proc.exited.then((how) => this.#onExit(proc, how));
    return proc;
  }

  #onExit(proc: ServiceProcess, how: Exit): void {
    if (this.#stopping) return;
    this.#showLastLines(proc);
    if (this.#ready && this.#budget.mayRestart(proc.name)) {
      this.#opts.err(`orderflow: ${proc.name} ${describeExit(how)}; restarting it`);
      const next = this.#spawn(proc.plan, true);
      this.#procs.splice(this.#procs.indexOf(proc), 1, next);
      this.#opts.onRestart(next);
      return;
    }
    this.#opts.onFailure(new CliError("FAILED", `${proc.name} ${describeExit(how)}`));
  }

  /** Its last words, together: live they may be lost among the other services' output. */
  #showLastLines(proc: ServiceProcess): void {
    const last = proc.stderr.tail.lastLines();
    if (!last.length) return;
    this.#opts.err(
      `orderflow: last stderr lines of ${proc.name} (all of it in ${shownPath(proc.stderr.file)}):`,
    );
    for (const line of last) this.#opts.err(`    ${line}`);
  }
}

function withoutUndefined(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

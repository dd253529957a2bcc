import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, fstatSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { databaseUrl, ensureDatabase, waitFor } from "@orderflow/infra";
import { CliError, exitCodeOf, isCliError, oneLine, redact } from "../errors.js";
import { inspectPidFile, isAlive, removeFile } from "./pid-files.js";
import { NATS_PID_FILE, type HostReply, type HostRequest, type ServerInfo } from "./protocol.js";
import type { SeedData } from "../system/define-system.js";
import { seedSystem } from "./seed-system.js";
import { SERVERS_FILE } from "./servers-file.js";
import { StderrTail } from "./stderr-tail.js";
import { checkPorts, type ServicePlan, type UpConfig } from "./up-config.js";

export interface DevRunnerOptions {
  /** The system's root: the services' working directory. */
  readonly root: string;
  readonly dataDir: string;
  readonly config: UpConfig;
  /** What to create once the services are ready; undefined: nothing. */
  readonly seed: SeedData | undefined;
  /** The runner's environment, passed on to every process it starts. */
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export const LOCK_FILE = "orderflow.pid";
/** Each service's stderr goes to `<data dir>/logs/<name>.stderr.log` (see StderrTail for why a file). */
export const LOG_DIR = "logs";
/** How many of its last stderr lines are shown when a service exits on its own. */
const LAST_LINES = 20;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
/** How long a server left by a previous run may take to finish stopping before we give up on it. */
const PREVIOUS_RUN_TIMEOUT_MS = 15_000;
/** Signals this close to the first one are copies of it, not a second Ctrl-C. */
const SAME_SIGNAL_MS = 300;
/** A service that dies after the start is restarted, unless it died this often within the window. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A service's stderr, followed from its log file. */
  readonly stderr?: { readonly file: string; readonly tail: StderrTail };
  gone: boolean;
}

class Interrupted extends Error {
  override name = "Interrupted";
}

const withDeadline = <T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> =>
  Promise.race([
    p,
    new Promise<typeof TIMED_OUT>((resolve) => setTimeout(() => resolve(TIMED_OUT), ms).unref()),
  ]);
const TIMED_OUT = Symbol("timed out");

const describeExit = ({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }) =>
  signal ? `was killed by ${signal}` : `exited with code ${code}`;

/**
 * The process tree of `orderflow up`: an infra host (NATS + PostgreSQL, see infra-host.ts) and one
 * child per service, each in its own process group so that only the runner hears the terminal.
 * Stop order: services first (SIGTERM, they finish in-flight work and drain), then the servers.
 */
export class DevRunner {
  readonly #opts: DevRunnerOptions;
  readonly #services: Proc[] = [];
  #host: Proc | undefined;
  #servers: { nats: ServerInfo; postgres: ServerInfo } | undefined;
  #lockHeld = false;
  #stopping = false;
  /** Set once every service answered /readyz: from then on a service that dies is restarted. */
  #ready = false;
  #serviceEnv: Record<string, string | undefined> = {};
  readonly #crashes = new Map<string, number[]>();
  #forced = false;
  #firstSignalAt: number | undefined;
  #abort!: (err: Error) => void;
  readonly #aborted: Promise<never>;

  constructor(opts: DevRunnerOptions) {
    this.#opts = opts;
    this.#aborted = new Promise<never>((_, reject) => {
      this.#abort = reject;
    });
    this.#aborted.catch(() => {});
  }

  /** Runs until a signal or a failure; resolves with the process exit code once everything is gone. */
  async run(): Promise<number> {
    const onSignal = (signal: NodeJS.Signals) => this.#onSignal(signal);
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
    let code = 0;
    try {
      await this.#start();
      await this.#aborted;
    } catch (err) {
      if (!(err instanceof Interrupted)) {
        this.#opts.err(`orderflow: ${oneLine(err)}`);
        code = isCliError(err) ? exitCodeOf(err.code) : 1;
      }
    }
    await this.#shutdown();
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, onSignal);
    if (this.#forced) return 130;
    if (code === 0) this.#opts.out("orderflow: stopped");
    return code;
  }

  #guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#aborted]);
  }

  #onSignal(signal: NodeJS.Signals): void {
    // One Ctrl-C under `npm start` arrives twice: from the terminal, and forwarded by npm.
    if (this.#firstSignalAt !== undefined && Date.now() - this.#firstSignalAt < SAME_SIGNAL_MS) return;
    if (this.#firstSignalAt === undefined) {
      this.#firstSignalAt = Date.now();
      this.#opts.out(`orderflow: ${signal}, stopping gracefully (again to force)`);
      this.#abort(new Interrupted(signal));
    } else if (!this.#forced) {
      this.#opts.out(`orderflow: ${signal} again, forcing`);
      this.#force();
    }
  }

  async #start(): Promise<void> {
    const { dataDir, config, out } = this.#opts;
    const started = Date.now();
    mkdirSync(dataDir, { recursive: true });
    this.#acquireLock();
    // After the lock: a port held by another runner on this data dir is reported as that runner.
    await checkPorts(config);
    await this.#guard(this.#clearPreviousRun());

    out(`orderflow: data in ${dataDir}`);
    const servers = await this.#guard(this.#startHost());
    this.#servers = servers;
    this.#writeLock();
    writeFileSync(
      join(dataDir, SERVERS_FILE),
      `${JSON.stringify({ pid: process.pid, natsUrl: servers.nats.url, databaseUrl: servers.postgres.url })}\n`,
    );
    out(
      serverLine(
        "nats",
        servers.nats,
        servers.nats.source === "binary" ? `nats-server, store ${join(dataDir, "nats")}` : "from NATS_URL",
      ),
    );
    out(
      serverLine(
        "postgres",
        servers.postgres,
        servers.postgres.source === "embedded"
          ? `embedded, data ${join(dataDir, "postgres")}`
          : "from DATABASE_URL",
      ),
    );

    await this.#guard(this.#ensureDatabases(servers.postgres.url));
    const env: Record<string, string | undefined> = {
      ...this.#opts.env,
      ...config.childEnv,
      NATS_URL: servers.nats.url,
      DATABASE_URL: servers.postgres.url,
    };
    this.#serviceEnv = env;
    for (const plan of config.services) this.#spawnService(plan);
    this.#send({ type: "watch", pids: this.#services.flatMap((p) => (p.child.pid ? [p.child.pid] : [])) });
    this.#writeLock();

    await this.#guard(this.#waitReady());
    for (const p of config.services) {
      const proc = this.#services.find((s) => s.name === p.service.name);
      out(`  ${p.service.name.padEnd(10)}${this.#url(p)}  (pid ${proc?.child.pid})`);
    }
    if (this.#opts.seed) {
      const urls = new Map(config.services.map((plan) => [plan.service.name, this.#url(plan)]));
      const seeded = await this.#guard(
        seedSystem(this.#opts.seed, (name) => urls.get(name)!).catch((err: unknown) => {
          throw new CliError("FAILED", `seeding demo data failed: ${oneLine(err)}`, { cause: err });
        }),
      );
      if (seeded.created.length) out(`orderflow: demo data created: ${seeded.created.join(", ")}`);
      if (seeded.kept.length) out(`orderflow: demo data kept from earlier runs: ${seeded.kept.join(", ")}`);
    }
    this.#ready = true;
    out(
      `orderflow: ready in ${((Date.now() - started) / 1000).toFixed(1)} s. Ctrl-C stops everything (twice forces)`,
    );
  }

  #url(plan: ServicePlan): string {
    const host =
      this.#opts.config.host === "0.0.0.0" || this.#opts.config.host === "::"
        ? "127.0.0.1"
        : this.#opts.config.host;
    return `http://${host.includes(":") ? `[${host}]` : host}:${plan.port}`;
  }

  // --- the data directory: one runner at a time, and what a killed run left behind -------------

  #lockFile(): string {
    return join(this.#opts.dataDir, LOCK_FILE);
  }

  #acquireLock(): void {
    const file = this.#lockFile();
    const state = inspectPidFile(file, /node|orderflow/);
    if (state.state === "live" && state.pid !== process.pid) {
      throw new CliError("ALREADY_RUNNING", `another orderflow is running (pid ${state.pid})`);
    }
    if (state.state !== "absent") removeFile(file);
    try {
      // Exclusive create: of two runners starting at once, one wins.
      closeSync(openSync(file, "wx"));
    } catch {
      throw new CliError("ALREADY_RUNNING", `another orderflow is starting in ${this.#opts.dataDir}`);
    }
    this.#lockHeld = true;
    this.#writeLock();
  }

  /** The lock file doubles as a record of the process tree: `<runner pid>` then `<name> <pid>` lines. */
  #writeLock(): void {
    if (!this.#lockHeld) return;
    const lines = [String(process.pid)];
    if (this.#host?.child.pid) lines.push(`infra-host ${this.#host.child.pid}`);
    if (this.#servers?.nats.pid) lines.push(`nats-server ${this.#servers.nats.pid}`);
    if (this.#servers?.postgres.pid) lines.push(`postgres ${this.#servers.postgres.pid}`);
    for (const p of this.#services) if (p.child.pid) lines.push(`${p.name} ${p.child.pid}`);
    writeFileSync(this.#lockFile(), `${lines.join("\n")}\n`);
  }

  /**
   * A run killed with -9 leaves pid files behind: a file naming a process that is gone is removed
   * (PostgreSQL then recovers from its WAL). A live one is waited for a little, since a killed
   * runner's infra host stops its servers once the services are gone; after that it is in use.
   */
  async #clearPreviousRun(): Promise<void> {
    const { dataDir, config } = this.#opts;
    const files: { file: string; looksLike: RegExp; what: string }[] = [];
    if (config.natsUrl === undefined)
      files.push({
        file: join(dataDir, "nats", NATS_PID_FILE),
        looksLike: /nats-server/,
        what: "nats-server",
      });
    if (config.databaseUrl === undefined) {
      files.push({
        file: join(dataDir, "postgres", "postmaster.pid"),
        looksLike: /postgres/,
        what: "PostgreSQL",
      });
    }
    for (const { file, looksLike, what } of files) {
      let state = inspectPidFile(file, looksLike);
      if (state.state === "live") {
        const pid = state.pid;
        this.#opts.out(`orderflow: waiting for ${what} (pid ${pid}) of an earlier run to stop`);
        await waitFor(`${what} pid ${pid} to exit`, () => inspectPidFile(file, looksLike).state !== "live", {
          timeoutMs: PREVIOUS_RUN_TIMEOUT_MS,
          intervalMs: 100,
        }).catch(() => {
          throw new CliError(
            "ALREADY_RUNNING",
            `another orderflow is running (pid ${pid}: ${what} on ${shown(file)})`,
          );
        });
        state = inspectPidFile(file, looksLike);
      }
      if (state.state === "stale") {
        removeFile(file);
        this.#opts.out(
          `orderflow: removed ${file} left by an earlier run that did not stop (pid ${state.pid} is gone)`,
        );
      }
    }
  }

  // --- processes --------------------------------------------------------------------------------

  #track(
    name: string,
    child: ChildProcess,
    critical: boolean,
    stderr?: Proc["stderr"],
    restart?: () => void,
  ): Proc {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (err) => {
        // spawn failed: no 'exit' follows
        if (child.pid === undefined) resolve({ code: 127, signal: null });
        this.#opts.err(`orderflow: ${name}: ${oneLine(err)}`);
      });
    });
    const proc: Proc = { name, child, exited, stderr, gone: false };
    void exited.then((how) => {
      proc.gone = true;
      stderr?.tail.close();
      if (critical && !this.#stopping) {
        // Its last words, together: live they may be lost among the other services' output.
        const last = stderr ? stderr.tail.lastLines() : [];
        if (stderr && last.length) {
          this.#opts.err(`orderflow: last stderr lines of ${name} (all of it in ${shown(stderr.file)}):`);
          for (const line of last) this.#opts.err(`    ${line}`);
        }
        if (restart && this.#ready && this.#mayRestart(name)) {
          this.#opts.err(`orderflow: ${name} ${describeExit(how)}; restarting it`);
          restart();
          return;
        }
        this.#abort(new CliError("FAILED", `${name} ${describeExit(how)}`));
      }
    });
    return proc;
  }

  async #startHost(): Promise<{ nats: ServerInfo; postgres: ServerInfo }> {
    const script = fileURLToPath(new URL("./infra-host.js", import.meta.url));
    const child = spawn(process.execPath, [script, this.#opts.dataDir], {
      cwd: this.#opts.root,
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: this.#opts.env,
    });
    const host = this.#track("infra host", child, true);
    this.#host = host;
    this.#writeLock();
    const reply = await Promise.race([
      new Promise<HostReply>((resolve) => child.once("message", (m) => resolve(m as HostReply))),
      host.exited.then((how): HostReply => ({
        type: "failed",
        message: `the infra host ${describeExit(how)}`,
      })),
    ]);
    if (reply.type === "failed") {
      // No nats-server / PostgreSQL to run: a configuration problem (set NATS_URL or install one).
      const config = reply.code === "NO_NATS" || reply.code === "NO_POSTGRES";
      throw new CliError(config ? "BAD_CONFIG" : "FAILED", reply.message);
    }
    return reply;
  }

  #send(msg: HostRequest): void {
    const child = this.#host?.child;
    if (child?.connected) child.send(msg, (err) => void err);
  }

  async #ensureDatabases(serverUrl: string): Promise<void> {
    await Promise.all(
      this.#opts.config.services.map(async (plan) => {
        const [server, name] = plan.databaseUrl
          ? [databaseUrl(plan.databaseUrl, "postgres"), new URL(plan.databaseUrl).pathname.slice(1)]
          : [serverUrl, plan.service.definition.database];
        try {
          await ensureDatabase(server, name);
        } catch (err) {
          throw new CliError(
            "FAILED",
            `cannot create database ${name} for ${plan.service.name}: ${oneLine(err)}`,
            { cause: err },
          );
        }
      }),
    );
  }

  /**
   * Whether a service that died may be started again: not when it died `MAX_RESTARTS` times within
   * `RESTART_WINDOW_MS` (a crash loop is a bug to see, so everything stops as on a startup failure).
   */
  #mayRestart(name: string): boolean {
    const now = Date.now();
    const recent = (this.#crashes.get(name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
    recent.push(now);
    this.#crashes.set(name, recent);
    return recent.length <= MAX_RESTARTS;
  }

  /**
   * Starts (or, after it died, restarts) one service. A restarted service resumes where its durable
   * consumers stand: what it had received and not acknowledged is redelivered after the consumers'
   * ack_wait, and its outbox rows are published by its relay.
   */
  #spawnService(plan: ServicePlan, restarted = false): Proc {
    const name = plan.service.name;
    const logDir = join(this.#opts.dataDir, LOG_DIR);
    mkdirSync(logDir, { recursive: true });
    const file = join(logDir, `${name}.stderr.log`);
    const fd = openSync(file, restarted ? "a" : "w");
    const fromOffset = fstatSync(fd).size;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [relative(this.#opts.root, plan.service.main)], {
        cwd: this.#opts.root,
        // Own process group: a Ctrl-C reaches the runner only, which stops services before servers.
        detached: true,
        // stdout (its logs) to ours; stderr to a file we follow, which outlives us (see StderrTail).
        // The IPC channel is how a service notices the runner's death: when the runner dies, the
        // channel closes and the child gets 'disconnect' (runService of @orderflow/outbox stops on it).
        stdio: ["ignore", "inherit", fd, "ipc"],
        env: this.#serviceEnv,
      });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    const tail = new StderrTail({
      file,
      onLine: (line) => this.#opts.err(line),
      keep: LAST_LINES,
      fromOffset,
    });
    const proc = this.#track(name, child, true, { file, tail }, () => {
      if (this.#stopping) return;
      this.#services.splice(this.#services.indexOf(proc), 1);
      const next = this.#spawnService(plan, true);
      if (next.child.pid) {
        this.#send({ type: "watch", pids: [next.child.pid] });
        this.#opts.out(`  ${name.padEnd(10)}${this.#url(plan)}  (pid ${next.child.pid}, restarted)`);
      }
      this.#writeLock();
    });
    this.#services.push(proc);
    return proc;
  }

  async #waitReady(): Promise<void> {
    const pending = new Map(
      this.#opts.config.services.map((p) => [p.service.name, { plan: p, last: "no answer yet" }]),
    );
    let aborting = false;
    this.#aborted.catch(() => {
      aborting = true;
    });
    try {
      await waitFor(
        "services to be ready",
        async () => {
          await Promise.all(
            [...pending].map(async ([name, state]) => {
              try {
                const res = await fetch(`${this.#url(state.plan)}/readyz`, {
                  signal: AbortSignal.timeout(2000),
                });
                const body = await res.text();
                if (res.status === 200) pending.delete(name);
                else state.last = `${res.status} ${body.slice(0, 200)}`;
              } catch (err) {
                state.last = oneLine(err);
              }
            }),
          );
          return pending.size === 0 || aborting;
        },
        { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100 },
      );
    } catch {
      const names = [...pending].map(([name, s]) => `${name} (GET /readyz: ${s.last})`).join(", ");
      throw new CliError("FAILED", `not ready after ${READY_TIMEOUT_MS / 1000} s: ${names}`);
    }
  }

  // --- stopping ---------------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    const running = this.#services.filter((p) => !p.gone);
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
    if (!this.#forced) {
      for (const { p, how } of results)
        if (how.code !== 0) this.#opts.err(`orderflow: ${p.name} ${describeExit(how)} while stopping`);
    }

    const host = this.#host;
    if (host && !host.gone) {
      if (host.child.connected) this.#send({ type: "stop" });
      else host.child.kill("SIGTERM");
      if ((await withDeadline(host.exited, STOP_TIMEOUT_MS * 2)) === TIMED_OUT) {
        this.#opts.err("orderflow: the infra host did not stop in time; killing the servers");
        this.#killServers();
        host.child.kill("SIGKILL");
        await host.exited;
      }
    }
    // The host stopped its servers; if it died instead, they are ours to stop.
    const leftovers = this.#serverPids().filter(isAlive);
    if (leftovers.length) {
      this.#killServers(this.#forced ? "force" : "graceful");
      await waitFor("servers to exit", () => this.#serverPids().every((pid) => !isAlive(pid)), {
        timeoutMs: STOP_TIMEOUT_MS,
        intervalMs: 50,
      }).catch(() => {
        this.#killServers("force");
        this.#opts.err(`orderflow: servers still running: ${this.#serverPids().filter(isAlive).join(", ")}`);
      });
    }
    if (this.#lockHeld) {
      removeFile(join(this.#opts.dataDir, SERVERS_FILE));
      removeFile(this.#lockFile());
    }
  }

  #serverPids(): number[] {
    return [this.#servers?.nats.pid, this.#servers?.postgres.pid].filter(
      (pid): pid is number => pid !== undefined,
    );
  }

  #killServers(how: "graceful" | "force" = "force"): void {
    const kill = (pid: number | undefined, signal: NodeJS.Signals) => {
      if (pid === undefined) return;
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    };
    // PostgreSQL: SIGINT is its fast shutdown, SIGQUIT its immediate one (which takes its backends too).
    kill(this.#servers?.nats.pid, how === "force" ? "SIGKILL" : "SIGTERM");
    kill(this.#servers?.postgres.pid, how === "force" ? "SIGQUIT" : "SIGINT");
  }

  #force(): void {
    this.#forced = true;
    this.#stopping = true;
    for (const p of this.#services) if (!p.gone) p.child.kill("SIGKILL");
    if (this.#servers) {
      this.#killServers("force");
      this.#host?.child.kill("SIGKILL");
    } else {
      // Still starting its servers: only the host knows them, and stops them on SIGTERM.
      this.#host?.child.kill("SIGTERM");
    }
  }
}

/** A path as the user would type it from here: relative below the working directory, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function serverLine(name: string, info: ServerInfo, where: string): string {
  const url = info.source === "env" ? redact(info.url) : info.url;
  return `  ${name.padEnd(10)}${url}  (${where}${info.pid ? `, pid ${info.pid}` : ""})`;
}

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor, type PostgresTlsFiles } from "@orderflow/testing";
import { CliError } from "../errors.js";
import { isAlive } from "./pid-files.js";
import type { HostEvent, HostReply, HostRequest, Servers } from "./protocol.js";
import type { ProcessEntry } from "./run-lock.js";
import { describeExit, trackProcess, type Exit, type TrackedProcess } from "./tracked-process.js";
import { TIMED_OUT, withDeadline } from "./with-deadline.js";

const STOP_TIMEOUT_MS = 30_000;

export interface InfraHostOptions {
  readonly root: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly err: (line: string) => void;
  /** The configuration a nats-server it spawns runs with (`-c`: its users); none: anonymous. */
  readonly natsConfig?: string;
  /** An embedded PostgreSQL it starts serves TLS only, with these files (see EmbeddedPostgresOptions.tls). */
  readonly postgresTls?: PostgresTlsFiles;
  /** It exited (whether asked to or not). */
  readonly onExit: (how: Exit) => void;
  /** A server it spawned died, runs again, or is given up (`entries()` has its new pid already). */
  readonly onServerEvent?: (event: HostEvent) => void;
}

/**
 * The infra host child (infra-host.ts), which runs NATS and PostgreSQL (or checks those given by
 * URL) and stops them once the services are gone, even when the runner was killed.
 */
export class InfraHostProcess {
  readonly #proc: TrackedProcess;
  readonly #err: (line: string) => void;
  #servers: Servers | undefined;
  #forced = false;

  private constructor(proc: TrackedProcess, err: (line: string) => void) {
    this.#proc = proc;
    this.#err = err;
  }

  static spawn(opts: InfraHostOptions): InfraHostProcess {
    const script = fileURLToPath(new URL("./infra-host.js", import.meta.url));
    const args = [
      script,
      opts.dataDir,
      opts.natsConfig ?? "",
      ...(opts.postgresTls ? [JSON.stringify(opts.postgresTls)] : []),
    ];
    const child = spawn(process.execPath, args, {
      cwd: opts.root,
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: opts.env,
    });
    const proc = trackProcess("infra host", child, opts.err);
    void proc.exited.then(opts.onExit);
    const host = new InfraHostProcess(proc, opts.err);
    child.on("message", (raw) => {
      const msg = raw as HostReply | HostEvent;
      if (msg.type !== "server-died" && msg.type !== "server-restarted" && msg.type !== "server-gave-up")
        return;
      if (msg.type === "server-restarted") host.#restarted(msg.name, msg.pid);
      opts.onServerEvent?.(msg);
    });
    return host;
  }


  #restarted(name: HostEvent["name"], pid: number | undefined): void {
    const servers = this.#servers;
    if (!servers) return;
    this.#servers =
      name === "nats-server"
        ? { ...servers, nats: { ...servers.nats, pid } }
        : { ...servers, postgres: { ...servers.postgres, pid } };
  }

  /** Waits for the servers it runs; its failure (or exit) is a CliError. */
  async servers(): Promise<Servers> {
    const { child, exited } = this.#proc;
    const reply = await Promise.race([
      new Promise<HostReply>((resolve) => child.once("message", (m) => resolve(m as HostReply))),
      exited.then((how): HostReply => ({ type: "failed", message: `the infra host ${describeExit(how)}` })),
    ]);
    if (reply.type === "failed") {
      // No nats-server / PostgreSQL to run: a configuration problem (set NATS_URL or install one).
      const config = reply.code === "NO_NATS" || reply.code === "NO_POSTGRES";
      throw new CliError(config ? "BAD_CONFIG" : "FAILED", reply.message);
    }
    this.#servers = { nats: reply.nats, postgres: reply.postgres };
    return this.#servers;
  }

  /** The services whose exit it waits for before stopping the servers, should the runner die. */
  watch(pids: readonly number[]): void {
    this.#send({ type: "watch", pids });
  }

  entries(): ProcessEntry[] {
    return [
      { name: "infra-host", pid: this.#proc.child.pid },
      { name: "nats-server", pid: this.#servers?.nats.pid },
      { name: "postgres", pid: this.#servers?.postgres.pid },
    ];
  }

  /** Asks it to stop the servers gracefully and exit; then stops whatever servers it left running. */
  async stop(): Promise<void> {
    const { child, exited, gone } = this.#proc;
    if (!gone) {
      if (child.connected) this.#send({ type: "stop" });
      else child.kill("SIGTERM");
      if ((await withDeadline(exited, STOP_TIMEOUT_MS * 2)) === TIMED_OUT) {
        this.#err("orderflow: the infra host did not stop in time; killing the servers");
        this.#killServers("force");
        child.kill("SIGKILL");
        await exited;
      }
    }
    // It stopped its servers; if it died instead, they are ours to stop.
    if (!this.#serverPids().some(isAlive)) return;
    this.#killServers(this.#forced ? "force" : "graceful");
    await waitFor("servers to exit", () => this.#serverPids().every((pid) => !isAlive(pid)), {
      timeoutMs: STOP_TIMEOUT_MS,
      intervalMs: 50,
    }).catch(() => {
      this.#killServers("force");
      this.#err(`orderflow: servers still running: ${this.#serverPids().filter(isAlive).join(", ")}`);
    });
  }

  /** A forced stop: the servers and the host killed at once. */
  kill(): void {
    this.#forced = true;
    if (this.#servers) {
      this.#killServers("force");
      this.#proc.child.kill("SIGKILL");
    } else {
      // Still starting its servers: only the host knows them, and stops them on SIGTERM.
      this.#proc.child.kill("SIGTERM");
    }
  }

  #send(msg: HostRequest): void {
    const child = this.#proc.child;
    if (child.connected) child.send(msg, (err) => void err);
  }

  #serverPids(): number[] {
    return [this.#servers?.nats.pid, this.#servers?.postgres.pid].filter(
      (pid): pid is number => pid !== undefined,
    );
  }

  #killServers(how: "graceful" | "force"): void {
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
}

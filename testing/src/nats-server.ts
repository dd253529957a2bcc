import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { InfraError } from "./errors.js";
import { canConnect, freePort } from "./net.js";
import { waitFor } from "./wait.js";

/** Finds `nats-server` on PATH (and in the sbin directories where Debian puts it). */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface NatsServerOptions {
  /** JetStream store directory; kept across restarts of this handle. */
  readonly storeDir: string;
  readonly port?: number;
  readonly binary?: string;
  /** Extra command-line arguments, e.g. `["-c", "cluster.conf"]`. */
  readonly args?: readonly string[];
}

/** How a server process that was not asked to stop ended, and which process it was. */
export interface ServerDeath {
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A nats-server child process with JetStream on. `stop`/`kill`/`start` drive fault tests. */
export class NatsServer {
  readonly #opts: NatsServerOptions & { binary: string };
  #child: ChildProcess | undefined;
  #port: number;
  /** The child `stop()` is stopping: its exit is no death. */
  #stopped: ChildProcess | undefined;
  readonly #deathListeners: ((death: ServerDeath) => void)[] = [];

  private constructor(opts: NatsServerOptions & { binary: string }, port: number) {
    this.#opts = opts;
    this.#port = port;
  }

  static async spawn(opts: NatsServerOptions): Promise<NatsServer> {
    const binary = opts.binary ?? findNatsServer();
    if (!binary) throw new InfraError("NO_NATS", "nats-server is not on PATH");
    mkdirSync(opts.storeDir, { recursive: true });
    const server = new NatsServer({ ...opts, binary }, opts.port ?? (await freePort()));
    await server.start();
    return server;
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const args = [
      "-a",
      "127.0.0.1",
      "-p",
      String(this.#port),
      "-js",
      "-sd",
      this.#opts.storeDir,
      ...(this.#opts.args ?? []),
    ];
    const child = spawn(this.#opts.binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    this.#child = child;
    try {
      await waitFor(`nats-server on port ${this.#port}`, async () => {
        if (child.exitCode !== null) throw new InfraError("SPAWN_FAILED", `nats-server exited: ${stderr}`);
        return canConnect("127.0.0.1", this.#port);
      });
    } catch (err) {
      child.kill("SIGKILL");
      throw new InfraError("SPAWN_FAILED", `nats-server did not start on port ${this.#port}: ${stderr}`, {
        cause: err,
      });
    }
    child.once("exit", (code, signal) => {
      if (this.#stopped === child) return;
      for (const listener of this.#deathListeners) listener({ pid: child.pid, code, signal });
    });
  }

  /**
   * Calls `listener` whenever the running server dies without `stop()` (a crash, a `kill -9` from
   * outside); `start()` starts it again on the same port and store.
   */
  onDeath(listener: (death: ServerDeath) => void): void {
    this.#deathListeners.push(listener);
  }

  /** Graceful stop (SIGTERM); `signal: "SIGKILL"` simulates a crash. Resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    this.#stopped = child;
    child.kill(signal);
    // A paused server hears nothing until it runs again.
    if (signal !== "SIGKILL") child.kill("SIGCONT");
    await exited;
    this.#child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** SIGSTOP: the process stays, its sockets stay open, nothing answers (a stalled server). */
  pause(): void {
    if (this.running) this.#child!.kill("SIGSTOP");
  }

  /** SIGCONT after `pause()`. */
  resume(): void {
    if (this.running) this.#child!.kill("SIGCONT");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

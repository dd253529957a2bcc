/**
 * The system a chaos run starts for itself: `orderflow up` (this repository's order system) in a
 * temporary data directory, on its own nats-server(s) and embedded PostgreSQL, on free ports.
 * Everything the nemesis and the checks need is read from the runner's files, as an outside tool
 * would: orderflow.pid (who to kill), servers.json (where NATS is), credentials.json (the operator).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { natsInboxPrefix, OPERATOR_IDENTITY } from "@orderflow/host";
import { waitFor } from "@orderflow/testing";
import { alive, cleanEnv, CliProcess, killAll, readProcessTree } from "../test/up-process.js";

export const SERVICES = ["order", "inventory", "billing", "saga"] as const;
export type ServiceName = (typeof SERVICES)[number];
/** The runner puts instance k (from 0) of a service on its port + 100·k. */
const INSTANCE_PORT_STEP = 100;

export interface ChaosSystemOptions {
  readonly natsNodes: number;
  readonly instances: number;
  /** Extra variables for the runner and the services. */
  readonly env?: Record<string, string>;
}

export interface Operator {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/** A base port p with p and p + 100·k free for every instance k: the services' ports. */
async function freeBasePort(instances: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let k = 0; k < instances && ok; k++)
      for (let i = 0; i < SERVICES.length && ok; i++) ok = await free(base + i + k * INSTANCE_PORT_STEP);
    if (ok) return base;
  }
}

export class ChaosSystem {
  readonly dataDir: string;
  readonly proc: CliProcess;
  readonly #base: number;
  readonly #instances: number;
  #operator: Operator | undefined;
  #token: string | undefined;

  private constructor(dataDir: string, proc: CliProcess, base: number, instances: number) {
    this.dataDir = dataDir;
    this.proc = proc;
    this.#base = base;
    this.#instances = instances;
  }

  static async start(opts: ChaosSystemOptions): Promise<ChaosSystem> {
    const dataDir = mkdtempSync(join(tmpdir(), "orderflow-chaos-"));
    chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
    const base = await freeBasePort(opts.instances);
    const env = cleanEnv({
      ...Object.fromEntries(SERVICES.map((s, i) => [`${s.toUpperCase()}_PORT`, String(base + i)])),
      RATE_LIMIT_PER_MINUTE: "0",
      LOG_LEVEL: "warn",
      ...opts.env,
    });
    const args = ["up", "--no-seed", "--data-dir", dataDir];
    if (opts.natsNodes > 1) args.push("--nats-nodes", String(opts.natsNodes));
    if (opts.instances > 1) args.push("--instances", String(opts.instances));
    const proc = new CliProcess(args, env);
    const sys = new ChaosSystem(dataDir, proc, base, opts.instances);
    try {
      await proc.line(/^orderflow: ready in [\d.]+ s/, 120_000);
    } catch (err) {
      await sys.stop();
      throw err;
    }
    return sys;
  }

  /** Every instance's URL of a service. */
  urls(service: ServiceName): string[] {
    const i = SERVICES.indexOf(service);
    return Array.from(
      { length: this.#instances },
      (_, k) => `http://127.0.0.1:${this.#base + i + k * INSTANCE_PORT_STEP}`,
    );
  }

  /** name → pid of every process the runner runs, as orderflow.pid says now (restarts change it). */
  processes(): Map<string, number> {
    return readProcessTree(this.dataDir);
  }

  #file<T>(name: string): T {
    return JSON.parse(readFileSync(join(this.dataDir, name), "utf8")) as T;
  }

  /** Written by the runner before it is ready; read once. */
  get operatorToken(): string {
    return (this.#token ??= this.#file<{ http: { operatorToken: string } }>(
      "credentials.json",
    ).http.operatorToken);
  }

  /** The NATS URLs servers.json lists: every node in cluster mode, else the one server. */
  natsUrls(): string[] {
    const s = this.#file<{ natsUrl: string; nats?: { url: string }[] }>("servers.json");
    return s.nats?.map((n) => n.url) ?? [s.natsUrl];
  }

  /** A connection as the operator (its NKey from credentials.json), kept for the run. */
  async operator(): Promise<Operator> {
    if (this.#operator && !this.#operator.nc.isClosed()) return this.#operator;
    const seed = this.#file<{ nats: Record<string, { nkeySeed: string }> }>("credentials.json").nats.operator!
      .nkeySeed;
    const nc = await connect({
      servers: this.natsUrls(),
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
      inboxPrefix: natsInboxPrefix(OPERATOR_IDENTITY),
      maxReconnectAttempts: -1,
    });
    this.#operator = { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
    return this.#operator;
  }

  /** A request as the operator; JSON both ways. */
  async http<T>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${this.operatorToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Waits until every instance of every service answers /readyz with 200. */
  async ready(timeoutMs: number): Promise<void> {
    await waitFor(
      "every instance ready",
      async () => {
        for (const s of SERVICES)
          for (const url of this.urls(s)) {
            const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
              (r) => r.status === 200,
              () => false,
            );
            if (!ok) return false;
          }
        return true;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** SIGTERM to the runner (it stops everything), SIGKILL to whatever is left; removes the data. */
  async stop(): Promise<void> {
    await this.#operator?.nc.close().catch(() => {});
    const tree = this.processes();
    if (this.proc.child.exitCode === null && this.proc.child.signalCode === null) {
      this.proc.child.kill("SIGTERM");
      await waitFor(
        "the runner to exit",
        () => this.proc.child.exitCode !== null || this.proc.child.signalCode !== null,
        {
          timeoutMs: 30_000,
        },
      ).catch(() => undefined);
    }
    killAll([this.proc.pid, ...[...tree.values()].filter(alive)]);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

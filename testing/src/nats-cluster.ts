import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { InfraError } from "./errors.js";
import { NatsServer, type ServerDeath } from "./nats-server.js";
import { freePort } from "./net.js";
import { waitFor } from "./wait.js";

export interface NatsClusterOptions {
  /** How many nats-server processes (nodes); at least 1. */
  readonly nodes: number;
  /** Each node keeps its JetStream store in `<dir>/<node name>`, kept across its restarts. */
  readonly dir: string;
  /** The cluster's name; default `orderflow`. */
  readonly name?: string;
  /** Extra command-line arguments of a node, e.g. `["-c", "auth.conf", "-P", pidFile]`. */
  readonly args?: (node: string, storeDir: string) => readonly string[];
  readonly binary?: string;
  /** How long the cluster (or a node started again) may take to see a JetStream meta leader; default 30 s. */
  readonly timeoutMs?: number;
}

/** What a node's monitoring endpoint `/jsz` says of the JetStream meta group. */
interface Jsz {
  readonly meta_cluster?: { readonly leader?: string; readonly cluster_size?: number };
}

/** One nats-server of a `NatsCluster`: its own ports and store, kept across restarts. */
export class NatsClusterNode {
  readonly name: string;
  readonly server: NatsServer;
  readonly #monitorPort: number;
  readonly #timeoutMs: number;

  constructor(name: string, server: NatsServer, monitorPort: number, timeoutMs: number) {
    this.name = name;
    this.server = server;
    this.#monitorPort = monitorPort;
    this.#timeoutMs = timeoutMs;
  }

  get url(): string {
    return this.server.url;
  }
  get pid(): number | undefined {
    return this.server.pid;
  }
  get running(): boolean {
    return this.server.running;
  }

  /** The meta leader's name as this node sees it; undefined while it knows none (or does not answer). */
  async metaLeader(): Promise<string | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.#monitorPort}/jsz`, {
        signal: AbortSignal.timeout(1000),
      });
      const jsz = (await res.json()) as Jsz;
      return jsz.meta_cluster?.leader || undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits until this node sees a JetStream meta leader (it has joined the cluster). */
  async joined(): Promise<string> {
    return waitFor(`nats node ${this.name} to see a JetStream meta leader`, () => this.metaLeader(), {
      timeoutMs: this.#timeoutMs,
      intervalMs: 50,
    });
  }

  /** Starts it again on its ports and store; resolves once it is back in the cluster. */
  async start(): Promise<void> {
    await this.server.start();
    await this.joined();
  }

  /** Its process gets `signal` (default SIGKILL: a crash) and is gone. */
  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    return this.server.stop(signal);
  }

  async restart(): Promise<void> {
    await this.server.stop();
    await this.start();
  }

  pause(): void {
    this.server.pause();
  }
  resume(): void {
    this.server.resume();
  }

  /** See `NatsServer.onDeath`: an exit that `kill`/`stop` did not cause. */
  onDeath(listener: (death: ServerDeath) => void): void {
    this.server.onDeath(listener);
  }
}

/**
 * A JetStream cluster of nats-server processes on 127.0.0.1: one cluster name, routes from every
 * node to every other, a unique server name (`n1`, `n2`…) and a store dir each. `spawn` resolves
 * once every node is up and sees the same meta leader.
 */
export class NatsCluster {
  readonly nodes: readonly NatsClusterNode[];

  private constructor(nodes: readonly NatsClusterNode[]) {
    this.nodes = nodes;
  }

  static async spawn(opts: NatsClusterOptions): Promise<NatsCluster> {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1)
      throw new InfraError("BAD_CONFIG", `a NATS cluster needs at least one node (got ${opts.nodes})`);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const names = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    const ports: { client: number; route: number; monitor: number }[] = [];
    for (const _ of names)
      ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
    const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(",");
    const servers = await Promise.allSettled(
      names.map((name, i) => {
        const storeDir = join(opts.dir, name);
        mkdirSync(storeDir, { recursive: true });
        return NatsServer.spawn({
          storeDir,
          port: ports[i]!.client,
          ...(opts.binary ? { binary: opts.binary } : {}),
          args: [
            ...(opts.args?.(name, storeDir) ?? []),
            "--name",
            name,
            "--cluster_name",
            opts.name ?? "orderflow",
            "--cluster",
            `nats://127.0.0.1:${ports[i]!.route}`,
            "--routes",
            routes,
            "-m",
            String(ports[i]!.monitor),
          ],
        });
      }),
    );
    const started = servers.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = servers.find((s) => s.status === "rejected");
    if (failed) {
      await Promise.all(started.map((s) => s.stop("SIGKILL")));
      throw failed.reason;
    }
    const cluster = new NatsCluster(
      started.map((server, i) => new NatsClusterNode(names[i]!, server, ports[i]!.monitor, timeoutMs)),
    );
    try {
      await waitFor(
        `a JetStream meta leader that all ${opts.nodes} nats nodes agree on`,
        async () => {
          const leaders = await Promise.all(cluster.nodes.map((n) => n.metaLeader()));
          return leaders[0] !== undefined && leaders.every((l) => l === leaders[0]);
        },
        { timeoutMs, intervalMs: 50 },
      );
    } catch (err) {
      await cluster.stop("SIGKILL");
      throw err;
    }
    return cluster;
  }

  /** Every node's client URL. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The URLs as one comma-separated `NATS_URL`. */
  get url(): string {
    return this.urls.join(",");
  }

  node(name: string): NatsClusterNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new InfraError("BAD_CONFIG", `no nats node ${name}`);
    return node;
  }

  /** Every node stopped (SIGTERM: gracefully), at once. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.stop(signal)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

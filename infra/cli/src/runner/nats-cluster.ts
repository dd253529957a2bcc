// `orderflow up --nats-nodes N`: the runner's NATS as a JetStream cluster of N nats-servers (see
// NatsCluster of @orderflow/testing), every stream with N replicas.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { NatsCluster, type Resolved } from "@orderflow/testing";
import { CliError } from "../errors.js";
import { shownPath } from "../shown-path.js";
import { NATS_PID_FILE } from "./protocol.js";
import type { UpConfig } from "./up-config.js";

/** Odd sizes only: a JetStream cluster needs a majority of its nodes up. */
const NODE_COUNTS = [1, 3, 5] as const;

/** `--nats-nodes`: 1 (the default, one nats-server), 3 or 5. */
export function parseNatsNodes(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!(NODE_COUNTS as readonly number[]).includes(n))
    throw new CliError("BAD_CONFIG", `--nats-nodes: must be 1, 3 or 5 (got "${value}")`);
  return n;
}

/**
 * The run's configuration with `nodes` nats-servers: every stream gets `nodes` replicas (NATS_REPLICAS,
 * when set, may ask for fewer), and the services are told so. A NATS_URL runs no server of ours.
 */
export function withNatsNodes(config: UpConfig, nodes: number, env: NodeJS.ProcessEnv): UpConfig {
  if (nodes === 1) return config;
  if (config.natsUrl !== undefined)
    throw new CliError("BAD_CONFIG", "--nats-nodes: NATS_URL is set, so the runner starts no nats-server");
  const replicas = env.NATS_REPLICAS ? config.replicas : nodes;
  if (replicas > nodes)
    throw new CliError(
      "BAD_CONFIG",
      `NATS_REPLICAS: ${replicas} replicas need as many nodes (--nats-nodes ${nodes})`,
    );
  return {
    ...config,
    natsNodes: nodes,
    replicas,
    childEnv: { ...config.childEnv, NATS_REPLICAS: String(replicas) },
  };
}

/** The store dir of node `name` (`n1`…) of a cluster in `<data dir>/nats/`. */
export const natsNodeDir = (dataDir: string, name: string): string => join(dataDir, "nats", name);

/** The pid files of the nats-servers a run with `nodes` nodes spawns. */
export function natsPidFiles(dataDir: string, nodes: number): string[] {
  if (nodes === 1) return [join(dataDir, "nats", NATS_PID_FILE)];
  return Array.from({ length: nodes }, (_, i) => join(natsNodeDir(dataDir, `n${i + 1}`), NATS_PID_FILE));
}

/** How many nodes made the JetStream store in `<data dir>/nats/`; undefined: none yet. */
function storedNodes(dataDir: string): number | undefined {
  const natsDir = join(dataDir, "nats");
  if (existsSync(join(natsDir, "jetstream"))) return 1;
  let names: string[];
  try {
    names = readdirSync(natsDir).filter((n) => /^n\d+$/.test(n) && existsSync(join(natsDir, n, "jetstream")));
  } catch {
    return undefined;
  }
  return names.length > 0 ? names.length : undefined;
}

/**
 * A store made with another node count is refused, not converted: a single server's streams do
 * not become a cluster's (nor the reverse) by starting it differently, and a store dropped in
 * silence would lose the streams' history.
 */
export function checkNatsStore(dataDir: string, nodes: number): void {
  const stored = storedNodes(dataDir);
  if (stored === undefined || stored === nodes) return;
  const natsDir = shownPath(join(dataDir, "nats"));
  throw new CliError(
    "BAD_CONFIG",
    `--nats-nodes: ${natsDir} holds the JetStream store of ${stored === 1 ? "one nats-server" : `a ${stored}-node cluster`}; run with --nats-nodes ${stored}, or another --data-dir, or remove ${natsDir} (its streams' history is lost; the databases keep their state)`,
  );
}

/** A cluster node as the infra host supervises it (named `nats-n1`… in its events and orderflow.pid). */
export interface ResolvedNode extends Resolved {
  readonly name: string;
}

/** The runner's cluster: one `Resolved` (all the URLs, stopped together) and each of its nodes. */
export async function spawnNatsCluster(opts: {
  readonly dataDir: string;
  readonly nodes: number;
  /** `-c`: the users' configuration every node runs with. */
  readonly natsConfig: string | undefined;
}): Promise<Resolved & { readonly nodes: readonly ResolvedNode[] }> {
  const cluster = await NatsCluster.spawn({
    nodes: opts.nodes,
    dir: join(opts.dataDir, "nats"),
    args: (_, storeDir) => [
      "-P",
      join(storeDir, NATS_PID_FILE),
      ...(opts.natsConfig ? ["-c", opts.natsConfig] : []),
    ],
  });
  const pidFiles = natsPidFiles(opts.dataDir, opts.nodes);
  return {
    url: cluster.url,
    source: "binary",
    stop: async () => {
      await cluster.stop();
      // nats-server leaves its pid file behind.
      for (const file of pidFiles) rmSync(file, { force: true });
    },
    nodes: cluster.nodes.map((node) => ({
      name: node.name,
      url: node.url,
      source: "binary" as const,
      get pid() {
        return node.pid;
      },
      stop: () => node.kill("SIGTERM"),
      onDeath: (listener) => node.onDeath(listener),
      // Resolves once it is back in the cluster.
      restart: () => node.start(),
    })),
  };
}

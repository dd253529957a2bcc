import { join, resolve } from "node:path";
import { DevRunner } from "../runner/dev-runner.js";
import { parseNatsNodes, withNatsNodes } from "../runner/nats-cluster.js";
import { instancePlans, parseInstances } from "../runner/instances.js";
import { checkServers, parseUpConfig } from "../runner/up-config.js";
import { DATA_DIR } from "../system/find-config.js";
import { loadSystem } from "../system/load-system.js";
import { uiPort } from "../ui/ui-config.js";

export interface UpOptions {
  /** Where spawned servers keep their data; default `.data/` beside the system's config. */
  readonly dataDir?: string;
  /** Create the config's seed resources that do not exist yet. */
  readonly seed: boolean;
  /** `--no-ui`: false, no ops page; default: on ORDERFLOW_UI_PORT (3004). */
  readonly ui?: boolean;
  /** `--tls`: as ORDERFLOW_TLS=1 (see `UpConfig.tls`); undefined: ORDERFLOW_TLS decides. */
  readonly tls?: boolean;
  /** `--nats-nodes`: how many nats-servers to run (1, 3 or 5; see runner/nats-cluster.ts); undefined: 1. */
  readonly natsNodes?: string;
  /** `--instances <n>`: processes of every service, as given (see runner/instances.ts). */
  readonly instances?: string;
  /** Read for the servers, the services' variables and ORDERFLOW_CONFIG. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the config is looked for (and upward); default the working directory. */
  readonly cwd?: string;
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
}

/**
 * `orderflow up`: NATS and PostgreSQL (from the environment, or spawned with their data in the data
 * directory), the per-service databases, every service of the system's config as a child process,
 * its seed data; then runs until SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function up(opts: UpOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const system = await loadSystem({ env, cwd: opts.cwd });
  const dataDir =
    opts.dataDir === undefined
      ? join(system.root, DATA_DIR)
      : resolve(opts.cwd ?? process.cwd(), opts.dataDir);
  // Configuration first: a bad value stops us before anything starts.
  const natsNodes = parseNatsNodes(opts.natsNodes);
  const parsed = parseUpConfig(env, system.services);
  const instances = parseInstances(opts.instances);
  const config = withNatsNodes({ ...parsed, instances, ...(opts.tls ? { tls: true } : {}) }, natsNodes, env);
  instancePlans(config.services, instances); // their ports, checked before anything starts
  await checkServers(config);
  const runner = new DevRunner({
    root: system.root,
    dataDir,
    config,
    seed: opts.seed ? system.seed : undefined,
    uiPort: opts.ui === false ? undefined : uiPort(env),
    env,
    out: opts.out ?? ((line) => process.stdout.write(`${line}\n`)),
    err: opts.err ?? ((line) => process.stderr.write(`${line}\n`)),
  });
  return runner.run();
}

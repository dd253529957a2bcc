import { isAbsolute, join, resolve } from "node:path";
import { CliError } from "../errors.js";
import { DevRunner } from "../runner/dev-runner.js";
import { discoverServices, repoRoot, withDefinitions } from "../runner/paths.js";
import { checkServers, parseUpConfig } from "../runner/up-config.js";

export interface UpOptions {
  /** Where spawned servers keep their data; default `.data/` at the repository root. */
  readonly dataDir?: string;
  /** Where the services are; default `services/` at the repository root. */
  readonly servicesDir?: string;
  /** Create the demo stock and accounts that do not exist yet. */
  readonly seed: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
}

/**
 * `orderflow up`: NATS and PostgreSQL (from the environment, or spawned with their data in the data
 * directory), the per-service databases, every built service as a child process, demo data; then
 * runs until SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function up(opts: UpOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const root = repoRoot();
  const dataDir = opts.dataDir === undefined ? join(root, ".data") : absolute(opts.dataDir);
  const servicesDir = opts.servicesDir === undefined ? join(root, "services") : absolute(opts.servicesDir);
  const services = await withDefinitions(discoverServices(servicesDir), servicesDir);
  // Configuration first: a bad value stops us before anything starts.
  const config = parseUpConfig(env, services);
  await checkServers(config);
  if (config.services.length === 0) {
    throw new CliError(
      "FAILED",
      `no built service in ${servicesDir} (<name>/dist/main.js): run \`npm run build\` first`,
    );
  }
  const runner = new DevRunner({
    root,
    dataDir,
    config,
    seed: opts.seed,
    env,
    out: opts.out ?? ((line) => process.stdout.write(`${line}\n`)),
    err: opts.err ?? ((line) => process.stderr.write(`${line}\n`)),
  });
  return runner.run();
}

const absolute = (p: string) => (isAbsolute(p) ? p : resolve(p));

import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CliError } from "../errors.js";

/** The names a system's config may have, looked for in this order in each directory. */
export const CONFIG_FILES = [
  "orderflow.config.ts",
  "orderflow.config.mts",
  "orderflow.config.js",
  "orderflow.config.mjs",
] as const;

export interface FindConfigOptions {
  /** `ORDERFLOW_CONFIG` (which `--config` sets) names the file; otherwise it is looked for. */
  readonly env?: Record<string, string | undefined>;
  /** Where the upward search starts. */
  readonly cwd?: string;
}

/**
 * The absolute path of the system's config: `ORDERFLOW_CONFIG`, or the first of CONFIG_FILES in
 * `cwd` or the nearest directory above it that has one. Throws a BAD_CONFIG CliError otherwise.
 */
export function findConfig(opts: FindConfigOptions = {}): string {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const given = env.ORDERFLOW_CONFIG;
  if (given) {
    const file = resolve(cwd, given);
    if (!isFile(file)) throw new CliError("BAD_CONFIG", `ORDERFLOW_CONFIG (or --config): no file ${file}`);
    return file;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const found = CONFIG_FILES.map((name) => join(dir, name)).find(isFile);
    if (found) return found;
    if (dirname(dir) === dir) break;
  }
  throw new CliError(
    "BAD_CONFIG",
    `no ${CONFIG_FILES[0]} (or .mts, .js, .mjs) in ${resolve(cwd)} or above: run from your system's directory, or give --config <path>`,
  );
}

/** Where `orderflow up` keeps its servers' data by default, beside the config. */
export const DATA_DIR = ".data";

/** The default data directory of the system found from here; undefined when there is no config. */
export function findDataDir(opts: FindConfigOptions = {}): string | undefined {
  try {
    return join(dirname(findConfig(opts)), DATA_DIR);
  } catch {
    return undefined;
  }
}

const isFile = (path: string): boolean => existsSync(path) && statSync(path).isFile();

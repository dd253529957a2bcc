import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ServiceDefinition } from "@orderflow/host";

/** The monorepo root: the nearest ancestor of this file whose package.json declares workspaces. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { workspaces?: unknown }).workspaces) return dir;
      } catch {
        // not a readable package.json: keep looking
      }
    }
    if (dirname(dir) === dir) throw new Error(`no workspace root above ${from}`);
  }
}

export interface ServiceEntry {
  /** Directory name under services/, also the env prefix (`ORDER_PORT`). */
  readonly name: string;
  /** Absolute path of the built entry point. */
  readonly main: string;
  /** Whether `main` exists (`npm run build` has run). */
  readonly built: boolean;
  readonly defaultPort: number | undefined;
  readonly database: string;
  /** The service's own environment variables (its definition's zod shape), when its package exports one. */
  readonly config?: ServiceDefinition<unknown>["config"];
}

// The contract's defaults, for a service whose source does not state them where we look.
const KNOWN: Record<string, { port: number; database: string }> = {
  order: { port: 3000, database: "orders" },
  inventory: { port: 3001, database: "inventory" },
  billing: { port: 3002, database: "billing" },
  saga: { port: 3003, database: "saga" },
};

/** What a service's definition says (`defaultPort: 3000`, `database: "orders"`), read from its source or build. */
export function readServiceDefinition(serviceDir: string): { defaultPort?: number; database?: string } {
  for (const file of [join(serviceDir, "src", "service.ts"), join(serviceDir, "dist", "service.js")]) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    const port = /defaultPort:\s*(\d+)/.exec(text)?.[1];
    const database = /database:\s*"(\w+)"/.exec(text)?.[1];
    return { defaultPort: port === undefined ? undefined : Number(port), database };
  }
  return {};
}

/** Every `<dir>/<name>/` with a package.json, in name order; `built` tells which have `dist/main.js`. */
export function discoverServices(dir: string): ServiceEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "package.json")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const def = readServiceDefinition(join(dir, name));
      const main = join(dir, name, "dist", "main.js");
      return {
        name,
        main,
        built: existsSync(main),
        defaultPort: def.defaultPort ?? KNOWN[name]?.port,
        database: def.database ?? KNOWN[name]?.database ?? name,
      };
    });
}

/**
 * Completes what discovery read from the sources with the service's exported `definition` (built
 * `dist/index.js`), so its own variables are validated too. A service without one keeps what
 * discovery found; one whose module fails to load is left to report that itself when it starts.
 */
export async function withDefinitions(
  entries: readonly ServiceEntry[],
  servicesDir: string,
): Promise<ServiceEntry[]> {
  return Promise.all(
    entries.map(async (entry) => {
      const index = join(servicesDir, entry.name, "dist", "index.js");
      if (!entry.built || !existsSync(index)) return entry;
      try {
        const mod = (await import(pathToFileURL(index).href)) as {
          definition?: Partial<ServiceDefinition<unknown>>;
        };
        const def = mod.definition;
        if (!def || typeof def !== "object") return entry;
        return {
          ...entry,
          defaultPort: typeof def.defaultPort === "number" ? def.defaultPort : entry.defaultPort,
          database: typeof def.database === "string" ? def.database : entry.database,
          config: def.config,
        };
      } catch {
        return entry;
      }
    }),
  );
}

/**
 * `{pid, natsUrl, databaseUrl}` of a running `orderflow up`: how `npx orderflow` finds the servers
 * it started (a spawned nats-server and an embedded PostgreSQL on free ports) when NATS_URL /
 * DATABASE_URL are not set.
 */
export const SERVERS_FILE = "servers.json";

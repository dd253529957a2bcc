// Types and the identity helper only: an orderflow.config.ts imports this, and loading the config
// must not load the CLI's runtime (see index.ts).

/** One service of the system. Paths are relative to the config file. */
export interface ServiceDeclaration {
  /**
   * A module exporting the service's `definition` (a `ServiceDefinition` of the messaging runtime),
   * which gives its name, database, default port and own variables.
   */
  readonly definition: string;
  /** The entry point `orderflow up` runs with node (it calls `runService(definition)`). */
  readonly main: string;
}

/**
 * What `orderflow up` creates where missing, by service name then request path: `GET <path>`,
 * and on 404 `PUT <path>` with the body. What exists already is kept (a restart keeps its data).
 */
export type SeedData = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** An Orderflow system: what `orderflow` runs and operates. */
export interface SystemConfig {
  readonly services: readonly ServiceDeclaration[];
  /** Demo data for `orderflow up` (skipped with `--no-seed`). */
  readonly seed?: SeedData;
}

/**
 * Declares the system in `orderflow.config.ts` at its root, which every `orderflow` command
 * finds from the current directory upward (or from `--config` / `ORDERFLOW_CONFIG`).
 *
 * @example
 * ```ts
 * import { defineSystem } from "@orderflow/cli";
 *
 * export default defineSystem({
 *   services: [{ definition: "./services/stock/dist/service.js", main: "./services/stock/dist/main.js" }],
 *   seed: { stock: { "/stock/sku-1": { available: 10 } } },
 * });
 * ```
 */
export function defineSystem(config: SystemConfig): SystemConfig {
  return config;
}

import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ServiceDefinition } from "@orderflow/host";
import { z } from "zod";
import { CliError, oneLine } from "../errors.js";
import { shownPath } from "../shown-path.js";
import type { SeedData, ServiceDeclaration, SystemConfig } from "./define-system.js";
import { findConfig, type FindConfigOptions } from "./find-config.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDefinition = ServiceDefinition<any, any>;

export interface SystemService {
  /** Its definition's name: the prefix of its variables (`ORDER_PORT`), its durable consumers' name. */
  readonly name: string;
  /** Absolute path of the entry point `orderflow up` runs. */
  readonly main: string;
  readonly definition: AnyDefinition;
}

/** A loaded orderflow.config: its services with their definitions imported. */
export interface System {
  /** The config file (absolute). */
  readonly file: string;
  /** Its directory: what the config's paths are relative to, and where `.data/` is by default. */
  readonly root: string;
  /** In the config's order. */
  readonly services: readonly SystemService[];
  readonly seed: SeedData;
  /** The service of that name; any other name is a BAD_CONFIG error listing the system's services. */
  service(name: string): SystemService;
}

const configSchema = z.strictObject({
  services: z
    .array(z.strictObject({ definition: z.string().min(1), main: z.string().min(1) }))
    .min(1, "declare at least one service"),
  seed: z
    .record(z.string(), z.record(z.string().startsWith("/", "must be a path starting with /"), z.unknown()))
    .optional(),
});

// What the CLI reads of a definition; the rest is the runtime's business.
const definitionSchema = z.looseObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "must be a lowercase identifier (it prefixes the service's variables)"),
  database: z.string().min(1),
  defaultPort: z.number().int().min(0).max(65535),
  config: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Finds (see findConfig) and loads the system's config — a `.ts`/`.mts` one with tsx (see
 * importModule), a `.js`/`.mjs` one natively — then imports each service's definition module. Any
 * problem is one BAD_CONFIG line naming the file and the entry.
 */
export async function loadSystem(opts: FindConfigOptions = {}): Promise<System> {
  const file = findConfig(opts);
  const where = shownPath(file, opts.cwd);
  const root = dirname(file);
  const config = await readConfig(file, where);
  const services = await Promise.all(
    config.services.map((declared, i) => loadService(root, `${where}: services[${i}]`, declared)),
  );
  const names = services.map((s) => s.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new CliError("BAD_CONFIG", `${where}: two services are named "${twice}"`);
  const seed = config.seed ?? {};
  for (const name of Object.keys(seed)) {
    if (!names.includes(name))
      throw new CliError(
        "BAD_CONFIG",
        `${where}: seed.${name}: no such service (one of ${names.join(", ")})`,
      );
  }
  return {
    file,
    root,
    services,
    seed,
    service(name) {
      const found = services.find((s) => s.name === name);
      if (!found) throw new CliError("BAD_CONFIG", `unknown service "${name}" (one of ${names.join(", ")})`);
      return found;
    },
  };
}

async function readConfig(file: string, where: string): Promise<SystemConfig> {
  let exported: unknown;
  try {
    exported = (await importModule(file)).default;
  } catch (err) {
    throw new CliError("BAD_CONFIG", `${where}: cannot load it: ${oneLine(err)}`, { cause: err });
  }
  // CommonJS compiled from ESM (`exports.default`, `__esModule`) imported natively arrives wrapped.
  if (isObject(exported) && exported.__esModule === true && "default" in exported)
    exported = exported.default;
  if (exported === undefined)
    throw new CliError("BAD_CONFIG", `${where}: no default export (export default defineSystem({ … }))`);
  const parsed = configSchema.safeParse(exported);
  if (!parsed.success) throw new CliError("BAD_CONFIG", firstIssue(where, parsed.error));
  return parsed.data;
}

async function loadService(root: string, at: string, declared: ServiceDeclaration): Promise<SystemService> {
  const files = { definition: resolve(root, declared.definition), main: resolve(root, declared.main) };
  for (const key of ["definition", "main"] as const) {
    if (!existsSync(files[key]))
      throw new CliError("BAD_CONFIG", `${at}.${key}: ${declared[key]} does not exist (not built yet?)`);
  }
  let definition: unknown;
  try {
    definition = (await importModule(files.definition)).definition;
  } catch (err) {
    throw new CliError(
      "BAD_CONFIG",
      `${at}.definition: cannot load ${declared.definition}: ${oneLine(err)}`,
      {
        cause: err,
      },
    );
  }
  if (definition === undefined)
    throw new CliError("BAD_CONFIG", `${at}.definition: ${declared.definition} exports no \`definition\``);
  const parsed = definitionSchema.safeParse(definition);
  if (!parsed.success)
    throw new CliError(
      "BAD_CONFIG",
      firstIssue(`${at}.definition: ${declared.definition}`, parsed.error, "definition"),
    );
  return { name: parsed.data.name, main: files.main, definition: definition as AnyDefinition };
}

/**
 * A module's exports: TypeScript through tsx's CommonJS API, whose hooks live only for that require
 * (what it imports from packages, like `@orderflow/cli`, is loaded natively by require(esm)). Not
 * its ESM `tsImport`: on Node 20 that leaves loader hooks registered for the rest of the process,
 * and every later import (the services' definitions, their runtime) pays a round trip to the hooks
 * thread — a second more per command on our 2-core machines. The cost: no top-level await in a
 * TypeScript config.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?ts$/.test(file)) {
    const tsx = await import("tsx/cjs/api");
    return tsx.require(file, import.meta.url) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** `<where>: services[1].main: <message>` — the first problem, on one line. */
function firstIssue(where: string, error: z.ZodError, prefix = ""): string {
  const issue = error.issues[0]!;
  let path = prefix;
  for (const key of issue.path)
    path += typeof key === "number" ? `[${key}]` : path ? `.${String(key)}` : String(key);
  // A bad record key (a seed path) keeps its own reason one level down.
  const message = issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return `${where}: ${path ? `${path}: ` : ""}${message}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

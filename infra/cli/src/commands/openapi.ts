import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { openApiDocument } from "@orderflow/host";
import { loadSystem, type System } from "../system/load-system.js";

/** Where the documents go by default, relative to the system's root. */
export const OPENAPI_DIR = "docs/openapi";

export interface OpenApiFile {
  /** `<service>.json`. */
  readonly name: string;
  readonly content: string;
}

/** Each service's OpenAPI document (what its `GET /openapi.json` answers) as the file that holds it. */
export async function openApiFiles(system: Pick<System, "services">): Promise<OpenApiFile[]> {
  const files: OpenApiFile[] = [];
  for (const s of system.services) {
    const doc = await openApiDocument(s.definition);
    files.push({ name: `${s.name}.json`, content: JSON.stringify(doc, null, 2) + "\n" });
  }
  return files;
}

/**
 * `orderflow openapi`: writes `<out>/<service>.json` for every service of the system (removing
 * documents of services it no longer has); with `check`, writes nothing and fails (exit 1) naming
 * each file that is missing, stale or extra.
 */
export async function openapi(opts: { out?: string; check?: boolean }): Promise<number> {
  const system = await loadSystem();
  const dir = resolve(system.root, opts.out ?? OPENAPI_DIR);
  const files = await openApiFiles(system);
  const present = listJson(dir);
  const wanted = new Set(files.map((f) => f.name));
  const stale = [
    ...files.filter((f) => read(join(dir, f.name)) !== f.content).map((f) => f.name),
    ...present.filter((name) => !wanted.has(name)),
  ];
  const shown = relative(process.cwd(), dir) || ".";
  if (opts.check) {
    for (const name of stale) process.stderr.write(`${join(shown, name)} is stale: run orderflow openapi\n`);
    if (!stale.length) process.stdout.write(`${files.length} OpenAPI documents in ${shown} are current\n`);
    return stale.length ? 1 : 0;
  }
  mkdirSync(dir, { recursive: true });
  for (const name of present) if (!wanted.has(name)) rmSync(join(dir, name));
  for (const f of files) writeFileSync(join(dir, f.name), f.content);
  process.stdout.write(`wrote ${files.map((f) => join(shown, f.name)).join(", ")}\n`);
  return 0;
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

const listJson = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
};

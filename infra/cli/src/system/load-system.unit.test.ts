import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { exitCodeOf, isCliError } from "../errors.js";
import { loadSystem } from "./load-system.js";

/** A directory holding `files` (path → content), removed at the end of the test's scope. */
function tempSystem(files: Record<string, string>): { dir: string } & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-system-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

// A stand-in for a service's built definition module: what the CLI reads of it, no runtime.
const definitionModule = (name: string, defaultPort: number | string = 4100) =>
  `export const definition = { name: ${JSON.stringify(name)}, database: "${name}_db", defaultPort: ${JSON.stringify(defaultPort)}, migrations: {} };\n`;

const twoServices = {
  "svc/stock.mjs": definitionModule("stock", 4100),
  "svc/ledger.mjs": definitionModule("ledger", 4200),
  "svc/main.mjs": "",
};

/** The BAD_CONFIG line loadSystem throws for the system in `files`. */
async function failure(files: Record<string, string>, env: Record<string, string> = {}): Promise<string> {
  using sys = tempSystem(files);
  const err = await loadSystem({ cwd: sys.dir, env }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCliError(err)) throw new Error(`expected a CliError, got ${String(err)}`);
  expect(err.code).toBe("BAD_CONFIG");
  expect(exitCodeOf(err.code)).toBe(2);
  expect(err.message).not.toContain("\n");
  return err.message.replaceAll(sys.dir, "<dir>");
}

describe("loadSystem", () => {
  it("finds a .ts config from a directory below it and loads each service's definition", async () => {
    using sys = tempSystem({
      ...twoServices,
      "sub/deeper/.keep": "",
      // TypeScript syntax, in a directory without package.json: tsx compiles it (to CommonJS here).
      "orderflow.config.ts": `
        interface Decl { definition: string; main: string }
        const services: Decl[] = [
          { definition: "./svc/stock.mjs", main: "./svc/main.mjs" },
          { definition: "./svc/ledger.mjs", main: "svc/main.mjs" },
        ];
        export default { services, seed: { stock: { "/stock/a": { available: 1 } } } };
      `,
    });
    const system = await loadSystem({ cwd: join(sys.dir, "sub", "deeper"), env: {} });
    expect(system.file).toBe(join(sys.dir, "orderflow.config.ts"));
    expect(system.root).toBe(sys.dir);
    expect(system.services.map((s) => s.name)).toEqual(["stock", "ledger"]);
    expect(system.service("ledger")).toMatchObject({
      main: join(sys.dir, "svc", "main.mjs"),
      definition: { name: "ledger", database: "ledger_db", defaultPort: 4200 },
    });
    expect(system.seed).toEqual({ stock: { "/stock/a": { available: 1 } } });
  });

  it("loads a .mjs config natively, from ORDERFLOW_CONFIG (relative to the working directory)", async () => {
    using sys = tempSystem({
      ...twoServices,
      "elsewhere/system.mjs": `export default { services: [{ definition: "../svc/stock.mjs", main: "../svc/main.mjs" }] };`,
    });
    const system = await loadSystem({ cwd: sys.dir, env: { ORDERFLOW_CONFIG: "elsewhere/system.mjs" } });
    expect(system.services.map((s) => [s.name, s.definition.database])).toEqual([["stock", "stock_db"]]);
    expect(system.root).toBe(join(sys.dir, "elsewhere"));
    expect(system.seed).toEqual({});
  });

  it("an unknown service name: one line listing the system's services", async () => {
    using sys = tempSystem({
      ...twoServices,
      "orderflow.config.mjs": `export default { services: [
        { definition: "./svc/stock.mjs", main: "./svc/main.mjs" },
        { definition: "./svc/ledger.mjs", main: "./svc/main.mjs" },
      ] };`,
    });
    const system = await loadSystem({ cwd: sys.dir, env: {} });
    expect(() => system.service("payments")).toThrow('unknown service "payments" (one of stock, ledger)');
  });

  const config = (body: string) => ({ ...twoServices, "orderflow.config.mjs": `export default ${body};` });
  const stock = `{ definition: "./svc/stock.mjs", main: "./svc/main.mjs" }`;

  it.each<[string, Record<string, string>, RegExp]>([
    [
      "no config",
      {},
      /^no orderflow\.config\.ts \(or \.mts, \.js, \.mjs\) in <dir> or above: .*--config <path>$/,
    ],
    ["no default export", { "orderflow.config.mjs": "export const services = [];" }, /: no default export/],
    [
      "a config that does not load",
      { "orderflow.config.mjs": "export default {" },
      /^orderflow\.config\.mjs: cannot load it: /,
    ],
    [
      "no services",
      config("{ services: [] }"),
      /^orderflow\.config\.mjs: services: declare at least one service$/,
    ],
    ["a misspelt key", config(`{ services: [${stock}], sead: {} }`), /^orderflow\.config\.mjs: .*"sead"/],
    [
      "a declaration without main",
      config(`{ services: [${stock}, { definition: "./svc/ledger.mjs" }] }`),
      /^orderflow\.config\.mjs: services\[1\]\.main: /,
    ],
    [
      "a definition module that is not there",
      config(`{ services: [{ definition: "./dist/nope.js", main: "./svc/main.mjs" }] }`),
      /^orderflow\.config\.mjs: services\[0\]\.definition: \.\/dist\/nope\.js does not exist \(not built yet\?\)$/,
    ],
    [
      "a module without a definition",
      config(`{ services: [{ definition: "./svc/main.mjs", main: "./svc/main.mjs" }] }`),
      /^orderflow\.config\.mjs: services\[0\]\.definition: \.\/svc\/main\.mjs exports no `definition`$/,
    ],
    [
      "a definition without a numeric default port",
      {
        ...config(`{ services: [{ definition: "./bad.mjs", main: "./svc/main.mjs" }] }`),
        "bad.mjs": definitionModule("bad", "3000"),
      },
      /^orderflow\.config\.mjs: services\[0\]\.definition: \.\/bad\.mjs: definition\.defaultPort: /,
    ],
    [
      "two services of one name",
      config(`{ services: [${stock}, ${stock}] }`),
      /^orderflow\.config\.mjs: two services are named "stock"$/,
    ],
    [
      "seed data for a service the system does not have",
      config(`{ services: [${stock}], seed: { billing: { "/accounts/a": {} } } }`),
      /^orderflow\.config\.mjs: seed\.billing: no such service \(one of stock\)$/,
    ],
    [
      "a seed path that is not a path",
      config(`{ services: [${stock}], seed: { stock: { "stock/a": {} } } }`),
      /^orderflow\.config\.mjs: seed\.stock\.stock\/a: .*must be a path starting with \//,
    ],
  ])("%s → one line, BAD_CONFIG (exit 2)", async (_what, files, message) => {
    expect(await failure(files)).toMatch(message);
  });

  it("ORDERFLOW_CONFIG naming no file → one line naming it", async () => {
    expect(await failure(twoServices, { ORDERFLOW_CONFIG: "missing.ts" })).toBe(
      "ORDERFLOW_CONFIG (or --config): no file <dir>/missing.ts",
    );
  });
});

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const built = ["order", "inventory", "billing", "saga"].every((s) =>
  existsSync(join(REPO_ROOT, "services", s, "dist", "service.js")),
);

describe.skipIf(!built || !existsSync(join(REPO_ROOT, "infra", "cli", "dist", "index.js")))(
  "the repository's orderflow.config.ts",
  () => {
    it("declares the order system: names, databases and ports from the services' definitions", async () => {
      const system = await loadSystem({ cwd: join(REPO_ROOT, "services"), env: {} });
      expect(system.file).toBe(join(REPO_ROOT, "orderflow.config.ts"));
      expect(
        system.services.map((s) => [s.name, s.definition.database, s.definition.defaultPort, s.main]),
      ).toEqual([
        ["order", "orders", 3000, join(REPO_ROOT, "services", "order", "dist", "main.js")],
        ["inventory", "inventory", 3001, join(REPO_ROOT, "services", "inventory", "dist", "main.js")],
        ["billing", "billing", 3002, join(REPO_ROOT, "services", "billing", "dist", "main.js")],
        ["saga", "saga", 3003, join(REPO_ROOT, "services", "saga", "dist", "main.js")],
      ]);
      expect(Object.keys(system.seed)).toEqual(["order", "inventory", "billing"]);
    });
  },
);

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../test/up-process.js";

// docs/api.md documents every export of the public packages, each once, as a top-level list item
// under `## @orderflow/<name>` whose first backticked span names it (`createOutbox(opts)`,
// `Outbox<C>` (type)). This test keeps that list equal to what each package's built
// dist/index.d.ts exports.

const PACKAGES = {
  events: "events",
  outbox: "outbox",
  host: "host",
  contracts: "services/contracts",
  testing: "testing",
  cli: "infra/cli",
} as const;
type Name = keyof typeof PACKAGES;

const DOC = join(REPO_ROOT, "docs", "api.md");
const entryOf = (name: Name) => join(REPO_ROOT, PACKAGES[name], "dist", "index.d.ts");

interface Documented {
  readonly name: string;
  readonly typeOnly: boolean;
}

/** The list items of each `## @orderflow/<name>` section, in order. */
function documented(markdown: string): Map<string, Documented[]> {
  const sections = new Map<string, Documented[]>();
  let current: Documented[] | undefined;
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const heading = /^## (?!#)(.*)$/.exec(line);
    if (heading) {
      const pkg = /^@orderflow\/([\w-]+)\s*$/.exec(heading[1]!)?.[1];
      if (pkg && sections.has(pkg)) throw new Error(`docs/api.md: two sections ## @orderflow/${pkg}`);
      current = pkg ? [] : undefined;
      if (pkg) sections.set(pkg, current!);
      continue;
    }
    if (!current || !/^[-*+] /.test(line)) continue;
    const span = /`([^`]+)`/.exec(line)?.[1];
    // `createOutbox(opts)` → createOutbox, `Outbox<C>` → Outbox.
    const name = span?.replace(/[(<][\s\S]*$/, "").trim();
    if (!name || !/^[A-Za-z_$][\w$]*$/.test(name))
      throw new Error(`docs/api.md: a list item that does not start by naming an export: ${line}`);
    current.push({ name, typeOnly: /`\s+\(type\)/.test(line) });
  }
  return sections;
}

/** Each package's exports, by name, and whether it is a type only. */
function exported(): Map<Name, Map<string, boolean>> {
  const names = Object.keys(PACKAGES) as Name[];
  for (const name of names) {
    if (!existsSync(entryOf(name)))
      throw new Error(`${entryOf(name)} is missing: build first (npx turbo run build)`);
  }
  const program = ts.createProgram(names.map(entryOf), {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  return new Map(
    names.map((name) => {
      const source = program.getSourceFile(entryOf(name));
      const moduleSymbol = source && checker.getSymbolAtLocation(source);
      if (!moduleSymbol) throw new Error(`${entryOf(name)}: not a module`);
      const symbols = checker.getExportsOfModule(moduleSymbol);
      return [name, new Map(symbols.map((s) => [s.name, isTypeOnly(checker, s)]))];
    }),
  );
}

function isTypeOnly(checker: ts.TypeChecker, symbol: ts.Symbol): boolean {
  if (symbol.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) return true;
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  return (target.flags & ts.SymbolFlags.Value) === 0;
}

const sorted = (names: Iterable<string>) => [...names].sort();

describe("docs/api.md", () => {
  const sections = documented(readFileSync(DOC, "utf8"));
  const exports = exported();

  it.each(Object.keys(PACKAGES) as Name[])("lists every export of @orderflow/%s, each once", (name) => {
    const items = sections.get(name);
    expect(items, `docs/api.md has no section "## @orderflow/${name}"`).toBeDefined();
    const actual = exports.get(name)!;
    const listed = items!.map((i) => i.name);
    const twice = sorted(new Set(listed.filter((n, i) => listed.indexOf(n) !== i)));
    const undocumented = sorted([...actual.keys()].filter((n) => !listed.includes(n)));
    const notExported = sorted(new Set(listed.filter((n) => !actual.has(n))));
    const problems = [
      undocumented.length && `undocumented: ${undocumented.join(", ")}`,
      notExported.length && `documented but not exported: ${notExported.join(", ")}`,
      twice.length && `documented more than once: ${twice.join(", ")}`,
    ].filter(Boolean);
    expect(
      { undocumented, notExported, twice },
      `@orderflow/${name} (${PACKAGES[name]}/dist/index.d.ts; rebuild it if src changed): ${problems.join("; ")}`,
    ).toEqual({ undocumented: [], notExported: [], twice: [] });
  });

  it.each(Object.keys(PACKAGES) as Name[])("marks the type-only exports of @orderflow/%s", (name) => {
    const actual = exports.get(name)!;
    const items = (sections.get(name) ?? []).filter((i) => actual.has(i.name));
    const unmarked = sorted(items.filter((i) => actual.get(i.name) && !i.typeOnly).map((i) => i.name));
    const marked = sorted(items.filter((i) => !actual.get(i.name) && i.typeOnly).map((i) => i.name));
    expect(
      { unmarked, marked },
      `@orderflow/${name}: ${[
        unmarked.length && `types not marked (type): ${unmarked.join(", ")}`,
        marked.length && `values marked (type): ${marked.join(", ")}`,
      ]
        .filter(Boolean)
        .join("; ")}`,
    ).toEqual({ unmarked: [], marked: [] });
  });
});

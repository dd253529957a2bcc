#!/usr/bin/env node
// `npm run example:shipping`: proves the packages as a user gets them. Packs every public package
// (`npm pack`, which builds through `prepack`), copies examples/<name> to a temporary directory
// outside the repository, installs the tarballs there (everything else from the registry), and runs
// the example's own `npm test` against real NATS and PostgreSQL. Prints what each package weighs.
// Keeps the directory when the test fails (its path is printed); KEEP_EXAMPLE_DIR=1 keeps it always.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGES = ["events", "outbox", "host", "services/contracts", "testing", "infra/cli"];
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const example = process.argv[2] ?? "shipping";
const source = join(root, "examples", example);
const work = mkdtempSync(join(tmpdir(), `orderflow-example-${example}-`));
const tarballs = join(work, "tarballs");
const project = join(work, example);
mkdirSync(tarballs);
// Started as root, an embedded PostgreSQL runs as user postgres, which must enter this directory.
chmodSync(work, 0o755);

const npm = (args, cwd, opts = {}) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund"], { cwd, stdio: "inherit", ...opts });

console.log(`example:${example}: packing ${PACKAGES.length} packages into ${tarballs}`);
const packed = JSON.parse(
  execFileSync(
    "npm",
    ["pack", "--json", "--pack-destination", tarballs, ...PACKAGES.flatMap((p) => ["-w", p])],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
    },
  ),
);
const rows = packed.map((p) => {
  const manifest = JSON.parse(readFileSync(join(root, PACKAGES[packed.indexOf(p)], "package.json"), "utf8"));
  return {
    package: p.name,
    tarball: `${(p.size / 1024).toFixed(1)} kB`,
    unpacked: `${(p.unpackedSize / 1024).toFixed(1)} kB`,
    files: p.entryCount,
    dependencies: Object.keys(manifest.dependencies ?? {}).length,
    peerDependencies: Object.keys(manifest.peerDependencies ?? {}).length,
  };
});
console.table(rows);

cpSync(source, project, {
  recursive: true,
  filter: (src) => !["node_modules", "dist"].includes(basename(src)),
});
// The user's view: registry-style ranges in package.json, satisfied here by the tarballs.
npm(["install", "--prefer-offline", ...packed.map((p) => join(tarballs, p.filename))], project);
writeFileSync(join(work, "packages.json"), JSON.stringify(rows, null, 2) + "\n");

let failed = false;
try {
  npm(["test"], project);
} catch {
  failed = true;
}
if (failed || process.env.KEEP_EXAMPLE_DIR) console.log(`example:${example}: kept ${work}`);
else rmSync(work, { recursive: true, force: true });
if (failed) {
  console.error(`example:${example}: FAILED`);
  process.exit(1);
}
console.log(`example:${example}: passed, from packed tarballs installed outside the repository`);

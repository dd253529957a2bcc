#!/usr/bin/env node
// The `orderflow` bin. Committed and executable, unlike dist/, so that `npm install` links it on a
// fresh clone (before anything is built) and a dist/ restored from the build cache need not be.
// Not built yet (a fresh clone before `npm start`): build the CLI and what it imports, then run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bin = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(bin)) {
  process.stderr.write("orderflow: building the CLI first (once)…\n");
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const built = spawnSync(
    "npx",
    ["turbo", "run", "build", "--filter=@orderflow/cli...", "--output-logs=errors-only"],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
  if (built.status !== 0 || !existsSync(bin)) {
    process.stderr.write("orderflow: the CLI could not be built: run `npm run build` and see its errors\n");
    process.exit(2);
  }
}
await import(bin.href);

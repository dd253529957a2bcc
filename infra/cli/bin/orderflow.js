#!/usr/bin/env node
// The `orderflow` bin. Committed and executable, unlike dist/, so that `npm install` links it on a
// fresh clone (before anything is built) and a dist/ restored from the build cache need not be.
import { existsSync } from "node:fs";

const bin = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(bin)) {
  process.stderr.write("orderflow: the CLI is not built yet: run `npm run build` (or `npm start`) first\n");
  process.exit(2);
}
await import(bin.href);

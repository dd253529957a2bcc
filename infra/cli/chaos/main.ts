/**
 * `npm run chaos [-- --seed N --seconds S --rate R --nats-nodes 3 --instances 2]`: one bounded chaos
 * run against a system it starts itself (./run.ts). Prints one summary line (and each violation),
 * writes bench-results/chaos-<seed>.json, exits 1 on any violation, 2 on a bad option.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runChaos } from "./run.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`chaos: --${name} must be a positive integer, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      seed: { type: "string" },
      seconds: { type: "string" },
      rate: { type: "string" },
      "nats-nodes": { type: "string" },
      instances: { type: "string" },
    },
  }));
} catch (err) {
  process.stderr.write(`chaos: ${(err as Error).message}\n`);
  process.exit(2);
}
const env = process.env;
const result = await runChaos({
  seed: positiveInt("seed", values.seed ?? env.CHAOS_SEED, Math.floor(Math.random() * 2 ** 31)),
  // 100 s of load: with the start (~15 s) and the settling after a fault at the very end (up to
  // ~60 s seen), the run stays within 3 minutes.
  seconds: positiveInt("seconds", values.seconds ?? env.CHAOS_SECONDS, 100),
  rate: positiveInt("rate", values.rate ?? env.CHAOS_RATE, 20),
  natsNodes: positiveInt("nats-nodes", values["nats-nodes"] ?? env.CHAOS_NATS_NODES, 3),
  instances: positiveInt("instances", values.instances ?? env.CHAOS_INSTANCES, 2),
  log: (line) => process.stderr.write(`${line}\n`),
});
for (const v of result.violations) process.stdout.write(`  ${v}\n`);
process.stdout.write(`${result.summary}\n`);
const out = join(root, "bench-results", `chaos-${result.seed}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`chaos: wrote ${out}\n`);
process.exit(result.violations.length === 0 ? 0 : 1);

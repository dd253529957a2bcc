/**
 * What tracing costs (`npm run bench:tracing`): the flow benchmark (./flow.ts) run untraced and
 * traced, alternately (off, on, off, on…) so that a change in the machine's load falls on both,
 * traced meaning every span of every service exported over OTLP (http/protobuf, the SDK's default)
 * to a receiver in the driver, with every root trace sampled. Compares saturation (completed
 * sagas/s), latency at the steady rate and CPU per saga. Prints a table and writes
 * bench-results/tracing-cost.json. Not a test: figures depend on the machine.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const PAIRS = Number(process.env.BENCH_PAIRS ?? 2);

interface FlowResult {
  steady: { rate: number; p50Ms: number; p99Ms: number };
  saturation: { sagasPerSecond: number };
  cpuPerSaga: { process: string; msPerSaga: number }[];
  tracing: false | { exports: number; bytes: number };
}

function runFlow(tracing: boolean, pair: number): FlowResult {
  const out = `tracing-cost-${tracing ? "on" : "off"}-${pair}`;
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, "flow.ts")], {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      BENCH_TRACING: tracing ? "1" : "0",
      BENCH_OUT: out,
      BENCH_RATES: process.env.BENCH_RATES ?? "20",
      BENCH_SATURATION: process.env.BENCH_SATURATION ?? "1000",
      BENCH_WARMUP: process.env.BENCH_WARMUP ?? "300",
      // Room for a saturation burst: a dropped span would make tracing look cheaper than it is
      // (a drop is logged on stderr at this level).
      OTEL_BSP_MAX_QUEUE_SIZE: process.env.OTEL_BSP_MAX_QUEUE_SIZE ?? "16384",
      OTEL_LOG_LEVEL: process.env.OTEL_LOG_LEVEL ?? "warn",
    },
  });
  if (r.status !== 0) throw new Error(`flow benchmark (${out}) exited ${r.status ?? r.signal}`);
  return JSON.parse(readFileSync(join(root, "bench-results", `${out}.json`), "utf8")) as FlowResult;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (n: number) => Math.round(n * 100) / 100;
const cpuOf = (r: FlowResult) => round(r.cpuPerSaga.reduce((a, b) => a + b.msPerSaga, 0));

const runs: { tracing: boolean; pair: number; result: FlowResult }[] = [];
for (let pair = 0; pair < PAIRS; pair++)
  for (const tracing of [false, true]) runs.push({ tracing, pair, result: runFlow(tracing, pair) });

const rows = runs.map(({ tracing, pair, result: r }) => ({
  tracing: tracing ? "on" : "off",
  pair,
  "sagas/s": r.saturation.sagasPerSecond,
  [`p50 at ${r.steady.rate}/s`]: r.steady.p50Ms,
  [`p99 at ${r.steady.rate}/s`]: r.steady.p99Ms,
  "CPU ms/saga": cpuOf(r),
  "OTLP MB": r.tracing ? round(r.tracing.bytes / 1e6) : 0,
}));
const of = (on: boolean) => runs.filter((r) => r.tracing === on).map((r) => r.result);
const summary = Object.fromEntries(
  (["off", "on"] as const).map((k) => {
    const rs = of(k === "on");
    return [
      k,
      {
        sagasPerSecond: median(rs.map((r) => r.saturation.sagasPerSecond)),
        p50Ms: median(rs.map((r) => r.steady.p50Ms)),
        p99Ms: median(rs.map((r) => r.steady.p99Ms)),
        cpuMsPerSaga: median(rs.map(cpuOf)),
      },
    ];
  }),
) as Record<"off" | "on", { sagasPerSecond: number; p50Ms: number; p99Ms: number; cpuMsPerSaga: number }>;
const cost = {
  saturationPercent: round((1 - summary.on.sagasPerSecond / summary.off.sagasPerSecond) * 100),
  cpuPerSagaPercent: round((summary.on.cpuMsPerSaga / summary.off.cpuMsPerSaga - 1) * 100),
};

console.log(`\ntracing off vs on, ${PAIRS} pair(s) run alternately`);
console.table(rows);
console.log(
  `median saturation: ${summary.off.sagasPerSecond} sagas/s untraced, ${summary.on.sagasPerSecond} traced: ` +
    `tracing costs ${cost.saturationPercent} % of saturation throughput, ${cost.cpuPerSagaPercent} % more CPU per saga`,
);
writeFileSync(
  join(root, "bench-results", "tracing-cost.json"),
  JSON.stringify({ pairs: PAIRS, runs: rows, median: summary, cost }, null, 2),
);
console.log(`wrote ${join(root, "bench-results", "tracing-cost.json")}`);

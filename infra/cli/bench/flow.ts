/**
 * End-to-end load benchmark of the order flow (`npm run bench:flow`): the four services as separate
 * processes over a private nats-server and fresh databases. Measures POST → terminal latency at a
 * steady rate, the saturation rate of completed sagas, and where the time goes per hop. At each
 * steady rate it also runs the floor (./floor.ts: five hops of nothing but commit + publish +
 * delivery on the same servers) and reports the flow's latency as a ratio of the floor's.
 * Prints a table and writes bench-results/flow.json (BENCH_OUT names another file). Not a test:
 * figures depend on the machine. BENCH_TRACING=1 runs the services traced, exporting every span
 * over OTLP (http/protobuf) to a receiver in this process (see ./tracing-cost.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Msg } from "@nats-io/transport-node";
import pgClient from "pg";
import { percentile, startFloor, type FloorResult } from "./floor.js";
import { atSteadyRate, root, SERVICES as services, startOrderServices } from "./order-services.js";
import { NatsServer, resolvePostgres, otlpReceiver } from "@orderflow/testing";

// Steady rates, each measured for the flow and then for the floor; the hop table is the last rate's.
const RATES = (process.env.BENCH_RATES ?? process.env.BENCH_RATE ?? "20,100").split(",").map(Number);
const STEADY_S = Number(process.env.BENCH_SECONDS ?? 10);
const SATURATION_ORDERS = Number(process.env.BENCH_SATURATION ?? 3000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 64);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
// Extra node flags for the service processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
const TRACING = process.env.BENCH_TRACING === "1";
const OUT = process.env.BENCH_OUT ?? "flow";

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const round = (n: number) => Math.round(n * 100) / 100;

/** CPU seconds a process has used (Linux: utime + stime in /proc/<pid>/stat, USER_HZ = 100). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0; // gone
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-bench-"));
  const nats = await NatsServer.spawn({ storeDir: join(dir, "nats") });
  const pg = await resolvePostgres({ dataDir: dir });
  const suffix = Date.now().toString(36);
  const otlp = TRACING ? await otlpReceiver() : undefined;
  const system = await startOrderServices({
    natsUrl: nats.url,
    pgUrl: pg.url,
    suffix,
    launch: (name) => ({
      args: [...NODE_ARGS, ...(otlp ? ["--import", import.meta.resolve("@orderflow/host/tracing")] : [])],
      env: otlp
        ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: name }
        : ({} as Record<string, string>),
    }),
  });
  const urls = Object.fromEntries(Object.entries(system.urls).map(([k, v]) => [k, v[0]!]));
  const children = system.children;
  try {
    // Arrival time of every event per order, from a plain subscription to every stream subject.
    const nc = await connect({ servers: nats.url });
    const seen = new Map<string, Map<string, number>>();
    const done = new Map<string, number>();
    const terminalWaiters: (() => void)[] = [];
    // Only the streams' subjects: a ">" subscription would also get every JetStream API message.
    const onEvent = (_e: unknown, m: Msg) => {
      const id = m.headers?.get("ce-correlationid");
      if (!id) return;
      const t = performance.now();
      let events = seen.get(id);
      if (!events) seen.set(id, (events = new Map<string, number>()));
      if (!events.has(m.subject)) events.set(m.subject, t);
      if (m.subject === "orders.order.confirmed" || m.subject === "orders.order.cancelled") {
        done.set(id, t);
        for (const w of terminalWaiters.splice(0)) w();
      }
    };
    for (const prefix of ["orders", "inventory", "billing", "saga"])
      nc.subscribe(`${prefix}.>`, { callback: onEvent });
    await nc.flush();

    let n = 0;
    const post = async () => {
      const i = n++;
      const started = performance.now();
      const res = await fetch(`${urls.order}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          customerId: `cust-${i % 20}`,
          items: [{ sku: `sku-${i % 10}`, quantity: 1, unitPriceCents: 100 }],
        }),
      });
      const { orderId } = (await res.json()) as { orderId: string };
      return { orderId, started };
    };
    const untilDone = async (ids: string[], timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (ids.some((id) => !done.has(id)) && Date.now() < deadline) {
        await new Promise<void>((r) => {
          terminalWaiters.push(r);
          setTimeout(r, 200);
        });
      }
    };

    // Warm-up: JIT (V8 is still compiling the hot paths after the first few hundred orders),
    // connection pools, prepared statements, consumers. WARMUP orders, 32 in flight.
    let warmed = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (warmed++ < WARMUP) await untilDone([(await post()).orderId], 30_000);
      }),
    );

    // Steady rates: the flow, then the floor at the same rate.
    const floor = await startFloor(nats.url, pg.url, suffix);
    const steadyRun = async (rate: number) => {
      const steady = await atSteadyRate(rate, STEADY_S, post);
      await untilDone(
        steady.map((o) => o.orderId),
        60_000,
      );
      const latencies = steady
        .filter((o) => done.has(o.orderId))
        .map((o) => done.get(o.orderId)! - o.started);
      const hops = (from: string, to: string) =>
        steady
          .map((o) => {
            const e = seen.get(o.orderId);
            const a = from === "POST" ? o.started : e?.get(from);
            const b = e?.get(to);
            return a !== undefined && b !== undefined ? b - a : undefined;
          })
          .filter((x): x is number => x !== undefined);
      const hopTable = [
        ["POST → order.created in stream", "POST", "orders.order.created"],
        ["order.created → inventory.reserved", "orders.order.created", "inventory.reservation.reserved"],
        ["order.created → payment.charged", "orders.order.created", "billing.payment.charged"],
        ["payment.charged → approve requested", "billing.payment.charged", "saga.order.approve"],
        ["approve requested → order.confirmed", "saga.order.approve", "orders.order.confirmed"],
      ].map(([label, a, b]) => {
        const xs = hops(a!, b!);
        return { hop: label!, p50: round(pct(xs, 50)), p99: round(pct(xs, 99)) };
      });
      const flow = {
        rate,
        seconds: STEADY_S,
        orders: steady.length,
        completed: latencies.length,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: round(Math.max(...latencies)),
      };
      const floorResult: FloorResult = await floor.run(rate, STEADY_S, 200);
      return {
        flow,
        floor: floorResult,
        ratio: { p50: round(flow.p50Ms / floorResult.p50Ms), p99: round(flow.p99Ms / floorResult.p99Ms) },
        hopTable,
      };
    };
    const steadyRuns = [];
    for (const rate of RATES) steadyRuns.push(await steadyRun(rate));
    await floor.close();
    const last = steadyRuns[steadyRuns.length - 1]!;
    const hopTable = last.hopTable;

    // Where the CPU goes during saturation: each process of the system, PostgreSQL by database.
    const admin = new pgClient.Client({ connectionString: pg.url });
    await admin.connect();
    const cpuSnapshot = async (): Promise<Map<string, number>> => {
      const out = new Map<string, number>();
      if (!existsSync("/proc/self/stat")) return out;
      children.forEach((c, i) => out.set(services[i]!.name, cpuSeconds(c.pid!)));
      out.set("nats-server", nats.pid ? cpuSeconds(nats.pid) : 0);
      const usage = process.cpuUsage();
      out.set("benchmark driver", (usage.user + usage.system) / 1e6);
      const { rows } = await admin.query<{ pid: number; datname: string }>(
        "SELECT pid, datname FROM pg_stat_activity WHERE datname LIKE $1",
        [`bench_%_${suffix}`],
      );
      for (const r of rows) {
        const key = `postgres: ${r.datname.replace(/^bench_|_[^_]+$/g, "")}`;
        out.set(key, (out.get(key) ?? 0) + cpuSeconds(r.pid));
      }
      return out;
    };

    // Saturation: a fixed number of orders with a bounded number in flight (POST to terminal).
    const cpuBefore = await cpuSnapshot();
    const satIds: string[] = [];
    const s0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < SATURATION_ORDERS) {
          next++;
          const { orderId } = await post();
          satIds.push(orderId);
          await untilDone([orderId], 60_000);
        }
      }),
    );
    const satSeconds = (performance.now() - s0) / 1000;
    const completed = satIds.filter((id) => done.has(id)).length;
    const cpuAfter = await cpuSnapshot();
    await admin.end();
    // Backends are summed per database; one that ended during the run is missed (pools keep theirs).
    const cpuPerSaga = [...cpuAfter]
      .map(([process, s]) => ({
        process,
        msPerSaga: round(((s - (cpuBefore.get(process) ?? 0)) * 1000) / completed),
      }))
      .sort((a, b) => b.msPerSaga - a.msPerSaga);

    const result = {
      machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
      tracing: otlp
        ? { exports: otlp.requests.length, bytes: otlp.requests.reduce((n, r) => n + r.body.length, 0) }
        : false,
      warmupOrders: WARMUP,
      // The last rate's run (100/s by default), as before the floor existed.
      steady: last.flow,
      floorHops: 5,
      byRate: steadyRuns.map(({ flow, floor, ratio }) => ({ rate: flow.rate, flow, floor, ratio })),
      saturation: {
        orders: SATURATION_ORDERS,
        inFlight: IN_FLIGHT,
        completed,
        seconds: round(satSeconds),
        sagasPerSecond: round(completed / satSeconds),
      },
      hops: hopTable,
      cpuPerSaga,
    };
    console.log(
      `\nsteady rates, ${STEADY_S} s each: the flow (POST → terminal) against the floor (5 bare hops)`,
    );
    console.table(
      steadyRuns.map(({ flow, floor: f, ratio }) => ({
        "orders/s": flow.rate,
        "flow p50": flow.p50Ms,
        "flow p99": flow.p99Ms,
        "floor p50": f.p50Ms,
        "floor p99": f.p99Ms,
        "ratio p50": ratio.p50,
        "ratio p99": ratio.p99,
        completed: `${flow.completed}/${flow.orders}, ${f.completed}/${f.chains}`,
      })),
    );
    console.log(
      `saturation (${IN_FLIGHT} in flight): ${result.saturation.sagasPerSecond} completed sagas/s (${completed} in ${result.saturation.seconds} s)`,
    );
    console.table(hopTable);
    if (cpuPerSaga.length) {
      const total = round(cpuPerSaga.reduce((a, b) => a + b.msPerSaga, 0));
      console.log(`CPU per completed saga at saturation: ${total} ms`);
      console.table(cpuPerSaga);
    }
    mkdirSync(join(root, "bench-results"), { recursive: true });
    writeFileSync(join(root, "bench-results", `${OUT}.json`), JSON.stringify(result, null, 2));
    console.log(`wrote ${join(root, "bench-results", `${OUT}.json`)}`);
    await nc.close();
  } finally {
    await system.stop();
    await nats.stop();
    await pg.stop();
    await otlp?.close();
  }
}

await main();

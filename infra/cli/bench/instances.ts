/**
 * One instance of every service against two (`npm run bench:instances`), in one run: for each count,
 * the four services as separate processes (N of each, sharing their databases and durables) over
 * one private nats-server and PostgreSQL, fresh databases per count. Measures POST → terminal
 * p50/p99 at a fixed rate and completed sagas/s at saturation. Orders go to the order instances in
 * turn. Prints a table and writes bench-results/instances.json. Not a test: figures depend on the
 * machine (two cores shared by every process here cap what a second instance can add).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { NatsServer, resolvePostgres } from "@orderflow/testing";
import { percentile } from "./floor.js";
import { atSteadyRate, root, startOrderServices } from "./order-services.js";

const COUNTS = (process.env.BENCH_INSTANCES ?? "1,2").split(",").map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const STEADY_S = Number(process.env.BENCH_SECONDS ?? 10);
const SATURATION_ORDERS = Number(process.env.BENCH_SATURATION ?? 2000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 64);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const round = (n: number) => Math.round(n * 100) / 100;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-bench-instances-"));
  const nats = await NatsServer.spawn({ storeDir: join(dir, "nats") });
  const pg = await resolvePostgres({ dataDir: dir });
  const nc = await connect({ servers: nats.url });
  // When each order reached its terminal event (a plain subscription to the order stream's subjects).
  const done = new Map<string, number>();
  const waiters: (() => void)[] = [];
  nc.subscribe("orders.order.*", {
    callback: (_e, m) => {
      if (!/\.(confirmed|cancelled)$/.test(m.subject)) return;
      const id = m.headers?.get("ce-correlationid");
      if (id && !done.has(id)) done.set(id, performance.now());
      for (const w of waiters.splice(0)) w();
    },
  });
  await nc.flush();
  const untilDone = async (ids: readonly string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (ids.some((id) => !done.has(id)) && Date.now() < deadline)
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
  };

  const results = [];
  try {
    for (const count of COUNTS) results.push(await measure(count));
  } finally {
    await nc.close();
    await nats.stop();
    await pg.stop();
  }
  console.log(
    `\n1 vs 2 instances: POST → terminal at ${RATE}/s for ${STEADY_S} s, and saturation (${SATURATION_ORDERS} orders, ${IN_FLIGHT} in flight)`,
  );
  console.table(
    results.map((r) => ({
      instances: r.instances,
      "p50 ms": r.steady.p50Ms,
      "p99 ms": r.steady.p99Ms,
      completed: `${r.steady.completed}/${r.steady.orders}`,
      "sagas/s": r.saturation.sagasPerSecond,
    })),
  );
  mkdirSync(join(root, "bench-results"), { recursive: true });
  const file = join(root, "bench-results", "instances.json");
  const machine = { cpus: cpus().length, node: process.version };
  writeFileSync(file, JSON.stringify({ machine, warmupOrders: WARMUP, results }, null, 2));
  console.log(`wrote ${file}`);

  async function measure(count: number) {
    const suffix = `${Date.now().toString(36)}_${count}`;
    const system = await startOrderServices({ natsUrl: nats.url, pgUrl: pg.url, suffix, instances: count });
    const { urls } = system;
    try {
      let n = 0;
      const post = async () => {
        const i = n++;
        const started = performance.now();
        const res = await fetch(`${urls.order![i % count]}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            customerId: `cust-${i % 20}`,
            // Two SKUs, in either order: the instances lock shared stock rows.
            items: [
              { sku: `sku-${i % 10}`, quantity: 1, unitPriceCents: 100 },
              { sku: `sku-${(i + 1 + (i % 3)) % 10}`, quantity: 1, unitPriceCents: 100 },
            ],
          }),
        });
        const { orderId } = (await res.json()) as { orderId: string };
        return { orderId, started };
      };
      const closedLoop = async (orders: number) => {
        const ids: string[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (next++ < orders) {
              const { orderId } = await post();
              ids.push(orderId);
              await untilDone([orderId], 60_000);
            }
          }),
        );
        return ids;
      };

      await closedLoop(WARMUP);
      // A fixed rate: latency.
      const steady = await atSteadyRate(RATE, STEADY_S, post);
      await untilDone(
        steady.map((o) => o.orderId),
        60_000,
      );
      const latencies = steady
        .filter((o) => done.has(o.orderId))
        .map((o) => done.get(o.orderId)! - o.started);
      // Saturation: completed sagas per second with IN_FLIGHT orders in flight.
      const s0 = performance.now();
      const ids = await closedLoop(SATURATION_ORDERS);
      const seconds = (performance.now() - s0) / 1000;
      const completed = ids.filter((id) => done.has(id)).length;
      return {
        instances: count,
        steady: {
          rate: RATE,
          seconds: STEADY_S,
          orders: steady.length,
          completed: latencies.length,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
        },
        saturation: {
          orders: SATURATION_ORDERS,
          inFlight: IN_FLIGHT,
          completed,
          seconds: round(seconds),
          sagasPerSecond: round(completed / seconds),
        },
      };
    } finally {
      await system.stop();
    }
  }
}

await main();

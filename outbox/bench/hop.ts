import { catalog } from "@orderflow/contracts";
/**
 * One hop of the order flow, timed by stage (`npm run bench:hop` in outbox/): an order.created is
 * published as the order service's relay would; a consumer applies it and emits an event; the relay
 * publishes that. Also a plain pull consumer on the same stream, for what JetStream alone costs.
 * At a low steady rate (RATE, default 20/s; N events): the latency floor of a hop, not throughput.
 */
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { publish, testDatabase, testNats } from "@orderflow/testing";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import {
  createConsumer,
  createOutbox,
  createRelay,
  ensureStreams,
  migrate,
  PreparingClient,
  type AnyDb,
} from "../src/index.js";

const N = Number(process.env.N ?? 200);
const RATE = Number(process.env.RATE ?? 20);

await using nats = await testNats();
await using database = await testDatabase("hop");
const nc = await connect({ servers: nats.url, noAsyncTraces: true }); // as the service host
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
await ensureStreams(jsm, { streams: catalog.streams });
const pool = new pg.Pool({ connectionString: database.url, max: 8, Client: PreparingClient });
const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
await migrate(db);

interface Times {
  published: number;
  raw?: number;
  handler?: number;
  committed?: number;
  out?: number;
}
const times = new Map<string, Times>();
const at = (orderId: string) => times.get(orderId)!;
const consumer = createConsumer({
  catalog,
  name: "hop",
  db,
  js,
  jsm,
  outbox: createOutbox({ catalog, source: "/orderflow/inventory" }),
  handlers: {
    "order.created": async (e, ctx) => {
      at(e.data.orderId).handler = performance.now();
      await ctx.emit("inventory.rejected", { orderId: e.data.orderId, sku: "a", reason: "OUT_OF_STOCK" });
    },
  },
  afterCommit: (e) => void (at(e.correlationId).committed = performance.now()),
});
await consumer.start();
const relay = createRelay({ connectionString: database.url, js });
relay.start();
await jsm.consumers.add("ORDERS", { durable_name: "raw", ack_policy: AckPolicy.Explicit });
const raw = await (await js.consumers.get("ORDERS", "raw")).consume({ max_messages: 100 });
void (async () => {
  for await (const m of raw) {
    at(decodeURIComponent(m.headers!.get("ce-correlationid"))).raw = performance.now();
    m.ack();
  }
})();
nc.subscribe("inventory.>", {
  callback: (_e, m) =>
    void (at(decodeURIComponent(m.headers!.get("ce-correlationid"))).out = performance.now()),
});

for (let i = 0; i < N; i++) {
  const orderId = `o-${i}`;
  times.set(orderId, { published: performance.now() });
  const data = {
    orderId,
    customerId: "c",
    items: [{ sku: "a", quantity: 1, unitPriceCents: 1 }],
    totalCents: 1,
    currency: "USD",
  };
  await publish(js, catalog, "order.created", data, { correlationId: orderId });
  await new Promise((r) => setTimeout(r, 1000 / RATE));
}
const done = [...times.values()].filter(
  (t): t is Required<Times> => t.out !== undefined && t.raw !== undefined,
);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * (xs.length - 1))]!.toFixed(2);
console.log(`${done.length}/${N} hops at ${RATE}/s, ms:`);
const stages: [string, (t: Required<Times>) => number][] = [
  ["publish → plain consumer", (t) => t.raw - t.published],
  ["publish → handler start", (t) => t.handler - t.published],
  ["handler start → commit", (t) => t.committed - t.handler],
  ["commit → emitted in stream", (t) => t.out - t.committed],
  ["hop total", (t) => t.out - t.published],
];
console.table(
  stages.map(([stage, f]) => ({
    stage,
    p50: pct(done.map(f), 50),
    p90: pct(done.map(f), 90),
    p99: pct(done.map(f), 99),
  })),
);
await raw.close();
await consumer.stop();
await relay.stop();
await db.destroy();
await nc.close();

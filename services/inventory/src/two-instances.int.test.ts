import { catalog, type EventData } from "@orderflow/contracts";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  publish,
  testDatabase,
  testNats,
  waitFor,
  type TestDatabase,
  type TestNats,
} from "@orderflow/testing";
import { startService, type RunningService } from "@orderflow/host";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InventoryDb } from "./migrations.js";
import { definition } from "./service.js";

const SKUS = ["sku-a", "sku-b", "sku-c", "sku-d"];
const STOCK = 100_000;
const ORDERS = 600;
const PAIRS = [
  ["sku-a", "sku-b"],
  ["sku-d", "sku-c"],
  ["sku-c", "sku-d"],
  ["sku-b", "sku-a"],
];

// Two instances on one durable, each applying batches that lock the same stock rows: without
// `lockBatch` (rows locked across a batch in the order its orders come) they deadlock within seconds.
describe("two inventory instances on one database", () => {
  let nats: TestNats;
  let database: TestDatabase;
  const instances: RunningService<InventoryDb>[] = [];
  let nc: NatsConnection;
  const logs: string[] = [];

  beforeAll(async () => {
    nats = await testNats();
    database = await testDatabase("inventory");
    for (let i = 0; i < 2; i++) {
      instances.push(
        await startService(definition, {
          env: {
            NATS_URL: nats.url,
            DATABASE_URL: process.env.DATABASE_URL,
            INVENTORY_DATABASE_URL: database.url,
            INVENTORY_PORT: "0",
            LOG_LEVEL: "silent",
            RELAY_POLL_MS: "100",
          },
          logger: pino({ level: "warn" }, { write: (line: string) => void logs.push(line) }),
        }),
      );
    }
    nc = await connect({ servers: nats.url });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    for (const s of instances.splice(0)) await s.stop();
    await nats?.[Symbol.asyncDispose]();
    await database?.[Symbol.asyncDispose]();
  }, 30_000);

  const deadlocks = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ deadlocks: string }>(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
      );
      return Number(rows[0]!.deadlocks);
    } finally {
      await client.end();
    }
  };

  it("applies multi-SKU orders with their SKUs in opposite orders concurrently: no deadlock, stock conserved", async () => {
    const db = instances[0]!.db;
    await db
      .insertInto("stock")
      .values(SKUS.map((sku) => ({ sku, available: STOCK, reserved: 0 })))
      .execute();
    const before = await deadlocks();
    const js = jetstream(nc);
    const published: Promise<string>[] = [];
    for (let i = 0; i < ORDERS; i++) {
      // Pairs whose SKUs come in opposite orders: a batch holds the rows of its first orders while
      // it locks those of the next, so batches of two instances cross unless locked in one order.
      const skus = PAIRS[i % PAIRS.length]!;
      const data: EventData<"order.created"> = {
        orderId: `order-${i}`,
        customerId: "alice",
        items: skus.map((sku) => ({ sku, quantity: 1, unitPriceCents: 100 })),
        totalCents: 200,
        currency: "USD",
      };
      published.push(publish(js, catalog, "order.created", data, { correlationId: data.orderId }));
    }
    await Promise.all(published);
    const reserved = async () =>
      Number(
        (await sql<{ n: string }>`SELECT count(DISTINCT order_id) AS n FROM reservations`.execute(db))
          .rows[0]!.n,
      );
    await waitFor("every order reserved", async () => (await reserved()) === ORDERS, { timeoutMs: 60_000 });

    expect(logs.filter((l) => /deadlock/i.test(l))).toEqual([]);
    const stock = await db.selectFrom("stock").selectAll().orderBy("sku").execute();
    expect(stock).toEqual(SKUS.map((sku) => ({ sku, available: STOCK - ORDERS / 2, reserved: ORDERS / 2 })));
    // Both instances did some of the work.
    const consumed = await Promise.all(
      instances.map(async (s) => {
        const res = await fetch(`${s.url}/metrics`);
        const text = await res.text();
        return Number(
          /orderflow_consumer_messages_total\{[^}]*result="applied"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0,
        );
      }),
    );
    expect(consumed.every((n) => n > 0)).toBe(true);
    // A backend reports its deadlocks to pg_stat_database when idle or at exit: stop the instances.
    for (const s of instances.splice(0)) await s.stop();
    expect(await deadlocks()).toBe(before);
  }, 90_000);
});

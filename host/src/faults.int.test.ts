import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { defineCatalog, defineEvent, mergeCatalogs, newEventId } from "@orderflow/events";
import { publish, testDatabase, testNats, testPostgres, waitFor } from "@orderflow/testing";
import { sql, type Kysely } from "kysely";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineService, startService, type RunningService } from "./index.js";

const orders = defineCatalog({
  typePrefix: "orderflow",
  events: [
    defineEvent({
      name: "order.confirmed",
      context: "orders",
      aggregate: "order",
      event: "confirmed",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
  ],
});
const shipping = defineCatalog({
  typePrefix: "com.acme.shipping",
  events: [
    defineEvent({
      name: "shipment.requested",
      context: "shipping",
      aggregate: "shipment",
      event: "requested",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
  ],
});

interface ShippingDb {
  shipments: { order_id: string; applied: number };
}

/** Records every order.confirmed it applies (counting applications) and emits shipment.requested. */
const shippingService = defineService<ShippingDb>()({
  name: "shipping",
  database: "shipping",
  defaultPort: 0,
  migrations: {
    "001_shipments": {
      up: (db: Kysely<unknown>) =>
        db.schema
          .createTable("shipments")
          .addColumn("order_id", "text", (c) => c.primaryKey())
          .addColumn("applied", "integer", (c) => c.notNull())
          .execute(),
    },
  },
  publishes: shipping,
  consumes: mergeCatalogs(orders, shipping),
  handlers: () => ({
    "order.confirmed": async (e, { trx, emit }) => {
      await trx
        .insertInto("shipments")
        .values({ order_id: e.data.orderId, applied: 1 })
        .onConflict((oc) => oc.column("order_id").doUpdateSet({ applied: sql`shipments.applied + 1` }))
        .execute();
      await emit("shipment.requested", e.data);
    },
  }),
  routes: (app, { db }) => {
    app.get("/shipments", async () => {
      const { count } = await db
        .selectFrom("shipments")
        .select((eb) => eb.fn.countAll<string>().as("count"))
        .executeTakeFirstOrThrow();
      return { count: Number(count) };
    });
  },
});

type Line = { level: number; msg: string; time: number };

/** A pino logger at `warn` whose lines land in `lines`. */
function capture(lines: Line[]) {
  return pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
}

const env = (natsUrl: string, databaseUrl: string) => ({
  NATS_URL: natsUrl,
  SHIPPING_DATABASE_URL: databaseUrl,
  SHIPPING_PORT: "0",
  RELAY_POLL_MS: "100",
  CONSUMER_BACKOFF_MS: "50",
});

describe("faults under a running service", () => {
  it.each(["killed", "stalled"] as const)(
    "stops within seconds with PostgreSQL %s, and loses nothing: after a restart each message is applied once",
    async (fault) => {
      await using nats = await testNats();
      await using pgx = await testPostgres();
      const url = await pgx.database("shipping");
      const lines: Line[] = [];
      let svc: RunningService<ShippingDb> | undefined = await startService(shippingService, {
        env: env(nats.url, url),
        logger: capture(lines),
      });
      const nc = await connect({ servers: nats.url });
      try {
        const js = jetstream(nc);
        const N = 400;
        const ids = Array.from({ length: N }, (_, i) => `order-${i}`);
        // Published in a stream, so that the service is applying some while PostgreSQL dies.
        let published = 0;
        const publishing = (async () => {
          for (const orderId of ids) {
            await publish(
              js,
              orders,
              "order.confirmed",
              { orderId },
              { correlationId: orderId, id: newEventId() },
            );
            published++;
            if (published % 20 === 0) await new Promise((r) => setTimeout(r, 10));
          }
        })();
        const applied = async () =>
          Number((await sql<{ n: string }>`SELECT count(*) AS n FROM shipments`.execute(svc!.db)).rows[0]!.n);
        await waitFor("some applied", async () => (await applied()) >= 50, { timeoutMs: 20_000 });
        // killed: connections drop and connecting is refused; stalled (SIGSTOP): nothing answers at all.
        if (fault === "killed") await pgx.server.kill();
        else pgx.server.pause();
        await publishing;

        const started = Date.now();
        await svc.stop();
        const stopMs = Date.now() - started;
        svc = undefined;
        expect(stopMs).toBeLessThan(5000);

        if (fault === "killed") await pgx.server.restart();
        else pgx.server.resume();
        svc = await startService(shippingService, { env: env(nats.url, url), logger: capture(lines) });
        await waitFor("every message applied", async () => (await applied()) === N, { timeoutMs: 30_000 });
        const twice = await sql<{
          n: string;
        }>`SELECT count(*) AS n FROM shipments WHERE applied <> 1`.execute(svc.db);
        expect(Number(twice.rows[0]!.n)).toBe(0);
        // What was committed is published: one shipment.requested per order (deduplicated by event id).
        const jsm = await jetstreamManager(nc);
        await waitFor("every shipment.requested published", async () => {
          const { state } = await jsm.streams.info("SHIPPING");
          return state.messages === N;
        });
        expect((await jsm.streams.info("DLQ")).state.messages).toBe(0);
      } finally {
        pgx.server.resume();
        await nc.close();
        await svc?.stop();
      }
    },
    90_000,
  );

  it("answers 503 with Retry-After while PostgreSQL is down, logs the outage boundedly, and recovers", async () => {
    await using nats = await testNats();
    await using pgx = await testPostgres();
    const lines: Line[] = [];
    const svc = await startService(shippingService, {
      env: env(nats.url, await pgx.database("shipping")),
      logger: capture(lines),
    });
    const nc = await connect({ servers: nats.url });
    try {
      const js = jetstream(nc);
      const get = () => fetch(`${svc.url}/shipments`);
      expect((await get()).status).toBe(200);

      const outageStart = Date.now();
      await pgx.server.stop();
      const answer = await get();
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("5");
      expect(await answer.json()).toEqual({ error: "database unavailable", issues: [] });
      // Six seconds of outage with work for every loop: requests, and messages the consumer must retry.
      for (let i = 0; i < 30; i++)
        await publish(js, orders, "order.confirmed", { orderId: `o-${i}` }, { correlationId: `o-${i}` });
      let answers = 0;
      while (Date.now() - outageStart < 6000) {
        const r = await get();
        expect(r.status).toBe(503);
        answers++;
        await new Promise((r) => setTimeout(r, 50));
      }
      const during = lines.filter((l) => l.time >= outageStart);
      // One line per loop when the outage starts (service, relay, consumer), none per failure.
      expect(answers).toBeGreaterThan(20);
      expect(during.length, JSON.stringify(during.map((l) => l.msg))).toBeLessThanOrEqual(6);
      expect(during.map((l) => l.msg)).toEqual(
        expect.arrayContaining(["service: database unavailable", "consumer: database unavailable"]),
      );

      await pgx.server.restart();
      await waitFor("the route answering again", async () => (await get()).status === 200, {
        timeoutMs: 20_000,
      });
      await waitFor("every message applied", async () => {
        const { count } = (await (await get()).json()) as { count: number };
        return count === 30;
      });
      await waitFor("the recovery logged", () =>
        lines.some((l) => /^consumer: database reachable again after [\d.]+ s$/.test(l.msg)),
      );
      expect(lines.some((l) => l.msg.startsWith("service: database reachable again after"))).toBe(true);
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      await nc.close();
      await svc.stop();
    }
  }, 60_000);

  it("answers /readyz 503 naming NATS within a bound while nats-server is stalled, and 200 once it goes on", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("faults");
    const svc = await startService(shippingService, {
      env: env(nats.url, database.url),
      logger: pino({ level: "silent" }),
    });
    const pid = nats.server.pid!;
    try {
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
      process.kill(pid, "SIGSTOP");
      const started = Date.now();
      const r = await fetch(`${svc.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      const elapsed = Date.now() - started;
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ status: "not ready", checks: { database: true, nats: false } });
      expect(elapsed).toBeLessThan(2000);
      // Liveness touches neither NATS nor the database.
      const healthz = await fetch(`${svc.url}/healthz`, { signal: AbortSignal.timeout(1000) });
      expect(await healthz.json()).toEqual({ status: "ok" });

      process.kill(pid, "SIGCONT");
      await waitFor("ready again", async () => (await fetch(`${svc.url}/readyz`)).status === 200);
    } finally {
      process.kill(pid, "SIGCONT");
      await svc.stop();
    }
  }, 30_000);
});

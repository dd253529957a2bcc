import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { definition as billing } from "@orderflow/billing";
import { catalog } from "@orderflow/contracts";
import { definition as inventory } from "@orderflow/inventory";
import { definition as order } from "@orderflow/order";
import {
  createConsumer,
  createOutbox,
  DeadLetters,
  migrate,
  openDatabase,
  PermanentError,
  readStream,
  rebuildDatabase,
  Topology,
} from "@orderflow/outbox";
import { definition as saga } from "@orderflow/saga";
import { testDatabase, waitFor } from "@orderflow/testing";
import { sql, type Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { rebuildOptions } from "../recovery/context.js";
import { http, listPrices, quiesce, startSystem } from "./system.js";

/** Every table of the database, rows in a stable order; the runtime's clocks and the migrator's left out. */
async function everyTable(url: string): Promise<Record<string, unknown[]>> {
  await using db = openDatabase({ connectionString: url, max: 1 });
  const { rows: tables } = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%' ORDER BY 1`.execute(db);
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) {
    // The rebuild records its events as published now, and only the inputs that caused an event;
    // retention horizons are bookkeeping (the rebuilt inbox's is the rebuild's time).
    if (name === "orderflow_inbox" || name === "orderflow_retention") continue;
    const query =
      name === "orderflow_outbox"
        ? "SELECT event_id, subject, payload FROM orderflow_outbox ORDER BY event_id"
        : `SELECT * FROM ${name}`;
    const rows = (await sql.raw(query).execute(db)).rows.map((r) => JSON.stringify(r));
    out[name] = rows.sort().map((r) => JSON.parse(r) as unknown);
  }
  return out;
}

describe("dlq redrive, then rebuild", () => {
  it("delivers a redriven inventory event to the consumer that failed it alone, once, and rebuild folds it once", async () => {
    await using sys = await startSystem([order, inventory, billing, saga]);
    const nc = await connect({ servers: sys.nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const topology = new Topology();

    // Another consumer of inventory's events, which fails the first `inventory.reserved` for good.
    await using auditDb = await testDatabase("audit");
    await using db = openDatabase({ connectionString: auditDb.url, max: 2 });
    await migrate(db);
    await sql`CREATE TABLE audit (event_id uuid NOT NULL, order_id text NOT NULL)`.execute(db);
    let failing: string | undefined;
    let fixed = false;
    const auditor = createConsumer({
      name: "auditor",
      catalog,
      db: db as Kysely<unknown>,
      js,
      jsm,
      outbox: createOutbox({ catalog, source: "/test/auditor" }),
      handlers: {
        "inventory.reserved": async (e, { trx }) => {
          if (!fixed && (failing ??= e.id) === e.id) throw new PermanentError("auditor bug");
          await sql`INSERT INTO audit VALUES (${e.id}, ${e.data.orderId})`.execute(trx);
        },
      },
    });
    await auditor.start();
    try {
      await listPrices(sys.url("order"), { a: 100 });
      await http("PUT", `${sys.url("inventory")}/stock/a`, { available: 10 });
      await http("PUT", `${sys.url("billing")}/accounts/c1`, { balanceCents: 1000 });
      for (let i = 0; i < 4; i++)
        await http("POST", `${sys.url("order")}/orders`, {
          customerId: "c1",
          items: [{ sku: "a", quantity: 1, unitPriceCents: 100 }],
        });
      const dlq = new DeadLetters({ js, jsm, topology, catalog });
      await waitFor("the auditor's dead letter", async () => (await dlq.list()).length === 1);
      await quiesce(jsm, sys.services);
      const [letter] = await dlq.list();
      expect(letter).toMatchObject({ consumer: "auditor", stream: "INVENTORY", eventId: failing });
      const inventoryMessages = (await jsm.streams.info("INVENTORY")).state.messages;
      const sagaDelivered = (await jsm.consumers.info("INVENTORY", "saga")).delivered.consumer_seq;

      fixed = true;
      await dlq.redrive(letter!.id);
      await waitFor("the auditor applied the redriven event", async () => {
        const { rows } = await sql`SELECT 1 FROM audit WHERE event_id = ${failing}`.execute(db);
        return rows.length === 1;
      });
      await quiesce(jsm, sys.services);
      const { rows: audited } = await sql<{
        event_id: string;
        n: number;
      }>`SELECT event_id, count(*)::int AS n FROM audit GROUP BY 1`.execute(db);
      expect(audited).toHaveLength(4);
      expect(audited.every((r) => r.n === 1)).toBe(true);
      // Nobody else saw it again: INVENTORY holds each event once, the saga was delivered nothing new.
      expect((await jsm.streams.info("INVENTORY")).state.messages).toBe(inventoryMessages);
      const ids: string[] = [];
      await readStream({ js, jsm, stream: "INVENTORY", headersOnly: true }, (m) => {
        ids.push(m.headers?.get("ce-id") ?? "");
      });
      expect(new Set(ids).size).toBe(ids.length);
      expect((await jsm.consumers.info("INVENTORY", "saga")).delivered.consumer_seq).toBe(sagaDelivered);
      expect((await jsm.consumers.info("DLQ", "saga")).delivered.consumer_seq).toBe(0);
      expect(await dlq.list()).toEqual([]);

      const url = sys.services.inventory!.config.databaseUrl;
      const before = await everyTable(url);
      expect(Object.keys(before)).toEqual(
        expect.arrayContaining(["orderflow_outbox", "reservations", "stock"]),
      );
      const result = await rebuildDatabase({
        ...(await rebuildOptions(inventory)),
        connectionString: url,
        nc,
        js,
        jsm,
        topology,
      });
      expect(result.coordinated).toBe(true);
      expect(await everyTable(url)).toEqual(before);
      await using rebuilt = openDatabase({ connectionString: url, max: 1 });
      const { rows: horizon } = await sql`SELECT 1 FROM orderflow_retention WHERE name = 'inbox'`.execute(
        rebuilt,
      );
      expect(horizon).toHaveLength(1);
    } finally {
      await auditor.stop();
      await nc.close();
    }
  }, 120_000);
});

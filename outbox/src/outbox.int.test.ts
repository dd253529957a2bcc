import { catalog } from "@orderflow/contracts";
import { sql } from "kysely";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { waitFor } from "@orderflow/testing";
import { rig, countRows } from "../test/fixture.js";
import { createConsumer, createOutbox, createRelay, executeTogether, PermanentError } from "./index.js";

const order = (i: number) => ({
  orderId: `o-${i}`,
  customerId: "c-1",
  items: [{ sku: "s", quantity: 1, unitPriceCents: 100 }],
  totalCents: 100,
  currency: "USD",
});

describe("outbox → relay → JetStream → consumer", () => {
  it("publishes exactly the committed events and applies each once", async () => {
    await using r = await rig();
    const outbox = createOutbox({ catalog, source: "/orderflow/test" });
    for (let i = 0; i < 50; i++) {
      await r.db.transaction().execute(async (trx) => {
        await outbox.enqueue(trx, "order.created", order(i), { correlationId: `o-${i}` });
      });
    }
    // A rolled-back transaction leaves no event behind.
    await expect(
      r.db.transaction().execute(async (trx) => {
        await outbox.enqueue(trx, "order.created", order(999), { correlationId: "o-999" });
        throw new Error("business rule failed");
      }),
    ).rejects.toThrow("business rule failed");

    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js, pollIntervalMs: 60_000 });
    relay.start();
    await waitFor("50 events in ORDERS", async () => (await r.streamCount("ORDERS")) === 50);
    await waitFor("outbox marked", async () => (await countRows(r.db, "published_at IS NULL")) === 0);

    // Committed later: NOTIFY wakes the relay long before its 60 s poll.
    await r.db
      .transaction()
      .execute((trx) => outbox.enqueue(trx, "order.created", order(50), { correlationId: "o-50" }));
    await waitFor("51st event", async () => (await r.streamCount("ORDERS")) === 51, { timeoutMs: 5000 });

    await sql`CREATE TABLE effects (order_id text PRIMARY KEY, n int NOT NULL DEFAULT 1)`.execute(r.db);
    const consumer = createConsumer({
      catalog,
      name: "test",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      handlers: {
        "order.created": async (e, { trx, emit }) => {
          await sql`INSERT INTO effects (order_id) VALUES (${e.data.orderId})
                    ON CONFLICT (order_id) DO UPDATE SET n = effects.n + 1`.execute(trx);
          await emit("order.confirmed", {
            orderId: e.data.orderId,
            customerId: e.data.customerId,
            totalCents: 1,
          });
        },
      },
    });
    await consumer.start();
    await waitFor("51 effects", async () => {
      const n = (await sql<{ n: string }>`SELECT count(*) AS n FROM effects`.execute(r.db)).rows[0]!.n;
      return Number(n) === 51;
    });
    await waitFor("51 confirmations published", async () => (await r.streamCount("ORDERS")) === 102);
    const doubled = await sql`SELECT 1 FROM effects WHERE n <> 1`.execute(r.db);
    expect(doubled.rows).toHaveLength(0);
    await consumer.stop();
    await relay.stop();
  }, 30_000);

  it("dead-letters poison and permanently failing messages without blocking the rest", async () => {
    await using r = await rig();
    const outbox = createOutbox({ catalog, source: "/orderflow/test" });
    const seen: string[] = [];
    const consumer = createConsumer({
      catalog,
      name: "dlqtest",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      maxDeliver: 3,
      backoffMs: 10,
      handlers: {
        "order.created": async (e) => {
          if (e.data.orderId === "o-perm") throw new PermanentError("customer is blocked");
          if (e.data.orderId === "o-flaky") throw new Error("always fails");
          seen.push(e.data.orderId);
        },
      },
    });
    await consumer.start();
    r.nc.publish("orders.order.created", new TextEncoder().encode("{not json"));
    for (const id of ["o-perm", "o-flaky", "o-ok"]) {
      await r.db
        .transaction()
        .execute((trx) => outbox.enqueue(trx, "order.created", { ...order(0), orderId: id }));
    }
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await waitFor("o-ok applied", () => seen.includes("o-ok"));
    await waitFor("3 dead letters", async () => (await r.streamCount("DLQ")) === 3);
    const codes: string[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const m = await r.jsm.streams.getMessage("DLQ", { seq });
      codes.push(m!.header.get("Orderflow-Dlq-Code"));
    }
    expect(codes.sort()).toEqual(["MAX_DELIVERIES", "MISSING_HEADER", "PERMANENT"]);
    await consumer.stop();
    await relay.stop();
  }, 30_000);

  it("writes a business row and its event in one statement, both or neither", async () => {
    await using r = await rig();
    const outbox = createOutbox({ catalog, source: "/orderflow/test" });
    const row = outbox.prepare("order.created", order(1), { correlationId: "o-1" });
    const inbox = (id: string) =>
      sql`INSERT INTO orderflow_inbox (consumer, event_id) VALUES ('t', ${id}::uuid)`;
    await executeTogether(r.db, [inbox(row.id), outbox.insertStatement([row])]);
    expect(await countRows(r.db, "true")).toBe(1);

    // The last query fails (the inbox row exists): the outbox row of the first is not written either.
    const other = outbox.prepare("order.created", order(2), { correlationId: "o-2" });
    await expect(executeTogether(r.db, [outbox.insertStatement([other]), inbox(row.id)])).rejects.toThrow(
      /duplicate key/,
    );
    expect(await countRows(r.db, "true")).toBe(1);
    expect(() => outbox.insertStatement([])).toThrow(RangeError);
  });
  it("sends each row's headers as stored, with Nats-Msg-Id = event id; refuses a header NATS cannot carry", async () => {
    await using r = await rig();
    const outbox = createOutbox({ catalog, source: "/orderflow/test" });
    const row = outbox.prepare("order.created", order(1), { correlationId: "o-1" });
    const extra = { ...row.headers, "x-unicode": "ünïcødé ✓", "Nats-Msg-Id": "not-the-event-id" };
    // The second row's value smuggles a line of its own; it must never reach the stream.
    const bad = outbox.prepare("order.created", order(2), { correlationId: "o-2" });
    const smuggling = { ...bad.headers, "x-note": "fine\r\nce-type: forged" };
    const insert = (id: string, headers: object, payload: Uint8Array) =>
      sql`INSERT INTO orderflow_outbox (event_id, subject, headers, payload)
          VALUES (${id}, ${row.subject}, ${JSON.stringify(headers)}::jsonb, ${Buffer.from(payload)})`.execute(
        r.db,
      );
    await insert(row.id, extra, row.payload);
    await insert(bad.id, smuggling, bad.payload);
    const failures: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void failures.push(line) });
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js, pollIntervalMs: 60_000, logger });
    relay.start();
    await waitFor(
      "the good row published",
      async () => (await countRows(r.db, "published_at IS NOT NULL")) === 1,
    );
    await waitFor("the bad row refused", () => failures.some((l) => l.includes("cannot carry")));
    // Refused every round, but reported once: the log is not flooded while the other rows flow.
    for (let i = 3; i < 6; i++) {
      await r.db
        .transaction()
        .execute((trx) => outbox.enqueue(trx, "order.created", order(i), { correlationId: `o-${i}` }));
      await waitFor(
        `order ${i} published past the refused row`,
        async () => (await r.streamCount("ORDERS")) === i - 1,
      );
    }
    expect(failures.filter((l) => l.includes("cannot carry"))).toHaveLength(1);
    await relay.stop();

    const m = await r.jsm.streams.getMessage("ORDERS", { seq: 1 });
    expect(m!.header.get("Nats-Msg-Id")).toBe(row.id);
    expect(m!.header.get("x-unicode")).toBe("ünïcødé ✓");
    for (const [k, v] of Object.entries(row.headers))
      if (k !== "Nats-Msg-Id") expect(m!.header.get(k)).toBe(v);
    expect(new TextDecoder().decode(m!.data)).toBe(new TextDecoder().decode(row.payload));
    expect(await r.streamCount("ORDERS")).toBe(4);
    expect(failures.join("")).toContain(`event ${bad.id}`);
  });
});

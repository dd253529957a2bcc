import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { publish, testDatabase, testNats } from "@orderflow/testing";
import { definition as inventory } from "@orderflow/inventory";
import { ensureStreams, migrate, openDatabase, outboxStatus, Topology } from "@orderflow/outbox";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { replay } from "./replay.js";

describe("replay", () => {
  it("applies stored events once through the service's handlers; a second replay changes nothing", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("replay");
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    const db = openDatabase<Record<string, never>>({ connectionString: database.url, max: 2 });
    try {
      await migrate(db, inventory.migrations);
      await sql`INSERT INTO stock (sku, available, reserved) VALUES ('a', 1000, 0)`.execute(db);
      const N = 1200; // more than one batch
      for (let i = 0; i < N; i++) {
        await publish(
          js,
          catalog,
          "order.created",
          {
            orderId: `o-${i}`,
            customerId: "c",
            items: [{ sku: "a", quantity: 1, unitPriceCents: 10 }],
            totalCents: 10,
            currency: "USD",
          },
          { correlationId: `o-${i}`, source: "/orderflow/order" },
        );
      }
      await js.publish("orders.order.created", new TextEncoder().encode("{not an event"));
      const env = { DATABASE_URL: database.url, INVENTORY_DATABASE_URL: database.url, NATS_URL: nats.url };
      const opts = { definition: inventory, env, js, jsm, topology: new Topology(), stream: "ORDERS" };

      const first = await replay(opts);
      expect(first).toEqual({ read: N + 1, applied: N, duplicate: 0, ignored: 0, invalid: 1, expired: 0 });
      const state = async () => {
        const { backlog, retained } = await outboxStatus(db);
        const [row] = (
          await sql<{ available: number; reserved: number; reservations: string; rejections: string }>`
            SELECT available, reserved,
                   (SELECT count(*) FROM reservations) AS reservations,
                   (SELECT count(*) FROM rejections) AS rejections
            FROM stock WHERE sku = 'a'`.execute(db)
        ).rows;
        return { ...row, emitted: String(backlog + retained) };
      };
      // 1000 units: the first 1000 orders reserve, the other 200 are rejected; each decision emitted once.
      const after = await state();
      expect(after).toEqual({
        available: 0,
        reserved: 1000,
        reservations: "1000",
        rejections: "200",
        emitted: String(N),
      });

      const second = await replay(opts);
      expect(second).toEqual({ read: N + 1, applied: 0, duplicate: N, ignored: 0, invalid: 1, expired: 0 });
      expect(await state()).toEqual(after);

      const none = await replay({ ...opts, until: new Date(0) });
      expect(none).toMatchObject({ read: N + 1, applied: 0, ignored: N + 1 });
    } finally {
      await db.destroy();
      await nc.close();
    }
  }, 60_000);
});

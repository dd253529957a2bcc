import { testDatabase } from "@orderflow/testing";
import { migrate } from "@orderflow/outbox";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrations, type SagaDb } from "./migrations.js";
import { readSaga } from "./saga-store.js";

describe("saga migrations", () => {
  it("carries sagas written under 0001 over to the state machine schema", async () => {
    await using database = await testDatabase("saga_mig");
    const db = new Kysely<SagaDb>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url }) }),
    });
    try {
      const { "0001_sagas": first } = migrations;
      await migrate(db, { "0001_sagas": first! });
      const at = new Date("2026-01-01T00:00:00Z");
      await sql`
        INSERT INTO sagas (order_id, status, inventory, payment, failures, deadline_at, created_at, updated_at) VALUES
          ('o-ok', 'APPROVING', 'RESERVED', 'CHARGED', '[]', ${at}, ${at}, ${at}),
          ('o-ko', 'CANCELLED', 'REJECTED', 'REFUNDED', '["out of stock: x"]', ${at}, ${at}, ${at})`.execute(
        db,
      );
      await sql`
        INSERT INTO saga_history (order_id, at, event, from_status, to_status, inventory, payment) VALUES
          ('o-ok', ${at}, 'inventory.reserved', 'AWAITING', 'AWAITING', 'RESERVED', 'PENDING'),
          ('o-ko', ${at}, 'inventory.rejected', 'AWAITING', 'COMPENSATING', 'REJECTED', 'PENDING'),
          ('o-ok', ${at}, 'payment.charged', 'AWAITING', 'APPROVING', 'RESERVED', 'CHARGED')`.execute(db);

      expect(await migrate(db, migrations)).toEqual([
        "0002_saga_state_machine",
        "0003_saga_cancel_requested",
        "0004_saga_trace",
      ]);

      const ok = await readSaga(db, "o-ok");
      expect(ok).toMatchObject({ state: "APPROVED", steps: { inventory: "RESERVED", payment: "CHARGED" } });
      expect(ok?.history.map((h) => [h.event, h.from, h.to])).toEqual([
        ["inventory.reserved", "AWAITING", "AWAITING"],
        ["payment.charged", "AWAITING", "APPROVED"],
      ]);
      const ko = await readSaga(db, "o-ko");
      expect(ko).toMatchObject({ state: "CANCELLED", reason: "out of stock: x" });
      const row = await db
        .selectFrom("sagas")
        .selectAll()
        .where("order_id", "=", "o-ko")
        .executeTakeFirstOrThrow();
      expect(row.order_cancelled).toBe(true);
      // Cancelled before compensate-then-cancel: it had asked for its cancellation.
      expect(row.cancel_requested).toBe(true);
      expect(
        (
          await db
            .selectFrom("sagas")
            .select("cancel_requested")
            .where("order_id", "=", "o-ok")
            .executeTakeFirstOrThrow()
        ).cancel_requested,
      ).toBe(false);
      const seqs = await db
        .selectFrom("saga_history")
        .select(["order_id", "seq"])
        .orderBy("order_id")
        .orderBy("seq")
        .execute();
      expect(seqs).toEqual([
        { order_id: "o-ko", seq: 1 },
        { order_id: "o-ok", seq: 1 },
        { order_id: "o-ok", seq: 2 },
      ]);
    } finally {
      await db.destroy();
    }
  });
});

import { catalog } from "@orderflow/contracts";
import { waitFor } from "@orderflow/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { countRows, rig } from "../test/fixture.js";
import { enqueueOrders } from "../test/workload.js";
import { createOutbox, createRelay } from "./index.js";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

describe("outbox retention", () => {
  it("deletes only published rows older than the retention, in batches", async () => {
    await using r = await rig();
    // Every DELETE statement on the outbox logs how many rows it removed.
    await sql`CREATE TABLE deletes (n int NOT NULL)`.execute(r.db);
    await sql`
      CREATE FUNCTION log_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO deletes SELECT count(*) FROM gone; RETURN NULL; END $$`.execute(r.db);
    await sql`
      CREATE TRIGGER log_deletes AFTER DELETE ON orderflow_outbox
      REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION log_deletes()`.execute(r.db);

    const expired = 12_001;
    await sql`
      INSERT INTO orderflow_outbox (event_id, subject, headers, payload, created_at, published_at)
      SELECT gen_random_uuid(), 'orders.order.created', '{}'::jsonb, '\\x'::bytea,
             now() - interval '3 hours', now() - interval '2 hours'
      FROM generate_series(1, ${expired}::int)`.execute(r.db);
    // Published 30 minutes ago: inside the retention.
    await sql`
      INSERT INTO orderflow_outbox (event_id, subject, headers, payload, created_at, published_at)
      SELECT gen_random_uuid(), 'orders.order.created', '{}'::jsonb, '\\x'::bytea,
             now() - interval '31 minutes', now() - interval '30 minutes'
      FROM generate_series(1, 10)`.execute(r.db);
    // Old but never published: must survive (and get published).
    const stale = await enqueueOrders(r.db, outbox, 5);
    await sql`UPDATE orderflow_outbox SET created_at = now() - interval '5 hours' WHERE event_id = ANY(${stale}::uuid[])`.execute(
      r.db,
    );

    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js, retentionMs: 3_600_000 });
    relay.start();
    await waitFor(
      "expired rows deleted",
      async () => (await countRows(r.db, "published_at < now() - interval '1 hour'")) === 0,
    );
    await waitFor("stale rows published", async () => (await countRows(r.db, "published_at IS NULL")) === 0);

    expect(await countRows(r.db)).toBe(10 + 5);
    expect(
      await countRows(
        r.db,
        `event_id IN (${stale.map((id) => `'${id}'`).join(",")}) AND published_at IS NOT NULL`,
      ),
    ).toBe(5);
    expect(await r.streamCount("ORDERS")).toBe(5);
    const batches = (await sql<{ n: number }>`SELECT n FROM deletes`.execute(r.db)).rows.map((x) => x.n);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(expired);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...batches)).toBeLessThanOrEqual(5000);
    await relay.stop();
  }, 30_000);
});

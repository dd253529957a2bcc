import { catalog } from "@orderflow/contracts";
import { waitFor } from "@orderflow/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { countRows, createEffects, effectCounts, recordEffect, rig } from "../test/fixture.js";
import { enqueueOrders } from "../test/workload.js";
import { createOutbox, createRelay, replayEvents } from "./index.js";

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

  it("expires inbox rows and a service's own rows in batches, records the horizon, and replay applies nothing older", async () => {
    await using r = await rig();
    const expired = 5_001;
    await sql`
      INSERT INTO orderflow_inbox (consumer, event_id, processed_at)
      SELECT 'inventory', gen_random_uuid(), now() - interval '3 hours' FROM generate_series(1, ${expired}::int)`.execute(
      r.db,
    );
    await sql`
      INSERT INTO orderflow_inbox (consumer, event_id, processed_at)
      SELECT 'inventory', gen_random_uuid(), now() - interval '30 minutes' FROM generate_series(1, 7)`.execute(
      r.db,
    );
    await sql`CREATE TABLE keys (key text PRIMARY KEY, created_at timestamptz NOT NULL)`.execute(r.db);
    await sql`
      INSERT INTO keys SELECT 'old-' || i, now() - interval '2 days' FROM generate_series(1, 3) i
      UNION ALL SELECT 'new', now()`.execute(r.db);

    const relay = createRelay({
      connectionString: r.databaseUrl,
      js: r.js,
      inboxRetentionMs: 3_600_000,
      retention: [
        {
          name: "keys",
          retentionMs: 86_400_000,
          deleteBatch: "DELETE FROM keys WHERE key IN (SELECT key FROM keys WHERE created_at < $1 LIMIT $2)",
        },
      ],
    });
    relay.start();
    const inbox = async () =>
      Number((await sql<{ n: string }>`SELECT count(*) AS n FROM orderflow_inbox`.execute(r.db)).rows[0]!.n);
    await waitFor("expired inbox rows deleted", async () => (await inbox()) === 7);
    await waitFor(
      "expired keys deleted",
      async () => (await sql`SELECT key FROM keys`.execute(r.db)).rows.length === 1,
    );
    await relay.stop();
    const horizons = (
      await sql<{
        name: string;
        age: number;
      }>`SELECT name, extract(epoch FROM now() - pruned_before)::int AS age FROM orderflow_retention ORDER BY name`.execute(
        r.db,
      )
    ).rows;
    expect(horizons.map((h) => h.name)).toEqual(["inbox", "keys", "outbox"]);
    expect(Math.abs(horizons[0]!.age - 3600)).toBeLessThan(60);

    // Events stored before the inbox's horizon (+ an hour for clock skew) are not replayed: their
    // inbox rows may be gone. Recorded later, the horizon covers the events stored now.
    await createEffects(r.db);
    await enqueueOrders(r.db, outbox, 3);
    const publisher = createRelay({ connectionString: r.databaseUrl, js: r.js });
    publisher.start();
    await waitFor("published", async () => (await r.streamCount("ORDERS")) === 3);
    await publisher.stop();
    const replay = () =>
      replayEvents({
        name: "effects",
        db: r.db,
        outbox,
        handlers: { "order.created": (e, ctx) => recordEffect(e as never, ctx) },
        js: r.js,
        jsm: r.jsm,
        catalog,
        streams: ["ORDERS"],
      });
    await sql`UPDATE orderflow_retention SET pruned_before = now() - interval '30 minutes' WHERE name = 'inbox'`.execute(
      r.db,
    );
    expect(await replay()).toMatchObject({ read: 3, applied: 0, expired: 3 });
    expect((await effectCounts(r.db)).rows).toBe(0);
    await sql`UPDATE orderflow_retention SET pruned_before = now() - interval '2 hours' WHERE name = 'inbox'`.execute(
      r.db,
    );
    expect(await replay()).toMatchObject({ read: 3, applied: 3, expired: 0 });
  }, 30_000);
});

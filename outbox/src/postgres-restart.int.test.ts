import { catalog } from "@orderflow/contracts";
import { newEventId } from "@orderflow/events";
import { waitFor } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import {
  countRows,
  createEffects,
  effectCounts,
  privatePostgres,
  recordEffect,
  rig,
} from "../test/fixture.js";
import { order } from "../test/workload.js";
import { createConsumer, createOutbox, createRelay } from "./index.js";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

describe("PostgreSQL restart", () => {
  it("under load: relay and consumer recover without a restart of their own", async () => {
    await using pgx = await privatePostgres();
    await using r = await rig({}, { postgresUrl: pgx.url });
    await createEffects(r.db);
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js, maxBackoffMs: 500 });
    const consumer = createConsumer({
      catalog,
      name: "effects",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      handlers: { "order.created": recordEffect },
      // Few deliveries: an outage counted against them would dead-letter healthy messages.
      maxDeliver: 2,
      backoffMs: 50,
    });
    relay.start();
    await consumer.start();

    // Four writers, one event per transaction, each retried until it commits: its fixed id makes a
    // retry after an unknown commit outcome harmless.
    const N = 600;
    const ids = Array.from({ length: N }, () => newEventId());
    let next = 0;
    let retries = 0;
    const writer = async () => {
      while (next < N) {
        const i = next++;
        await waitFor(
          `event ${i} committed`,
          () =>
            r.db
              .transaction()
              .execute((trx) => outbox.enqueue(trx, "order.created", order(i), { id: ids[i] }))
              .then(
                () => true,
                () => void retries++,
              ),
          { timeoutMs: 20_000 },
        );
      }
    };
    const writing = Promise.all([writer(), writer(), writer(), writer()]);
    await waitFor("load under way", () => next >= 150);
    await pgx.server.restart();
    expect(next).toBeLessThan(N);
    await writing;
    expect(retries).toBeGreaterThan(0);

    await waitFor("outbox drained", async () => (await countRows(r.db, "published_at IS NULL")) === 0, {
      timeoutMs: 20_000,
    });
    await waitFor(`${N} effects`, async () => (await effectCounts(r.db)).rows === N, { timeoutMs: 20_000 });
    expect(await countRows(r.db)).toBe(N);
    expect(await r.streamCount("ORDERS")).toBe(N);
    expect(await effectCounts(r.db)).toEqual({ rows: N, applied: N, maxN: 1 });
    expect(await r.streamCount("DLQ")).toBe(0);
    expect(relay.isLeader).toBe(true);
    expect(consumer.running).toBe(true);
    await consumer.stop();
    await relay.stop();
  }, 60_000);
});

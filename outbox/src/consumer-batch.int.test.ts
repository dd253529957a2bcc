import { catalog } from "@orderflow/contracts";
import { publish, waitFor } from "@orderflow/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { createEffects, effectCounts, recordEffect, rig } from "../test/fixture.js";
import { enqueueOrders, order } from "../test/workload.js";
import {
  createConsumer,
  createOutbox,
  createRelay,
  executeTogether,
  type ApplyResult,
  type ConsumeResult,
  type HandlerContext,
} from "./index.js";
import type { CloudEvent } from "@orderflow/contracts";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

/** recordEffect, plus the transaction that applied the event. */
async function recordWithTx(event: CloudEvent, ctx: HandlerContext): Promise<void> {
  await recordEffect(event, ctx);
  await sql`INSERT INTO applied_in (event_id, tx) VALUES (${event.id}, txid_current())`.execute(ctx.trx);
}

describe("consumer batches", () => {
  it("a backlog is applied in a few transactions; a failing message rolls back its batch and only it is retried", async () => {
    await using r = await rig();
    await createEffects(r.db);
    await sql`CREATE TABLE applied_in (event_id uuid PRIMARY KEY, tx bigint NOT NULL)`.execute(r.db);
    const N = 200;
    const ids = await enqueueOrders(r.db, outbox, N);
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await waitFor(`${N} in the stream`, async () => (await r.streamCount("ORDERS")) === N);
    await relay.stop();

    const flaky = ids[N / 2]!;
    let flakyCalls = 0;
    const results: ConsumeResult[] = [];
    const consumer = createConsumer({
      catalog,
      name: "batches",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      batchSize: 50,
      backoffMs: 20,
      handlers: {
        "order.created": async (e, ctx) => {
          await recordWithTx(e, ctx);
          if (e.id === flaky && ++flakyCalls === 1) throw new Error("transient failure");
        },
      },
      onResult: (result) => void results.push(result),
    });
    await consumer.start();
    await waitFor(`${N} effects`, async () => (await effectCounts(r.db)).rows === N);
    await consumer.stop();

    expect(await effectCounts(r.db)).toEqual({ rows: N, applied: N, maxN: 1 });
    // The first delivery of `flaky` failed inside a batch: it alone was retried (and applied on its
    // second delivery); the rest of its batch committed without it.
    expect(flakyCalls).toBe(2);
    expect(results.filter((x) => x === "applied")).toHaveLength(N);
    expect(results.filter((x) => x !== "applied")).toEqual(["retried"]);
    const txs = await sql<{ n: string }>`SELECT count(DISTINCT tx) AS n FROM applied_in`.execute(r.db);
    // A transaction per message would be N; batches of up to 50 (the failed one split in two) stay far below.
    expect(Number(txs.rows[0]!.n)).toBeLessThanOrEqual(N / 4);
  }, 30_000);

  it("an event twice in one batch and an event applied before: each applied once, the copies are duplicates", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const a = await publish(r.js, catalog, "order.created", order(1), { correlationId: "o-1" });
    await publish(r.js, catalog, "order.created", order(1), {
      id: a,
      msgId: `${a}-copy`,
      correlationId: "o-1",
    });
    const b = await publish(r.js, catalog, "order.created", order(2), { correlationId: "o-2" });
    await sql`INSERT INTO orderflow_inbox (consumer, event_id) VALUES ('twice', ${b})`.execute(r.db);
    await publish(r.js, catalog, "order.created", order(3), { correlationId: "o-3" });
    expect(await r.streamCount("ORDERS")).toBe(4);

    const results: ApplyResult[] = [];
    const consumer = createConsumer({
      catalog,
      name: "twice",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      handlers: { "order.created": recordEffect },
      afterCommit: (_e, result) => void results.push(result),
    });
    await consumer.start();
    await waitFor("4 messages handled", () => results.length === 4);
    await consumer.stop();

    expect(results.sort()).toEqual(["applied", "applied", "duplicate", "duplicate"]);
    expect(await effectCounts(r.db)).toEqual({ rows: 2, applied: 2, maxN: 1 });
    const info = await r.jsm.consumers.info("ORDERS", "twice");
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  }, 30_000);

  it("with several lanes, each order's events are applied once and in stream order", async () => {
    await using r = await rig();
    await sql`CREATE TABLE applied (seq bigserial PRIMARY KEY, correlation text NOT NULL, n int NOT NULL)`.execute(
      r.db,
    );
    const N = 400;
    const orders = 7;
    for (let i = 0; i < N; i++) {
      await publish(r.js, catalog, "order.created", order(i), { correlationId: `flow-${i % orders}` });
    }
    const consumer = createConsumer({
      catalog,
      name: "lanes",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      concurrency: 3,
      batchSize: 20,
      handlers: {
        "order.created": async (e, { trx }) => {
          const n = Number(e.data.orderId.slice(2));
          await sql`INSERT INTO applied (correlation, n) VALUES (${e.correlationId}, ${n})`.execute(trx);
        },
      },
    });
    await consumer.start();
    const count = async () =>
      Number((await sql<{ n: string }>`SELECT count(*) AS n FROM applied`.execute(r.db)).rows[0]!.n);
    await waitFor(`${N} applied`, async () => (await count()) === N);
    await consumer.stop();

    const { rows } = await sql<{
      correlation: string;
      n: number;
    }>`SELECT correlation, n FROM applied ORDER BY seq`.execute(r.db);
    expect(new Set(rows.map((x) => x.n)).size).toBe(N);
    for (let k = 0; k < orders; k++) {
      const seen = rows.filter((x) => x.correlation === `flow-${k}`).map((x) => x.n);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    }
  }, 30_000);

  it("a deferred write that fails is its own handler's failure, wherever the error surfaces", async () => {
    await using r = await rig();
    await createEffects(r.db);
    await sql`CREATE TABLE taken (k int PRIMARY KEY)`.execute(r.db);
    await sql`INSERT INTO taken VALUES (1)`.execute(r.db);
    const N = 30;
    const ids = await enqueueOrders(r.db, outbox, N);
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await waitFor(`${N} in the stream`, async () => (await r.streamCount("ORDERS")) === N);
    await relay.stop();

    // Its write can never succeed, and the error only shows at the next handler's statement.
    const poison = ids[N / 2]!;
    const results: ConsumeResult[] = [];
    const consumer = createConsumer({
      catalog,
      name: "deferred",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      batchSize: N,
      backoffMs: 10,
      maxDeliver: 2,
      handlers: {
        "order.created": async (e, ctx) => {
          if (e.id === poison) await executeTogether(ctx.trx, [sql`INSERT INTO taken VALUES (1)`]);
          else await recordEffect(e, ctx);
        },
      },
      onResult: (result) => void results.push(result),
    });
    await consumer.start();
    await waitFor(
      "all settled",
      () => results.filter((x) => x === "applied" || x === "dead-lettered").length === N,
    );
    await consumer.stop();

    expect(await effectCounts(r.db)).toEqual({ rows: N - 1, applied: N - 1, maxN: 1 });
    expect(results.filter((x) => x === "dead-lettered")).toHaveLength(1);
    const { state } = await r.jsm.streams.info("DLQ");
    expect(state.messages).toBe(1);
    const dead = await r.jsm.streams.getMessage("DLQ", { seq: state.last_seq });
    expect(dead?.header.get("ce-id")).toBe(poison);
    expect(dead?.header.get("Orderflow-Dlq-Reason")).toMatch(/duplicate key/);
  });
});

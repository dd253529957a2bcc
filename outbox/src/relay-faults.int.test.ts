import { catalog } from "@orderflow/contracts";
import { waitFor } from "@orderflow/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { spawnChild } from "../test/child.js";
import {
  countRows,
  createEffects,
  effectCounts,
  eventIds,
  recordEffect,
  rig,
  streamMessages,
} from "../test/fixture.js";
import { countingDuplicates, enqueueOrders, enqueueStock, stockSequences } from "../test/workload.js";
import { createConsumer, createOutbox, createRelay } from "./index.js";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

describe("relay faults", () => {
  it("relay SIGKILLed between PubAck and mark: nothing lost, its re-publish dropped as duplicates", async () => {
    await using r = await rig();
    await createEffects(r.db);
    // Below the child's limit of unmarked rows (maxInFlight + 8 × batchSize = 450), so it gets
    // every row out while it no longer marks any.
    const N = 400;
    await enqueueOrders(r.db, outbox, N);

    let marked: number;
    {
      // The child lets its first mark through, then stops marking but keeps publishing: every row
      // is in the stream, few are marked, and then it dies.
      await using child = spawnChild("relay-child.ts", {
        DATABASE_URL: r.databaseUrl,
        NATS_URL: r.nats.url,
        BATCH_SIZE: "50",
        MAX_IN_FLIGHT: "50",
        BLOCK_AT_MARK: "2",
      });
      const blocked = await child.line("acknowledged, not marked", (l) => Array.isArray(l.beforeMark));
      await waitFor(`all ${N} in the stream`, async () => (await r.streamCount("ORDERS")) === N);
      await child.kill("SIGKILL");

      marked = await countRows(r.db, "published_at IS NOT NULL");
      expect(marked).toBeGreaterThan(0);
      expect(marked).toBeLessThan(N);
      // The ids it reported are in the stream and still unpublished in the outbox: the worst moment.
      const inStream = new Set((await streamMessages(r.jsm, "ORDERS")).map((m) => m.id));
      const unpublished = new Set(await eventIds(r.db, "published_at IS NULL"));
      for (const id of blocked.beforeMark as string[]) {
        expect(inStream.has(id)).toBe(true);
        expect(unpublished.has(id)).toBe(true);
      }
    }

    const observed = countingDuplicates(r.js);
    const relay = createRelay({ connectionString: r.databaseUrl, js: observed.js, pollIntervalMs: 100 });
    const consumer = createConsumer({
      catalog,
      name: "effects",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      handlers: { "order.created": recordEffect },
    });
    relay.start();
    await consumer.start();
    await waitFor(
      "outbox drained by the new relay",
      async () => (await countRows(r.db, "published_at IS NULL")) === 0,
    );
    await waitFor(`${N} effects`, async () => (await effectCounts(r.db)).rows === N);

    // Every unmarked row went out again and JetStream dropped each one by its Nats-Msg-Id.
    expect(observed.acks()).toBe(N - marked);
    expect(observed.duplicates()).toBe(N - marked);
    expect(await r.streamCount("ORDERS")).toBe(N);
    expect(await effectCounts(r.db)).toEqual({ rows: N, applied: N, maxN: 1 });
    await consumer.stop();
    await relay.stop();
  }, 30_000);

  it("nats-server stopped and restarted mid-drain: the relay backs off and resumes by itself", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const N = await enqueueStock(r.db, outbox, 20, 50);
    const logs: { msg?: string }[] = [];
    const logger = pino(
      { level: "warn" },
      { write: (line: string) => void logs.push(JSON.parse(line) as { msg?: string }) },
    );

    let stopped = false;
    const relay = createRelay({
      connectionString: r.databaseUrl,
      js: r.js,
      logger,
      batchSize: 50,
      maxInFlight: 100,
      publishTimeoutMs: 1000,
      maxBackoffMs: 500,
      // The first acknowledged publishes take the server down with the rest of the drain in flight.
      beforeMark: async () => {
        if (stopped) return;
        stopped = true;
        await r.nats.server.stop();
      },
    });
    const consumer = createConsumer({
      catalog,
      name: "effects",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      handlers: { "stock.set": recordEffect },
    });
    await consumer.start();
    relay.start();
    await waitFor("relay reports the failed round", () => logs.some((l) => l.msg === "relay round failed"));
    expect(r.nats.server.running).toBe(false);
    const unpublishedWhileDown = await countRows(r.db, "published_at IS NULL");
    expect(unpublishedWhileDown).toBeGreaterThan(0);

    await r.nats.server.start();
    await waitFor(
      "outbox drained after the restart",
      async () => (await countRows(r.db, "published_at IS NULL")) === 0,
      {
        timeoutMs: 20_000,
      },
    );
    await waitFor(`${N} effects`, async () => (await effectCounts(r.db)).rows === N, { timeoutMs: 20_000 });

    const messages = await streamMessages(r.jsm, "INVENTORY");
    expect(messages).toHaveLength(N);
    expect(new Set(messages.map((m) => m.id)).size).toBe(N);
    // Per aggregate, the stream holds 0, 1, … 49 in order despite the failed publishes.
    for (const [sku, seq] of stockSequences(messages)) expect(seq, sku).toEqual([...Array(50).keys()]);
    expect(await effectCounts(r.db)).toEqual({ rows: N, applied: N, maxN: 1 });
    expect(await r.streamCount("DLQ")).toBe(0);
    expect(relay.isLeader).toBe(true);
    await consumer.stop();
    await relay.stop();
  }, 40_000);
});

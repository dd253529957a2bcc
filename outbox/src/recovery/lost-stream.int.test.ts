import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NatsServer, testDatabase, waitFor } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { createEffects, effectCounts, recordEffect } from "../../test/fixture.js";
import { enqueueOrders } from "../../test/workload.js";
import {
  createConsumer,
  createOutbox,
  createRelay,
  ensureStreams,
  migrate,
  openDatabase,
  readStream,
  republishOutbox,
  type ConsumeResult,
} from "../index.js";

describe("an R1 stream lost on disk", () => {
  it("is re-fed from the retained outbox by republish, and its consumer applies nothing twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orderflow-lost-"));
    const server = await NatsServer.spawn({ storeDir: dir });
    await using database = await testDatabase("lost");
    const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm, { streams: catalog.streams });
      await using db = openDatabase({ connectionString: database.url });
      await migrate(db);
      await createEffects(db);
      const outbox = createOutbox({ catalog, source: "/orderflow/order" });
      const results: ConsumeResult[] = [];
      const consumer = createConsumer({
        name: "effects",
        catalog,
        db,
        js,
        jsm,
        outbox,
        handlers: { "order.created": (e, ctx) => recordEffect(e, ctx) },
        onResult: (r) => results.push(r),
      });
      const relay = createRelay({ connectionString: database.url, js, pollIntervalMs: 200 });
      relay.start();
      await consumer.start();
      const ids = await enqueueOrders(db, outbox, 40);
      await waitFor("all applied", async () => (await effectCounts(db)).rows === 40);
      await relay.idle();

      // The server stops and its ORDERS file store is lost (a dead disk, or acknowledged writes
      // not yet fsynced when the machine died); the consumer's durable was stored with it.
      await server.stop();
      const store = join(dir, "jetstream", "$G", "streams", "ORDERS");
      expect(existsSync(store)).toBe(true);
      rmSync(store, { recursive: true });
      await server.start();
      await waitFor(
        "reconnected",
        async () =>
          !nc.isClosed() &&
          (await nc.rtt().then(
            () => true,
            () => false,
          )),
      );
      await expect(jsm.streams.info("ORDERS")).rejects.toThrow(/not found/);

      // The runbook: provision the streams again, then republish what the outbox retains.
      await ensureStreams(jsm, { streams: catalog.streams });
      const r = await republishOutbox({ db, js, jsm, since: new Date(Date.now() - 3_600_000) });
      expect(r).toMatchObject({ candidates: 40, published: 40 });
      const stored: string[] = [];
      await readStream({ js, jsm, stream: "ORDERS", headersOnly: true }, (m) => {
        stored.push(m.headers?.get("ce-id") ?? "");
      });
      expect(stored.sort()).toEqual([...ids].sort());

      // The consumer's durable comes back and reads the stream from the start: every event is a
      // duplicate its inbox drops.
      await waitFor("every event redelivered", () => results.filter((x) => x === "duplicate").length === 40, {
        timeoutMs: 20_000,
      });
      const durable = await jsm.consumers.info("ORDERS", "effects");
      expect(durable.num_pending + durable.num_ack_pending).toBe(0);
      expect(await effectCounts(db)).toEqual({ rows: 40, applied: 40, maxN: 1 });
      expect(results.filter((x) => x === "applied")).toHaveLength(40);

      await consumer.stop();
      await relay.stop();
    } finally {
      await nc.close();
      await server.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

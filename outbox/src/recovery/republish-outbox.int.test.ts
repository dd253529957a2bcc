import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { testDatabase, testNats, waitFor } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import {
  createOutbox,
  createRelay,
  ensureStreams,
  migrate,
  openDatabase,
  outboxStatus,
  republishOutbox,
  Topology,
} from "../index.js";

describe("republish", () => {
  it("re-feeds a lost stream from the retained outbox, once", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("republish");
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    await using db = openDatabase({ connectionString: database.url });
    await migrate(db);
    const outbox = createOutbox({ catalog, source: "/orderflow/billing" });
    for (let i = 0; i < 30; i++) {
      await db
        .transaction()
        .execute((trx) =>
          outbox.enqueue(trx, "payment.charged", { orderId: `o-${i}`, customerId: "c", amountCents: i }),
        );
    }
    const status = await outboxStatus(db);
    expect(status).toMatchObject({ backlog: 30, retained: 0 });
    const relay = createRelay({ connectionString: database.url, js });
    relay.start();
    await waitFor("30 in BILLING", async () => (await jsm.streams.info("BILLING")).state.messages === 30);
    await waitFor("marked", async () => (await outboxStatus(db)).retained === 30);
    await relay.stop();

    // The broker loses the stream; provisioning recreates it empty.
    await jsm.streams.delete("BILLING");
    await ensureStreams(jsm, { streams: catalog.streams });
    const topology = new Topology();
    const since = new Date(Date.now() - 3_600_000);
    const first = await republishOutbox({ db, js, jsm, topology, since });
    expect(first).toEqual({ candidates: 30, present: 0, published: 30 });
    expect((await jsm.streams.info("BILLING")).state.messages).toBe(30);

    const second = await republishOutbox({ db, js, jsm, topology, since });
    expect(second).toEqual({ candidates: 30, present: 30, published: 0 });
    expect((await jsm.streams.info("BILLING")).state.messages).toBe(30);
    await nc.close();
  });
});

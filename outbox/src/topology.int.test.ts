import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { testNats, waitFor } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { ensureStreams, Topology } from "./topology.js";

describe("ensureStreams", () => {
  it("creates every catalog stream plus the DLQ, and a second run changes nothing", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const first = await ensureStreams(jsm, { streams: catalog.streams });
    expect(first.map((a) => a.action)).toEqual(Array(catalog.streams.length + 1).fill("created"));
    const before = await jsm.streams.info("ORDERS");
    const second = await ensureStreams(jsm, { streams: catalog.streams });
    expect(second.map((a) => a.action)).toEqual(Array(catalog.streams.length + 1).fill("unchanged"));
    const after = await jsm.streams.info("ORDERS");
    expect(after.config).toEqual(before.config);
    expect(after.created).toEqual(before.created);
    await nc.close();
  });

  it("updates what JetStream can change and refuses drift it cannot apply", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    const updated = await ensureStreams(jsm, { streams: catalog.streams, duplicateWindowMs: 60_000 });
    expect(updated.every((a) => a.action === "updated" && a.changes?.includes("duplicate_window"))).toBe(
      true,
    );
    const info = await jsm.streams.info("BILLING");
    await jsm.streams.delete("BILLING");
    await jsm.streams.add({ ...info.config, storage: "memory" });
    await expect(ensureStreams(jsm, { streams: catalog.streams, duplicateWindowMs: 60_000 })).rejects.toThrow(
      /BILLING differs in storage/,
    );
    await nc.close();
  });

  it("namespaces stream names and subjects so suites can share a server", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams, topology: new Topology("a") });
    await ensureStreams(jsm, { streams: catalog.streams, topology: new Topology("b") });
    const info = await jsm.streams.info("b_ORDERS");
    expect(info.config.subjects).toEqual(["b.orders.>"]);
    await nc.close();
  });

  it("limits the dead letters by bytes and age, and brings an existing DLQ's limits in line", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    const dlq = async () => (await jsm.streams.info("DLQ")).config;
    expect(await dlq()).toMatchObject({ max_age: 30 * 86_400 * 1e9, max_bytes: 1024 ** 3, discard: "old" });
    expect((await jsm.streams.info("ORDERS")).config).toMatchObject({ max_age: 0, max_bytes: -1 });

    const small = { maxAgeMs: 1500, maxBytes: 4096 };
    const actions = await ensureStreams(jsm, {
      streams: catalog.streams,
      deadLetters: small,
      duplicateWindowMs: 1000,
    });
    expect(actions.find((a) => a.stream === "DLQ")).toMatchObject({
      action: "updated",
      changes: expect.arrayContaining(["max_age", "max_bytes"]) as unknown,
    });
    expect(await dlq()).toMatchObject({ max_age: 1500 * 1e6, max_bytes: 4096 });
    // Past the bytes, the oldest letters go; past the age, all of them.
    for (let i = 0; i < 20; i++) await js.publish(`dlq.saga.orders.order.created`, new Uint8Array(512));
    const { state } = await jsm.streams.info("DLQ");
    expect(state.bytes).toBeLessThanOrEqual(4096);
    expect(state.messages).toBeLessThan(20);
    expect(state.last_seq).toBe(20);
    await waitFor("letters aged out", async () => (await jsm.streams.info("DLQ")).state.messages === 0, {
      timeoutMs: 10_000,
    });
    await nc.close();
  });
});

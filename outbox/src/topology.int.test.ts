import { catalog } from "@orderflow/contracts";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { testNats } from "@orderflow/testing";
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
});

import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { testNatsCluster } from "./testkit.js";
import { waitFor } from "./wait.js";

describe("testNatsCluster", () => {
  it(
    "runs three nodes whose R3 stream keeps accepting and serving with one of them killed",
    { timeout: 120_000 },
    async () => {
      await using cluster = await testNatsCluster({ nodes: 3 });
      expect(cluster.urls).toHaveLength(3);
      const leaders = await Promise.all(cluster.nodes.map((n) => n.metaLeader()));
      expect(new Set(leaders).size).toBe(1);

      const nc = await connect({ servers: cluster.urls, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 });
        // A durable consumer (R3 like its stream), as the services read.
        await jsm.consumers.add("R3", { durable_name: "reader", ack_policy: AckPolicy.Explicit });
        const js = jetstream(nc);
        for (let i = 0; i < 10; i++) await js.publish("r3.x", `m${i}`, { msgID: `before-${i}` });

        // The stream's leader: the node whose loss forces a new election.
        const info = await jsm.streams.info("R3");
        expect(info.cluster?.replicas).toHaveLength(2);
        const victim = cluster.node(info.cluster!.leader!);
        await victim.kill("SIGKILL");
        expect(victim.running).toBe(false);

        // Accepting: every publish acknowledged by the two that are left (retried while they elect).
        for (let i = 0; i < 10; i++) {
          // The first waits out the election: seconds on nats-server 2.9.10.
          await waitFor(
            `publish ${i} after the kill`,
            () => js.publish("r3.x", `n${i}`, { msgID: `after-${i}`, timeout: 1000 }).then(() => true),
            { timeoutMs: 30_000 },
          );
        }
        // Serving: all 20, once each, in order — once the durable has elected its own leader (its
        // election is separate from the stream's: its info times out until then).
        const c = await waitFor(
          "the durable to answer after the kill",
          () => js.consumers.get("R3", "reader"),
          {
            timeoutMs: 30_000,
          },
        );
        const read: string[] = [];
        await waitFor(
          "all 20 messages read",
          async () => {
            const messages = await c.fetch({ max_messages: 20 - read.length, expires: 2000 });
            for await (const m of messages) {
              read.push(m.string());
              m.ack();
              if (read.length === 20) break;
            }
            return read.length === 20;
          },
          { timeoutMs: 30_000 },
        );
        expect(read).toEqual([
          ...Array.from({ length: 10 }, (_, i) => `m${i}`),
          ...Array.from({ length: 10 }, (_, i) => `n${i}`),
        ]);
        expect(await jsm.streams.info("R3").then((i) => i.cluster?.leader)).not.toBe(victim.name);

        // Back on its port and store, it rejoins and catches up.
        await victim.start();
        await waitFor(
          "the restarted node to be a current replica",
          async () => {
            const replicas = (await jsm.streams.info("R3")).cluster?.replicas ?? [];
            return replicas.some((r) => r.name === victim.name && r.current);
          },
          { timeoutMs: 30_000 },
        );
      } finally {
        await nc.close();
      }
    },
  );

  it("pauses and resumes a node (SIGSTOP/SIGCONT)", { timeout: 60_000 }, async () => {
    await using cluster = await testNatsCluster({ nodes: 3 });
    const node = cluster.nodes[2]!;
    node.pause();
    expect(await node.metaLeader()).toBeUndefined();
    node.resume();
    expect(await node.joined()).toBeTruthy();
  });
});

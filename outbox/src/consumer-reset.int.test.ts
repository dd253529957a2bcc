import { catalog } from "@orderflow/contracts";
import { DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { publish, waitFor } from "@orderflow/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createEffects, effectCounts, recordEffect, rig, type Rig } from "../test/fixture.js";
import { order } from "../test/workload.js";
import { createConsumer, createOutbox, type ApplyResult, type Consumer } from "./index.js";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

/** What `orderflow consumers reset --seq` does: delete the durable, add it again with the same config. */
async function resetDurable(jsm: JetStreamManager, stream: string, name: string, seq: number): Promise<void> {
  const { config } = await jsm.consumers.info(stream, name);
  delete config.opt_start_seq;
  delete config.opt_start_time;
  await jsm.consumers.delete(stream, name);
  await jsm.consumers.add(stream, {
    ...config,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: seq,
  });
}

async function publishOrders(r: Rig, from: number, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++)
    ids.push(await publish(r.js, catalog, "order.created", order(i), { correlationId: `o-${i}` }));
  return ids;
}

/** A consumer recording every commit's result by event id, and its warnings. */
function observedConsumer(r: Rig, name: string) {
  const results = new Map<string, ApplyResult[]>();
  const warnings: string[] = [];
  const consumer: Consumer = createConsumer({
    catalog,
    name,
    db: r.db,
    js: r.js,
    jsm: r.jsm,
    outbox,
    handlers: { "order.created": recordEffect },
    afterCommit: (event, result) => void results.set(event.id, [...(results.get(event.id) ?? []), result]),
    logger: pino(
      { level: "warn" },
      { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) },
    ),
  });
  const handled = (ids: readonly string[], ...expected: ApplyResult[]) =>
    ids.every((id) => results.get(id)?.join() === expected.join());
  return { consumer, results, warnings, handled };
}

describe("consumer and its durable", () => {
  it("a reset of the durable (delete, re-add at seq 1) is picked up within seconds; old events come again as duplicates", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const { consumer, warnings, handled } = observedConsumer(r, "reset");
    await consumer.start();
    const before = await publishOrders(r, 0, 5);
    await waitFor("the first events applied", () => handled(before, "applied"));

    await resetDurable(r.jsm, "ORDERS", "reset", 1);
    const resetAt = Date.now();
    const after = await publishOrders(r, 5, 5);
    // nats.js alone resumed 30-45 s later.
    await waitFor("the new events applied", () => handled(after, "applied"), { timeoutMs: 60_000 });
    expect(Date.now() - resetAt).toBeLessThanOrEqual(5000);
    await waitFor("the old events redelivered", () => handled(before, "applied", "duplicate"));
    expect(await effectCounts(r.db)).toEqual({ rows: 10, applied: 10, maxN: 1 });

    // Between the delete and the re-add the consumer is not running, for too short a time to catch
    // by polling `running`; its warning is logged at the moment it turns false.
    expect(warnings).toContain("durable consumer deleted; waiting for it to be back");
    // It read the durable the reset added, and did not recreate one of its own.
    expect(warnings).not.toContain("durable consumer was not added back; recreated it");
    const info = await r.jsm.consumers.info("ORDERS", "reset");
    expect(info.config).toMatchObject({ deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
    expect(consumer.running).toBe(true);
    await consumer.stop();
  }, 90_000);

  it("a durable deleted and not added back: not running while it is gone, then recreated by the consumer", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const { consumer, warnings, handled } = observedConsumer(r, "deleted");
    await consumer.start();
    const before = await publishOrders(r, 0, 5);
    await waitFor("the first events applied", () => handled(before, "applied"));
    expect(consumer.running).toBe(true);

    await r.jsm.consumers.delete("ORDERS", "deleted");
    await waitFor("not running", () => !consumer.running, { timeoutMs: 5000, intervalMs: 5 });
    const after = await publishOrders(r, 5, 5);
    await waitFor("running again", () => consumer.running, { timeoutMs: 10_000 });
    await waitFor("the new events applied", () => handled(after, "applied"));
    // Recreated as at first start, from the beginning of the stream.
    await waitFor("the old events redelivered", () => handled(before, "applied", "duplicate"));
    expect(await effectCounts(r.db)).toEqual({ rows: 10, applied: 10, maxN: 1 });
    expect(warnings).toContain("durable consumer was not added back; recreated it");
    const info = await r.jsm.consumers.info("ORDERS", "deleted");
    expect(info.config.deliver_policy).toBe(DeliverPolicy.All);
    await consumer.stop();
  }, 30_000);

  it("a stop right after start returns (it hung when it closed the pull before reading it)", async () => {
    await using r = await rig();
    await createEffects(r.db);
    for (let i = 0; i < 20; i++) {
      const { consumer } = observedConsumer(r, "start-stop");
      await consumer.start();
      if (i % 4) await new Promise((resolve) => setTimeout(resolve, i % 4)); // land in each step of the start
      await consumer.stop();
    }
  }, 20_000);
});

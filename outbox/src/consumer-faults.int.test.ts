import { catalog } from "@orderflow/contracts";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { waitFor } from "@orderflow/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { spawnChild } from "../test/child.js";
import {
  countRows,
  createEffects,
  effectCounts,
  recordEffect,
  rig,
  streamMessages,
} from "../test/fixture.js";
import { enqueueOrders, order } from "../test/workload.js";
import {
  createConsumer,
  createOutbox,
  createRelay,
  DeadLetterHeader,
  PermanentError,
  type ApplyResult,
  type ConsumeResult,
} from "./index.js";

const outbox = createOutbox({ catalog, source: "/orderflow/test" });

describe("consumer faults", () => {
  it("consumer process SIGKILLed after commit, before ack: the effect is applied once", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const N = 40;
    await enqueueOrders(r.db, outbox, N);
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await waitFor(`${N} in the stream`, async () => (await r.streamCount("ORDERS")) === N);

    let committed: string;
    {
      await using child = spawnChild("consumer-child.ts", {
        DATABASE_URL: r.databaseUrl,
        NATS_URL: r.nats.url,
        CONSUMER_NAME: "killed",
        ACK_WAIT_MS: "1000",
        BLOCK_AFTER_COMMIT: "1",
      });
      const line = await child.line("committed, not acknowledged", (l) => typeof l.afterCommit === "string");
      await child.kill("SIGKILL");
      expect(line.result).toBe("applied");
      committed = line.afterCommit as string;
    }
    // Its transaction committed (with however many messages its batch held): effects and inbox rows
    // are there, no ack left.
    const inbox = await sql<{
      event_id: string;
    }>`SELECT event_id FROM orderflow_inbox WHERE consumer = 'killed'`.execute(r.db);
    const applied = new Set(inbox.rows.map((x) => x.event_id));
    expect(applied.has(committed)).toBe(true);
    expect(await effectCounts(r.db)).toEqual({ rows: applied.size, applied: applied.size, maxN: 1 });

    // The same durable in a new process (here: in-process) gets the messages again after ack_wait.
    const results = new Map<string, ApplyResult>();
    const consumer = createConsumer({
      catalog,
      name: "killed",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      ackWaitMs: 1000,
      handlers: { "order.created": recordEffect },
      afterCommit: (event, result) => void results.set(event.id, result),
    });
    await consumer.start();
    await waitFor(`${N} effects`, async () => (await effectCounts(r.db)).rows === N);
    await waitFor("the killed deliveries redelivered", () => [...applied].every((id) => results.has(id)));

    for (const id of applied) expect(results.get(id)).toBe("duplicate");
    expect([...results.values()].filter((x) => x === "applied")).toHaveLength(N - applied.size);
    expect(await r.streamCount("ORDERS")).toBe(N);
    expect(await effectCounts(r.db)).toEqual({ rows: N, applied: N, maxN: 1 });
    await consumer.stop();
    await relay.stop();
  }, 30_000);

  it("a throwing handler is retried until it succeeds, or dead-lettered after maxDeliver", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const N = 20;
    const ids = await enqueueOrders(r.db, outbox, N);
    const [flaky, failing, permanent] = [ids[3]!, ids[7]!, ids[11]!];
    const attempts = new Map<string, number>();
    const maxDeliver = 4;
    const consumer = createConsumer({
      catalog,
      name: "retries",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      maxDeliver,
      backoffMs: 20,
      handlers: {
        "order.created": async (e, ctx) => {
          const n = (attempts.get(e.id) ?? 0) + 1;
          attempts.set(e.id, n);
          await recordEffect(e, ctx);
          // Thrown after the write: the rollback must take the effect with it.
          if (e.id === flaky && n <= 2) throw new Error("transient failure");
          if (e.id === failing) throw new Error("always fails");
          if (e.id === permanent) throw new PermanentError("customer is blocked");
        },
      },
    });
    await consumer.start();
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await waitFor(`${N - 2} effects`, async () => (await effectCounts(r.db)).rows === N - 2);
    await waitFor("2 dead letters", async () => (await r.streamCount("DLQ")) === 2);

    expect(await r.streamCount("ORDERS")).toBe(N);
    expect(await effectCounts(r.db)).toEqual({ rows: N - 2, applied: N - 2, maxN: 1 });
    // A handler may also run once more per delivery inside a batch that the failure rolled back;
    // the deliveries that count are in the dead letters' headers.
    expect(attempts.get(flaky)).toBeGreaterThanOrEqual(3);
    expect(attempts.get(failing)).toBeGreaterThanOrEqual(maxDeliver);
    const dead = await deadLetters(r);
    expect(dead.get(failing)).toMatchObject({ code: "MAX_DELIVERIES", deliveries: String(maxDeliver) });
    expect(dead.get(permanent)).toMatchObject({ code: "PERMANENT", deliveries: "1" });
    expect(dead.get(failing)?.reason).toContain("always fails");
    // Nothing else is redelivered later: the dead-lettered ones were terminated.
    await waitFor("nothing left pending", async () => {
      const info = await r.jsm.consumers.info("ORDERS", "retries");
      return info.num_pending + info.num_ack_pending === 0;
    });
    await consumer.stop();
    await relay.stop();
  }, 30_000);

  it("poison messages are dead-lettered and the consumer keeps going", async () => {
    await using r = await rig();
    await createEffects(r.db);
    const results: ConsumeResult[] = [];
    const consumer = createConsumer({
      catalog,
      name: "poison",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      concurrency: 1,
      handlers: { "order.created": recordEffect },
      onResult: (result) => void results.push(result),
    });
    await consumer.start();
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await enqueueOrders(r.db, outbox, 10);
    await waitFor("first 10 in the stream", async () => (await r.streamCount("ORDERS")) === 10);
    // Garbage with no CloudEvents headers, and a well-formed envelope whose data breaks the schema.
    await r.js.publish("orders.order.created", new TextEncoder().encode("{not json"));
    const h = natsHeaders();
    const good = (await streamMessages(r.jsm, "ORDERS"))[0]!;
    const original = await r.jsm.streams.getMessage("ORDERS", { seq: good.seq });
    for (const [k, vs] of original!.header)
      if (k !== "Nats-Msg-Id" && k !== "ce-id") for (const v of vs) h.append(k, v);
    h.set("ce-id", "0190a5c5-0000-7000-8000-000000000001");
    await r.js.publish(
      "orders.order.created",
      new TextEncoder().encode(JSON.stringify({ ...order(0), totalCents: -1 })),
      {
        headers: h,
      },
    );
    await enqueueOrders(r.db, outbox, 10, 10);

    await waitFor("20 effects", async () => (await effectCounts(r.db)).rows === 20);
    await waitFor("2 dead letters", async () => (await r.streamCount("DLQ")) === 2);
    expect(await r.streamCount("ORDERS")).toBe(22);
    expect(await countRows(r.db, "published_at IS NULL")).toBe(0);
    expect(await effectCounts(r.db)).toEqual({ rows: 20, applied: 20, maxN: 1 });
    const codes = [...(await deadLetters(r)).values()].map((d) => d.code).sort();
    expect(codes).toEqual(["MISSING_HEADER", "SCHEMA_VIOLATION"]);
    // One transaction at a time: the poison did not hold up what came after it.
    expect(results.filter((x) => x === "applied")).toHaveLength(20);
    expect(results.filter((x) => x === "dead-lettered")).toHaveLength(2);
    await consumer.stop();
    await relay.stop();
  }, 30_000);

  it("a message held longer than ack_wait (queued or in a slow handler) is kept alive, not redelivered", async () => {
    await using r = await rig();
    await enqueueOrders(r.db, outbox, 3);
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    await waitFor("3 in the stream", async () => (await r.streamCount("ORDERS")) === 3);
    await relay.stop();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const deliveries: number[] = [];
    const consumer = createConsumer({
      catalog,
      name: "slow",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      ackWaitMs: 300,
      batchSize: 1, // the second and third wait in the lane's queue meanwhile
      handlers: {
        "order.created": async () => {
          await released;
        },
      },
      onResult: (result) => void deliveries.push(result === "applied" ? 1 : 0),
    });
    await consumer.start();
    await waitFor(
      "all three delivered",
      async () => (await r.jsm.consumers.info("ORDERS", "slow")).num_ack_pending === 3,
    );
    // The first handler holds its batch until JetStream redelivers something (the failure) or five
    // ack waits passed without a redelivery.
    const since = Date.now();
    await waitFor(
      "a redelivery, or five ack waits without one",
      async () =>
        (await r.jsm.consumers.info("ORDERS", "slow")).num_redelivered > 0 || Date.now() - since >= 1500,
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    release();
    await waitFor("all three applied", () => deliveries.length >= 3);
    await consumer.stop();
    const info = await r.jsm.consumers.info("ORDERS", "slow");
    expect(deliveries).toEqual([1, 1, 1]);
    expect(info.num_redelivered).toBe(0);
    expect(info.num_ack_pending).toBe(0);
  });
});

/** Dead letters by the ce-id of the original message (or its sequence when it had none). */
async function deadLetters(r: Awaited<ReturnType<typeof rig>>) {
  const out = new Map<string, { code: string; reason: string; deliveries: string }>();
  const { state } = await r.jsm.streams.info("DLQ");
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await r.jsm.streams.getMessage("DLQ", { seq });
    if (!m) continue;
    out.set(m.header.get("ce-id") || m.header.get(DeadLetterHeader.Sequence), {
      code: m.header.get(DeadLetterHeader.Code),
      reason: m.header.get(DeadLetterHeader.Reason),
      deliveries: m.header.get(DeadLetterHeader.Deliveries),
    });
  }
  return out;
}

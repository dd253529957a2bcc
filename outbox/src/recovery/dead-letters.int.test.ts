import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { testNats } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import {
  DeadLetterHeader,
  DeadLetters,
  ensureStreams,
  listConsumers,
  resetConsumer,
  Topology,
} from "../index.js";

describe("dead letters", () => {
  it("lists, shows, redrives keeping the event id, and purges", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    const id = newEventId();
    const e = catalog.encode(
      "order.confirmed",
      { orderId: "o-1", customerId: "c-1", totalCents: 5 },
      {
        id,
        source: "/orderflow/order",
        time: new Date(),
        correlationId: "o-1",
      },
    );
    const h = natsHeaders();
    for (const [k, v] of Object.entries(e.headers)) if (k !== "Nats-Msg-Id") h.set(k, v);
    h.set(DeadLetterHeader.Consumer, "saga");
    h.set(DeadLetterHeader.Code, "MAX_DELIVERIES");
    h.set(DeadLetterHeader.Reason, "failed 5 times");
    h.set(DeadLetterHeader.Subject, e.subject);
    h.set(DeadLetterHeader.Stream, "ORDERS");
    h.set(DeadLetterHeader.Sequence, "7");
    h.set(DeadLetterHeader.Deliveries, "5");
    await js.publish(`dlq.saga.${e.subject}`, e.data, { headers: h });
    await js.publish("dlq.saga.orders.order.created", new TextEncoder().encode("{bad"), {
      headers: (() => {
        const p = natsHeaders();
        p.set(DeadLetterHeader.Code, "MISSING_HEADER");
        p.set(DeadLetterHeader.Subject, "orders.order.created");
        return p;
      })(),
    });

    const dlq = new DeadLetters({ jsm, js, topology: new Topology() });
    const list = await dlq.list();
    expect(list.map((l) => [l.id, l.code, l.eventId])).toEqual([
      [1, "MAX_DELIVERIES", id],
      [2, "MISSING_HEADER", undefined],
    ]);
    const shown = await dlq.show(1);
    expect(shown?.body).toEqual({ orderId: "o-1", customerId: "c-1", totalCents: 5 });
    expect((await dlq.show(2))?.body).toBe("{bad");
    expect(await dlq.show(99)).toBeUndefined();

    const before = (await jsm.streams.info("ORDERS")).state.messages;
    const r = await dlq.redrive(1);
    // To the consumer that failed alone, on its redrive subject: the ORDERS history is untouched.
    expect(r).toMatchObject({ consumer: "saga", stream: "DLQ", subject: e.subject });
    const m = await jsm.streams.getMessage("DLQ", { seq: r.seq });
    expect(m?.subject).toBe(`redrive.saga.${e.subject}`);
    expect(m?.header.get("ce-id")).toBe(id);
    expect(m?.header.get(DeadLetterHeader.Code)).toBe("");
    expect(m?.header.get(DeadLetterHeader.Sequence)).toBe("7");
    expect((await jsm.streams.info("ORDERS")).state.messages).toBe(before);
    expect((await dlq.list()).map((l) => l.id)).toEqual([2]);
    await expect(dlq.redrive(1)).rejects.toThrow(/no dead letter 1/);
    await expect(dlq.redrive(2)).rejects.toThrow(/names no consumer/);
    expect(await dlq.purge()).toBe(1);
    expect(await dlq.list()).toEqual([]);
    // The redriven message waits for its consumer; purging letters leaves it.
    expect((await jsm.streams.info("DLQ")).state.messages).toBe(1);
    await nc.close();
  });

  it("lists durable consumers with lag and resets one to a sequence", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    for (let i = 0; i < 5; i++) await js.publish("orders.order.created", new Uint8Array([i]));
    await jsm.consumers.add("ORDERS", {
      durable_name: "inventory",
      ack_policy: "explicit",
      filter_subject: "orders.order.created",
    });
    const c = await js.consumers.get("ORDERS", "inventory");
    const batch = await c.fetch({ max_messages: 3, expires: 2000 });
    for await (const m of batch) m.ack();
    await nc.flush();
    const [state] = await listConsumers(jsm);
    expect(state).toMatchObject({
      stream: "ORDERS",
      consumer: "inventory",
      pending: 2,
      ackPending: 0,
      lag: 2,
    });
    await resetConsumer(jsm, "ORDERS", "inventory", { seq: 1 });
    const [after] = await listConsumers(jsm);
    expect(after?.pending).toBe(5);
    await expect(resetConsumer(jsm, "ORDERS", "inventory", { seq: 99 })).rejects.toThrow(
      /outside stream ORDERS/,
    );
    await nc.close();
  });
});

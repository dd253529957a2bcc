import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { testNats } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { meta, orderCreatedV1, orderCreatedV2, samples } from "../test/samples.js";
import { streamNameOf, type EncodedEvent } from "@orderflow/events";
import { catalog, decode, encode, encodeVersion, type CloudEvent } from "./index.js";

describe("versioning over JetStream", () => {
  it("decodes order.created v1, v2 and v3 from one stream as v3 data, keeping the published version", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    try {
      const stream = catalog.streams.find(
        (s) => s.name === streamNameOf(catalog.events["order.created"].context),
      );
      if (!stream) throw new Error("no stream for order.created");
      await (await jetstreamManager(nc)).streams.add({ name: stream.name, subjects: [...stream.subjects] });
      const js = jetstream(nc);
      const publish = (e: EncodedEvent) => {
        const h = natsHeaders();
        for (const [name, value] of Object.entries(e.headers)) h.set(name, value);
        return js.publish(e.subject, e.data, { headers: h });
      };

      // Non-ASCII ids travel percent-encoded through a real server.
      const v1 = encodeVersion(
        "order.created",
        1,
        { ...orderCreatedV1, orderId: "ord-ü-0" },
        meta({
          id: "01900000-0000-7000-8000-0000000000a1",
          correlationId: "ord-ü-0",
          causationId: undefined,
        }),
      );
      const v2 = encodeVersion(
        "order.created",
        2,
        orderCreatedV2,
        meta({ id: "01900000-0000-7000-8000-0000000000a2", correlationId: "ord-2" }),
      );
      const v3 = encode(
        "order.created",
        samples["order.created"],
        meta({ id: "01900000-0000-7000-8000-0000000000a3" }),
      );
      expect((await publish(v1)).duplicate).toBe(false);
      expect((await publish(v2)).duplicate).toBe(false);
      expect((await publish(v3)).duplicate).toBe(false);
      // Nats-Msg-Id = ce-id: a re-publish (relay retry) is dropped by JetStream.
      expect((await publish(v1)).duplicate).toBe(true);

      const consumer = await js.consumers.get(stream.name); // ordered consumer
      const events: CloudEvent[] = [];
      for await (const m of await consumer.fetch({ max_messages: 3, expires: 5_000 })) {
        const r = decode(m);
        if (!r.ok) throw r.error;
        events.push(r.event);
      }

      expect(events.map((e) => [e.name, e.version, e.id])).toEqual([
        ["order.created", 1, "01900000-0000-7000-8000-0000000000a1"],
        ["order.created", 2, "01900000-0000-7000-8000-0000000000a2"],
        ["order.created", 3, "01900000-0000-7000-8000-0000000000a3"],
      ]);
      expect(events[0]).toMatchObject({
        data: { ...orderCreatedV1, orderId: "ord-ü-0", currency: "USD" },
        subject: "ord-ü-0",
        correlationId: "ord-ü-0",
        causationId: undefined,
      });
      // A v2 order had no idempotency key: its data is v3 data without one.
      expect(events[1]?.data).toEqual(orderCreatedV2);
      expect(events[2]).toMatchObject({ data: samples["order.created"], causationId: meta().causationId });
      const info = await (await jetstreamManager(nc)).streams.info(stream.name);
      expect(info.state.messages).toBe(3);
    } finally {
      await nc.close();
    }
  });
});

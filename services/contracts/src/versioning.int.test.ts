import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { testNats } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { meta, orderCreatedV1, samples } from "../test/samples.js";
import { streamNameOf, type EncodedEvent } from "@orderflow/events";
import { catalog, decode, encode, encodeVersion, type CloudEvent } from "./index.js";

describe("versioning over JetStream", () => {
  it("decodes order.created v1 and v2 from one stream as v2 data, keeping the published version", async () => {
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
      const v2 = encode(
        "order.created",
        samples["order.created"],
        meta({ id: "01900000-0000-7000-8000-0000000000a2" }),
      );
      expect((await publish(v1)).duplicate).toBe(false);
      expect((await publish(v2)).duplicate).toBe(false);
      // Nats-Msg-Id = ce-id: a re-publish (relay retry) is dropped by JetStream.
      expect((await publish(v1)).duplicate).toBe(true);

      const consumer = await js.consumers.get(stream.name); // ordered consumer
      const events: CloudEvent[] = [];
      for await (const m of await consumer.fetch({ max_messages: 2, expires: 5_000 })) {
        const r = decode(m);
        if (!r.ok) throw r.error;
        events.push(r.event);
      }

      expect(events.map((e) => [e.name, e.version, e.id])).toEqual([
        ["order.created", 1, "01900000-0000-7000-8000-0000000000a1"],
        ["order.created", 2, "01900000-0000-7000-8000-0000000000a2"],
      ]);
      expect(events[0]).toMatchObject({
        data: { ...orderCreatedV1, orderId: "ord-ü-0", currency: "USD" },
        subject: "ord-ü-0",
        correlationId: "ord-ü-0",
        causationId: undefined,
      });
      expect(events[1]).toMatchObject({ data: samples["order.created"], causationId: meta().causationId });
      const info = await (await jetstreamManager(nc)).streams.info(stream.name);
      expect(info.state.messages).toBe(2);
    } finally {
      await nc.close();
    }
  });
});

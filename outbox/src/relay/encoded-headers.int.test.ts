import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { testNats } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { EncodedHeaders } from "./encoded-headers.js";

describe("EncodedHeaders through js.publish", () => {
  it("reach the stream as encoded, and JetStream honours the Nats-Msg-Id among them", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "HDRS", subjects: ["hdrs.>"] });
      const js = jetstream(nc);
      const lines = [
        ["ce-id", "e-1"],
        ["ce-subject", "o-1"],
        ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
        ["Nats-Msg-Id", "e-1"],
      ] as const;
      const bytes = new TextEncoder().encode(
        `NATS/1.0\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`,
      );

      const first = await js.publish("hdrs.a", "one", { headers: new EncodedHeaders(bytes) });
      const again = await js.publish("hdrs.a", "two", { headers: new EncodedHeaders(bytes) });

      expect(first.duplicate).toBe(false);
      expect(again).toMatchObject({ duplicate: true, seq: first.seq });
      const stored = await jsm.streams.getMessage("HDRS", { seq: first.seq });
      expect(stored?.string()).toBe("one");
      expect([...(stored?.header ?? [])]).toEqual(lines.map(([k, v]) => [k, [v]]));
    } finally {
      await nc.close();
    }
  });
});

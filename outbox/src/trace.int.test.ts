import { catalog } from "@orderflow/contracts";
import { describe, expect, it } from "vitest";
import { waitFor } from "@orderflow/testing";
import { rig } from "../test/fixture.js";
import { createConsumer, createOutbox, createRelay } from "./index.js";
import { parseTraceparent } from "./trace.js";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

describe("trace context on the wire (no OpenTelemetry SDK registered)", () => {
  it("gives an enqueued event a new trace and the events its consumers emit the same trace id", async () => {
    await using r = await rig();
    const outbox = createOutbox({ catalog, source: "/orderflow/test" });
    const relay = createRelay({ connectionString: r.databaseUrl, js: r.js });
    relay.start();
    const consumer = createConsumer({
      catalog,
      name: "tracetest",
      db: r.db,
      js: r.js,
      jsm: r.jsm,
      outbox,
      handlers: {
        "order.created": async (e, { emit }) => {
          await emit("order.confirmed", {
            orderId: e.data.orderId,
            customerId: e.data.customerId,
            totalCents: 1,
          });
        },
      },
    });
    await consumer.start();
    const ids: string[] = [];
    for (const orderId of ["o-1", "o-2"]) {
      ids.push(
        await r.db.transaction().execute((trx) =>
          outbox.enqueue(
            trx,
            "order.created",
            {
              orderId,
              customerId: "c-1",
              items: [{ sku: "s", quantity: 1, unitPriceCents: 100 }],
              totalCents: 100,
              currency: "USD",
            },
            { correlationId: orderId },
          ),
        ),
      );
    }
    await waitFor("2 orders and 2 confirmations", async () => (await r.streamCount("ORDERS")) === 4);
    await consumer.stop();
    await relay.stop();

    const byId = new Map<string, { traceparent: string; causation: string }>();
    for (let seq = 1; seq <= 4; seq++) {
      const m = await r.jsm.streams.getMessage("ORDERS", { seq });
      byId.set(m!.header.get("ce-id"), {
        traceparent: m!.header.get("traceparent"),
        causation: m!.header.get("ce-causationid"),
      });
    }
    const traceIds = new Set<string>();
    for (const id of ids) {
      const root = byId.get(id)!;
      expect(root.traceparent).toMatch(TRACEPARENT);
      const rootTrace = parseTraceparent(root.traceparent);
      expect(rootTrace, root.traceparent).toBeDefined();
      traceIds.add(rootTrace!.traceId);
      const [[childId, child] = []] = [...byId].filter(([, v]) => v.causation === id);
      expect(child, `the confirmation caused by ${id}`).toBeDefined();
      // Its derived id is a UUIDv7 stamped with its cause's time.
      expect(childId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(childId!.slice(0, 13)).toBe(id.slice(0, 13));
      expect(child!.traceparent).toMatch(TRACEPARENT);
      expect(parseTraceparent(child!.traceparent)?.traceId).toBe(rootTrace!.traceId);
    }
    // Each order is a trace of its own.
    expect(traceIds.size).toBe(2);
  }, 30_000);
});

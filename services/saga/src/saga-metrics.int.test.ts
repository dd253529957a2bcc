import { catalog, type EventData, type EventName } from "@orderflow/contracts";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { startService } from "@orderflow/host";
import { publish, scrapeMetrics, testDatabase, testNats, waitFor, type Scrape } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { definition } from "./service.js";

describe("saga metrics on real servers", () => {
  it("an order's outcome, its duration, and a deadline expiry are counted once each", async () => {
    await using nats = await testNats();
    await using db = await testDatabase("saga");
    const svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        SAGA_DATABASE_URL: db.url,
        SAGA_PORT: "0",
        LOG_LEVEL: "silent",
        RELAY_POLL_MS: "100",
        SAGA_DEADLINE_MS: "1500",
        SAGA_TICK_MS: "50",
      },
    });
    const nc = await connect({ servers: nats.url });
    try {
      const js = jetstream(nc);
      const send = <N extends EventName>(name: N, data: EventData<N>) =>
        publish(js, catalog, name, data, { correlationId: (data as { orderId: string }).orderId });
      const metricsWhere = (what: string, check: (m: Scrape) => boolean) =>
        waitFor(what, async () => check(await scrapeMetrics(svc.url)), { intervalMs: 50 });
      const item = { sku: "sku-1", quantity: 1 };
      const created = (orderId: string) => ({
        orderId,
        customerId: "alice",
        items: [{ ...item, unitPriceCents: 100 }],
        totalCents: 100,
        currency: "USD",
      });

      const ok = newEventId();
      await send("order.created", created(ok));
      await send("inventory.reserved", { orderId: ok, items: [item] });
      await send("payment.charged", { orderId: ok, customerId: "alice", amountCents: 100 });
      await send("order.confirmed", { orderId: ok, customerId: "alice", totalCents: 100 });
      await metricsWhere(
        "one confirmed saga",
        (m) =>
          m.value("orderflow_saga_outcomes_total", { outcome: "confirmed" }) === 1 &&
          m.value("orderflow_saga_duration_seconds_count", { outcome: "confirmed" }) === 1,
      );

      // No reply at all: the deadline passes, the saga asks to cancel; the order service's answer ends it.
      const late = newEventId();
      await send("order.created", created(late));
      await metricsWhere("a deadline expiry", (m) => m.value("orderflow_saga_deadline_expiries_total") === 1);
      await send("order.cancelled", { orderId: late, customerId: "alice", reason: "timed out" });
      const m = await metricsWhere(
        "one cancelled saga",
        (x) => x.value("orderflow_saga_outcomes_total", { outcome: "cancelled" }) === 1,
      ).then(() => scrapeMetrics(svc.url));
      // It lasted at least its deadline.
      expect(m.value("orderflow_saga_duration_seconds_sum", { outcome: "cancelled" })).toBeGreaterThanOrEqual(
        1.5,
      );
      expect(m.value("orderflow_saga_duration_seconds_count", { outcome: "cancelled" })).toBe(1);
      expect(m.value("orderflow_saga_outcomes_total", { outcome: "confirmed" })).toBe(1);
      expect(m.value("orderflow_saga_deadline_expiries_total")).toBe(1);
    } finally {
      await nc.close();
      await svc.stop();
    }
  }, 30_000);
});

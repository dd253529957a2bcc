import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { definition as billing } from "@orderflow/billing";
import { newEventId } from "@orderflow/events";
import { definition as inventory } from "@orderflow/inventory";
import { publish, waitFor } from "@orderflow/testing";
import { definition as order } from "@orderflow/order";
import { definition as saga } from "@orderflow/saga";
import { describe, expect, it } from "vitest";
import { http, listPrices, quiesce, startSystem } from "./system.js";

type Saga = {
  state: string;
  steps: { inventory: string; payment: string };
  history: { event: string; from: string; to: string }[];
};

describe("order flow under faults", () => {
  it("a step that never answers: the deadline compensates, and a late success is compensated too", async () => {
    // No billing service: payment never answers.
    await using sys = await startSystem([order, inventory, saga], {
      SAGA_DEADLINE_MS: "1500",
      SAGA_TICK_MS: "100",
    });
    await listPrices(sys.url("order"), { apple: 100, pear: 100 });
    await http("PUT", `${sys.url("inventory")}/stock/apple`, { available: 3 });
    const placed = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, {
      customerId: "alice",
      items: [{ sku: "apple", quantity: 2, unitPriceCents: 100 }],
    });
    const id = placed.body.orderId;
    const cancelled = await waitFor("cancelled by the deadline", async () => {
      const o = await http<{ status: string; reason?: string }>("GET", `${sys.url("order")}/orders/${id}`);
      return o.body.status === "CANCELLED" ? o.body : undefined;
    });
    expect(cancelled.reason).toBe("timed out waiting for payment");
    await waitFor("stock released", async () => {
      const s = await http<{ available: number; reserved: number }>(
        "GET",
        `${sys.url("inventory")}/stock/apple`,
      );
      return s.body.available === 3 && s.body.reserved === 0;
    });

    // The payment arrives after all: the saga asks for a refund.
    const nc = await connect({ servers: sys.nats.url });
    await publish(
      jetstream(nc),
      catalog,
      "payment.charged",
      { orderId: id, customerId: "alice", amountCents: 200 },
      { source: "/orderflow/billing", correlationId: id },
    );
    const s = await waitFor("refund requested", async () => {
      const r = await http<Saga>("GET", `${sys.url("saga")}/sagas/${id}`);
      return r.body.steps.payment === "REFUND_REQUESTED" ? r.body : undefined;
    });
    expect(s.history.map((x) => x.event)).toEqual(
      expect.arrayContaining(["order.created", "inventory.reserved", "deadline", "payment.charged"]),
    );
    await nc.close();
  }, 60_000);

  it("a redelivered event changes nothing: every consumer applies it once", async () => {
    await using sys = await startSystem([order, inventory, billing, saga]);
    await listPrices(sys.url("order"), { apple: 100, pear: 100 });
    await http("PUT", `${sys.url("inventory")}/stock/pear`, { available: 10 });
    await http("PUT", `${sys.url("billing")}/accounts/bob`, { balanceCents: 1000 });
    const placed = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, {
      customerId: "bob",
      items: [{ sku: "pear", quantity: 3, unitPriceCents: 100 }],
    });
    const id = placed.body.orderId;
    await waitFor(
      "confirmed",
      async () =>
        (await http<{ status: string }>("GET", `${sys.url("order")}/orders/${id}`)).body.status ===
        "CONFIRMED",
    );

    const nc = await connect({ servers: sys.nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    // The saga journals order.confirmed after the order is CONFIRMED: count once everything is out.
    await quiesce(jsm, sys.services);
    const created = await jsm.streams.getMessage("ORDERS", { last_by_subj: "orders.order.created" });
    // Same event id, new Nats-Msg-Id: JetStream stores it again, as a broker redelivery would deliver it.
    const h = natsHeaders();
    for (const [k, vs] of created!.header) if (k !== "Nats-Msg-Id") for (const v of vs) h.append(k, v);
    const before: Record<string, number> = Object.fromEntries(
      await Promise.all(
        ["ORDERS", "INVENTORY", "BILLING", "SAGA"].map(async (s): Promise<[string, number]> => [
          s,
          (await jsm.streams.info(s)).state.messages,
        ]),
      ),
    );
    await js.publish(created!.subject, created!.data, { headers: h, msgID: newEventId() });
    await waitFor("every consumer caught up", async () => {
      for (const [stream, consumer] of [
        ["ORDERS", "inventory"],
        ["ORDERS", "billing"],
        ["ORDERS", "saga"],
      ] as const) {
        const c = await jsm.consumers.info(stream, consumer);
        if (c.num_pending + c.num_ack_pending > 0) return false;
      }
      return true;
    });
    expect(
      (await http<{ available: number }>("GET", `${sys.url("inventory")}/stock/pear`)).body.available,
    ).toBe(7);
    expect(
      (await http<{ balanceCents: number }>("GET", `${sys.url("billing")}/accounts/bob`)).body.balanceCents,
    ).toBe(700);
    for (const s of ["INVENTORY", "BILLING", "SAGA"])
      expect((await jsm.streams.info(s)).state.messages).toBe(before[s]);
    await nc.close();
  }, 60_000);
});

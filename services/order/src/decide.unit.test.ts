import { describe, expect, it } from "vitest";
import { decide, evolve, totalOf, type OrderState } from "./decide.js";

const pending: OrderState = { orderId: "o1", customerId: "c1", status: "PENDING", totalCents: 300 };
const approve = { name: "order.approve.requested", data: { orderId: "o1" } } as const;
const cancel = { name: "order.cancel.requested", data: { orderId: "o1", reason: "out of stock" } } as const;

describe("order decide/evolve", () => {
  it("confirms a pending order", () => {
    const events = decide(approve, pending);
    expect(events).toEqual([{ name: "order.confirmed", data: { orderId: "o1", customerId: "c1", totalCents: 300 } }]);
    expect(evolve(pending, events[0]!).status).toBe("CONFIRMED");
  });

  it("cancels a pending order with the saga's reason", () => {
    const events = decide(cancel, pending);
    expect(events).toEqual([{ name: "order.cancelled", data: { orderId: "o1", customerId: "c1", reason: "out of stock" } }]);
    expect(evolve(pending, events[0]!)).toMatchObject({ status: "CANCELLED", reason: "out of stock" });
  });

  it("leaves PENDING only once: later decisions change nothing", () => {
    expect(decide(cancel, { ...pending, status: "CONFIRMED" })).toEqual([]);
    expect(decide(approve, { ...pending, status: "CANCELLED" })).toEqual([]);
    expect(decide(approve, { ...pending, status: "CONFIRMED" })).toEqual([]);
  });

  it("totals quantity × unit price", () => {
    expect(totalOf([{ quantity: 2, unitPriceCents: 150 }, { quantity: 1, unitPriceCents: 99 }])).toBe(399);
  });
});

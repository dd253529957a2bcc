import { describe, expect, it } from "vitest";
import { decide, evolve, type InventoryEvent, type InventoryInput, type InventoryState } from "./decide.js";

const given = (stock: Record<string, number>, events: InventoryEvent[] = []): InventoryState =>
  events.reduce(evolve, {
    stock: new Map(Object.entries(stock).map(([sku, available]) => [sku, { available, reserved: 0 }])),
  });
const created = (items: { sku: string; quantity: number }[]): InventoryInput => ({
  name: "order.created",
  data: { orderId: "o1", customerId: "c1", items: items.map((l) => ({ ...l, unitPriceCents: 1 })), totalCents: 1, currency: "USD" },
});
const release: InventoryInput = { name: "inventory.release.requested", data: { orderId: "o1", reason: "declined" } };
const approve: InventoryInput = { name: "order.approve.requested", data: { orderId: "o1" } };

describe("inventory decide/evolve", () => {
  it("reserves every line when all are in stock, summing repeated SKUs", () => {
    const events = decide(created([{ sku: "b", quantity: 1 }, { sku: "a", quantity: 2 }, { sku: "b", quantity: 2 }]), given({ a: 2, b: 3 }));
    expect(events).toEqual([{ name: "inventory.reserved", data: { orderId: "o1", items: [{ sku: "a", quantity: 2 }, { sku: "b", quantity: 3 }] } }]);
    const after = events.reduce(evolve, given({ a: 2, b: 3 }));
    expect(after.stock.get("a")).toEqual({ available: 0, reserved: 2 });
    expect(after.stock.get("b")).toEqual({ available: 0, reserved: 3 });
  });

  it("reserves nothing when one line is short, naming that SKU; unknown SKUs have none", () => {
    expect(decide(created([{ sku: "a", quantity: 1 }, { sku: "b", quantity: 4 }]), given({ a: 5, b: 3 }))).toEqual([
      { name: "inventory.rejected", data: { orderId: "o1", sku: "b", reason: "insufficient stock for b: requested 4, available 3" } },
    ]);
    expect(decide(created([{ sku: "zz", quantity: 1 }]), given({}))[0]?.name).toBe("inventory.rejected");
  });

  it("releases a live reservation once, and releases nothing without one", () => {
    const reserved = decide(created([{ sku: "a", quantity: 2 }]), given({ a: 2 }));
    const state = reserved.reduce(evolve, given({ a: 2 }));
    const released = decide(release, state);
    expect(released).toEqual([{ name: "inventory.released", data: { orderId: "o1", items: [{ sku: "a", quantity: 2 }] } }]);
    const after = released.reduce(evolve, state);
    expect(after.stock.get("a")).toEqual({ available: 2, reserved: 0 });
    expect(decide(release, after)).toEqual([]);
    expect(decide(approve, after)).toEqual([]);
    expect(decide(release, given({ a: 2 }))).toEqual([]);
  });

  it("commits a live reservation once: the stock leaves for good", () => {
    const state = decide(created([{ sku: "a", quantity: 2 }]), given({ a: 5 })).reduce(evolve, given({ a: 5 }));
    const committed = decide(approve, state);
    expect(committed[0]?.name).toBe("inventory.committed");
    const after = committed.reduce(evolve, state);
    expect(after.stock.get("a")).toEqual({ available: 3, reserved: 0 });
    expect(decide(approve, after)).toEqual([]);
    expect(decide(release, after)).toEqual([]);
  });

  it("decides an order only once", () => {
    const state = decide(created([{ sku: "a", quantity: 1 }]), given({ a: 5 })).reduce(evolve, given({ a: 5 }));
    expect(decide(created([{ sku: "a", quantity: 1 }]), state)).toEqual([]);
  });

  it("stock.set replaces what is available and keeps reservations", () => {
    const state = decide(created([{ sku: "a", quantity: 2 }]), given({ a: 5 })).reduce(evolve, given({ a: 5 }));
    expect(evolve(state, { name: "stock.set", data: { sku: "a", available: 10 } }).stock.get("a")).toEqual({ available: 10, reserved: 2 });
  });
});

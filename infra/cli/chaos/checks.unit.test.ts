import { describe, expect, it } from "vitest";
import { judge, type History, type StreamEvent } from "./checks.js";

/** A clean history: two orders (one confirmed, one cancelled), stock and money where they should be. */
function clean(): History {
  const events: StreamEvent[] = [
    { stream: "ORDERS", id: "e1", name: "order.created", subject: "o1" },
    { stream: "ORDERS", id: "e2", name: "order.created", subject: "o2" },
    { stream: "INVENTORY", id: "e3", name: "inventory.reserved", subject: "o1" },
    { stream: "ORDERS", id: "e4", name: "order.confirmed", subject: "o1" },
    { stream: "ORDERS", id: "e5", name: "order.cancelled", subject: "o2" },
  ];
  return {
    accepted: [
      {
        key: "k1",
        orderId: "o1",
        customerId: "alice",
        items: [{ sku: "apple", quantity: 2 }],
        totalCents: 300,
      },
      {
        key: "k2",
        orderId: "o2",
        customerId: "poor",
        items: [{ sku: "apple", quantity: 1 }],
        totalCents: 150,
      },
    ],
    unresolved: [],
    retryMismatches: [],
    finalOrders: new Map([
      ["o1", { status: "CONFIRMED" }],
      ["o2", { status: "CANCELLED", reason: "payment declined" }],
    ]),
    events,
    stock: { initial: new Map([["apple", 10]]), final: new Map([["apple", { available: 8, reserved: 0 }]]) },
    balances: {
      initial: new Map([
        ["alice", 1000],
        ["poor", 100],
      ]),
      final: new Map([
        ["alice", 700],
        ["poor", 100],
      ]),
    },
    deadLetters: [],
  };
}

describe("the chaos verdict", () => {
  it("passes a clean history", () => {
    const v = judge(clean());
    expect(v).toMatchObject({ orders: 2, confirmed: 1, cancelled: 1, lost: 0, doubled: 0, violations: [] });
  });

  it("counts a pending order, a missing outcome event and an unanswered POST as lost", () => {
    const h = clean();
    const v = judge({
      ...h,
      finalOrders: new Map([...h.finalOrders, ["o1", { status: "PENDING" }]]),
      events: h.events.filter((e) => e.id !== "e5"),
      unresolved: ["k9"],
    });
    expect(v.lost).toBe(3);
    expect(v.violations.join("\n")).toMatch(/lost: order o1 is PENDING/);
    expect(v.violations.join("\n")).toMatch(/lost: order o2 is CANCELLED but no outcome event/);
    expect(v.violations.join("\n")).toMatch(/k9 never got an answer/);
  });

  it("counts a stored event id twice, two outcomes and two ids for one key as doubled", () => {
    const h = clean();
    const v = judge({
      ...h,
      events: [
        ...h.events,
        { stream: "INVENTORY", id: "e3", name: "inventory.reserved", subject: "o1" },
        { stream: "ORDERS", id: "e6", name: "order.cancelled", subject: "o1" },
      ],
      retryMismatches: ["k1"],
    });
    expect(v.doubled).toBe(3);
  });

  it("finds stock and money not conserved, a reservation left and a negative balance", () => {
    const h = clean();
    const v = judge({
      ...h,
      stock: { ...h.stock, final: new Map([["apple", { available: 7, reserved: 1 }]]) },
      balances: {
        ...h.balances,
        final: new Map([
          ["alice", 400],
          ["poor", -50],
        ]),
      },
    });
    expect(v.violations).toEqual(
      expect.arrayContaining([
        "stock: apple still has 1 reserved",
        "stock: apple has 7 available, conservation says 8",
        "money: alice has 400 cents, conservation says 700",
        "money: poor has -50 cents, conservation says 100",
        "money: poor has a negative balance (-50)",
      ]),
    );
    expect(v.lost + v.doubled).toBe(0);
  });

  it("reports dead letters and an order no client placed", () => {
    const h = clean();
    const v = judge({
      ...h,
      events: [...h.events, { stream: "ORDERS", id: "e7", name: "order.created", subject: "ghost" }],
      deadLetters: [{ consumer: "billing", type: "orderflow.order.created.v1", reason: "boom" }],
    });
    expect(v.violations).toEqual(
      expect.arrayContaining([
        "order ghost is in the stream but no client placed it",
        "dead letter in billing: orderflow.order.created.v1: boom",
      ]),
    );
  });
});

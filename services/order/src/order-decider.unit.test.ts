import { describe, expect, it } from "vitest";
import {
  decide,
  evolve,
  ignoredBecause,
  totalOf,
  type OrderCommand,
  type OrderState,
} from "./order-decider.js";

const pending: OrderState = { orderId: "o1", customerId: "c1", status: "PENDING", totalCents: 300 };
const approve: OrderCommand = { name: "order.approve.requested", data: { orderId: "o1" } };
const cancel: OrderCommand = {
  name: "order.cancel.requested",
  data: { orderId: "o1", reason: "out of stock: insufficient stock for sku-rare" },
};

/** given(commands already applied).when(command).then(events, state) */
function given(...history: OrderCommand[]) {
  const before = history.reduce((s, c) => decide(c, s).reduce(evolve, s), pending);
  return {
    when(command: OrderCommand) {
      const events = decide(command, before);
      return {
        then(expected: ReturnType<typeof decide>, state: Partial<OrderState>) {
          expect(events).toEqual(expected);
          expect(events.reduce(evolve, before)).toMatchObject(state);
        },
        ignored(conflict: boolean) {
          expect(events).toEqual([]);
          expect(events.reduce(evolve, before)).toEqual(before);
          expect(ignoredBecause(command, before)?.conflict).toBe(conflict);
        },
      };
    },
  };
}

describe("order decide/evolve", () => {
  it("given PENDING, when approved → order.confirmed and CONFIRMED", () => {
    given()
      .when(approve)
      .then([{ name: "order.confirmed", data: { orderId: "o1", customerId: "c1", totalCents: 300 } }], {
        status: "CONFIRMED",
      });
    expect(ignoredBecause(approve, pending)).toBeUndefined();
  });

  it("given PENDING, when cancelled → order.cancelled with the saga's reason, CANCELLED", () => {
    given()
      .when(cancel)
      .then(
        [
          {
            name: "order.cancelled",
            data: {
              orderId: "o1",
              customerId: "c1",
              reason: "out of stock: insufficient stock for sku-rare",
            },
          },
        ],
        {
          status: "CANCELLED",
          reason: "out of stock: insufficient stock for sku-rare",
        },
      );
  });

  it("a repeated decision is ignored quietly", () => {
    given(approve).when(approve).ignored(false);
    given(cancel).when(cancel).ignored(false);
  });

  it("the opposite decision is ignored and flagged as a conflict: cancel after confirm, approve after cancel", () => {
    given(approve).when(cancel).ignored(true);
    given(cancel).when(approve).ignored(true);
    expect(ignoredBecause(cancel, { ...pending, status: "CONFIRMED" })?.message).toBe(
      "order.cancel.requested ignored: order already CONFIRMED",
    );
  });

  it("keeps the first cancellation reason", () => {
    const once = decide(cancel, pending).reduce(evolve, pending);
    const again = decide(
      { name: "order.cancel.requested", data: { orderId: "o1", reason: "something else" } },
      once,
    ).reduce(evolve, once);
    expect(again.reason).toBe("out of stock: insufficient stock for sku-rare");
  });

  it("totals quantity × unit price", () => {
    expect(
      totalOf([
        { quantity: 2, unitPriceCents: 150 },
        { quantity: 1, unitPriceCents: 99 },
      ]),
    ).toBe(399);
    expect(totalOf([{ quantity: 3, unitPriceCents: 0 }])).toBe(0);
  });
});

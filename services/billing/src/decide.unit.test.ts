import { describe, expect, it } from "vitest";
import { decide, evolve, type BillingInput, type BillingState } from "./decide.js";

const created = (totalCents: number, currency = "USD"): BillingInput => ({
  name: "order.created",
  data: { orderId: "o1", customerId: "c1", items: [{ sku: "a", quantity: 1, unitPriceCents: totalCents }], totalCents, currency },
});
const refund: BillingInput = { name: "payment.refund.requested", data: { orderId: "o1", reason: "out of stock" } };
const account = (balanceCents: number | undefined): BillingState => ({ balanceCents });

describe("billing decide/evolve", () => {
  it("charges when the balance covers the total, exactly down to zero", () => {
    const events = decide(created(500), account(500));
    expect(events).toEqual([{ name: "payment.charged", data: { orderId: "o1", customerId: "c1", amountCents: 500 } }]);
    expect(events.reduce(evolve, account(500)).balanceCents).toBe(0);
  });

  it("declines with the reason when it does not, or without an account, or in another currency", () => {
    expect(decide(created(501), account(500))).toEqual([
      { name: "payment.declined", data: { orderId: "o1", customerId: "c1", amountCents: 501, reason: "insufficient funds: balance 500, total 501" } },
    ]);
    expect(decide(created(1), account(undefined))[0]?.name).toBe("payment.declined");
    expect(decide(created(1, "EUR"), account(500))[0]?.data).toMatchObject({ reason: "unsupported currency EUR" });
  });

  it("refunds a charge once and never what was not charged", () => {
    const charged = decide(created(200), account(500)).reduce(evolve, account(500));
    const refunded = decide(refund, charged);
    expect(refunded).toEqual([{ name: "payment.refunded", data: { orderId: "o1", customerId: "c1", amountCents: 200 } }]);
    const after = refunded.reduce(evolve, charged);
    expect(after.balanceCents).toBe(500);
    expect(decide(refund, after)).toEqual([]);
    expect(decide(refund, account(500))).toEqual([]);
    expect(decide(refund, decide(created(900), account(500)).reduce(evolve, account(500)))).toEqual([]);
  });

  it("decides an order once", () => {
    const charged = decide(created(200), account(500)).reduce(evolve, account(500));
    expect(decide(created(200), charged)).toEqual([]);
  });
});

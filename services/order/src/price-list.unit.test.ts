import { describe, expect, it } from "vitest";
import { priceOrder } from "./price-list.js";

const listed = new Map([
  ["sku-apple", 150],
  ["sku-pear", 250],
]);

describe("priceOrder", () => {
  it("takes every line's price from the list and totals them; a stated price equal to it is fine", () => {
    expect(
      priceOrder(
        [
          { sku: "sku-apple", quantity: 2 },
          { sku: "sku-pear", quantity: 1, unitPriceCents: 250 },
        ],
        listed,
      ),
    ).toEqual({
      kind: "priced",
      items: [
        { sku: "sku-apple", quantity: 2, unitPriceCents: 150 },
        { sku: "sku-pear", quantity: 1, unitPriceCents: 250 },
      ],
      totalCents: 550,
    });
  });

  it("a stated price that differs → price-mismatch naming each such line", () => {
    expect(
      priceOrder(
        [
          { sku: "sku-apple", quantity: 1, unitPriceCents: 1 },
          { sku: "sku-pear", quantity: 1 },
          { sku: "sku-apple", quantity: 1, unitPriceCents: 0 },
        ],
        listed,
      ),
    ).toEqual({
      kind: "price-mismatch",
      issues: [
        { path: "items.0.unitPriceCents", message: "sku-apple is listed at 150, not 1" },
        { path: "items.2.unitPriceCents", message: "sku-apple is listed at 150, not 0" },
      ],
    });
  });

  it("an unknown sku → invalid naming it, before any mismatch", () => {
    const r = priceOrder(
      [
        { sku: "sku-apple", quantity: 1, unitPriceCents: 1 },
        { sku: "ghost", quantity: 1 },
      ],
      listed,
    );
    expect(r.kind).toBe("invalid");
    expect(r.kind !== "priced" && r.issues.map((i) => i.path)).toEqual(["items.1.sku"]);
  });

  it("a total past the largest safe integer → invalid naming items", () => {
    const r = priceOrder([{ sku: "big", quantity: 1_000_000 }], new Map([["big", Number.MAX_SAFE_INTEGER]]));
    expect(r).toEqual({
      kind: "invalid",
      issues: [{ path: "items", message: "order total exceeds the largest supported amount" }],
    });
  });
});

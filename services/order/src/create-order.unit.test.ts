import { describe, expect, it } from "vitest";
import { CreateOrderRequest, IdempotencyHeaders, requestHash } from "./create-order.js";

const valid = { customerId: "alice", items: [{ sku: "sku-apple", quantity: 2, unitPriceCents: 150 }] };
const paths = (input: unknown) => {
  const r = CreateOrderRequest.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
};

describe("CreateOrderRequest", () => {
  it("accepts a valid order and drops unknown keys", () => {
    expect(CreateOrderRequest.parse({ ...valid, extra: 1 })).toEqual(valid);
  });

  it("takes lines without a unit price (the price list sets it)", () => {
    const unpriced = { customerId: "alice", items: [{ sku: "sku-apple", quantity: 2 }] };
    expect(CreateOrderRequest.parse(unpriced)).toEqual(unpriced);
  });

  it.each([
    [{ items: valid.items }, ["customerId"]],
    [{ ...valid, customerId: "" }, ["customerId"]],
    [{ ...valid, customerId: "x".repeat(65) }, ["customerId"]],
    [{ ...valid, items: [] }, ["items"]],
    [{ ...valid, items: Array.from({ length: 101 }, () => valid.items[0]) }, ["items"]],
    [{ ...valid, items: [{ sku: "", quantity: 1, unitPriceCents: 1 }] }, ["items.0.sku"]],
    [{ ...valid, items: [{ sku: "s".repeat(65), quantity: 1, unitPriceCents: 1 }] }, ["items.0.sku"]],
    [{ ...valid, items: [{ sku: "a", quantity: 0, unitPriceCents: 1 }] }, ["items.0.quantity"]],
    [{ ...valid, items: [{ sku: "a", quantity: 1.5, unitPriceCents: 1 }] }, ["items.0.quantity"]],
    [{ ...valid, items: [{ sku: "a", quantity: 1, unitPriceCents: -1 }] }, ["items.0.unitPriceCents"]],
    [{ ...valid, items: [{ sku: "a", quantity: 1, unitPriceCents: "1" }] }, ["items.0.unitPriceCents"]],
    [{ ...valid, items: [{ sku: "a", quantity: 1, unitPriceCents: 1.5 }] }, ["items.0.unitPriceCents"]],
  ])("rejects %j naming %j", (input, expected) => {
    expect(paths(input)).toEqual(expected);
  });
});

describe("requestHash", () => {
  it("ignores key order and unknown keys, and changes with any line", () => {
    const a = requestHash(CreateOrderRequest.parse(valid));
    const reordered = CreateOrderRequest.parse({
      items: [{ unitPriceCents: 150, quantity: 2, sku: "sku-apple" }],
      customerId: "alice",
      note: "x",
    });
    expect(requestHash(reordered)).toBe(a);
    expect(requestHash(CreateOrderRequest.parse({ ...valid, customerId: "bob" }))).not.toBe(a);
    // Stating the price or not is a different request.
    expect(
      requestHash(CreateOrderRequest.parse({ ...valid, items: [{ sku: "sku-apple", quantity: 2 }] })),
    ).not.toBe(a);
    expect(
      requestHash(CreateOrderRequest.parse({ ...valid, items: [{ ...valid.items[0]!, quantity: 3 }] })),
    ).not.toBe(a);
  });
});

describe("IdempotencyHeaders", () => {
  it("takes an optional key of 1..255 characters", () => {
    expect(IdempotencyHeaders.parse({ host: "x" })).toEqual({});
    expect(IdempotencyHeaders.parse({ "idempotency-key": "k1" })).toEqual({ "idempotency-key": "k1" });
    expect(IdempotencyHeaders.safeParse({ "idempotency-key": "" }).success).toBe(false);
    expect(IdempotencyHeaders.safeParse({ "idempotency-key": "k".repeat(256) }).success).toBe(false);
  });
});

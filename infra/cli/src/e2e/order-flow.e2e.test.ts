import { definition as billing } from "@orderflow/billing";
import { definition as inventory } from "@orderflow/inventory";
import { definition as order } from "@orderflow/order";
import { definition as saga } from "@orderflow/saga";
import { waitFor } from "@orderflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http, listPrices, startSystem, type TestSystem } from "./system.js";

type Order = { orderId: string; status: string; reason?: string; totalCents: number; customerId: string };

describe("order flow end to end (four services, real NATS and PostgreSQL)", () => {
  let sys: TestSystem;
  const put = (svc: string, path: string, body: unknown) => http("PUT", `${sys.url(svc)}${path}`, body);
  const stock = async (sku: string) =>
    (await http<{ available: number; reserved: number }>("GET", `${sys.url("inventory")}/stock/${sku}`)).body;
  const balance = async (c: string) =>
    (await http<{ balanceCents: number }>("GET", `${sys.url("billing")}/accounts/${c}`)).body.balanceCents;
  const place = async (
    customerId: string,
    items: { sku: string; quantity: number; unitPriceCents?: number }[],
    key?: string,
  ) => {
    const r = await http<{ orderId: string; status: string }>(
      "POST",
      `${sys.url("order")}/orders`,
      { customerId, items },
      key ? { "Idempotency-Key": key } : {},
    );
    expect(r.status).toBe(201);
    return r.body.orderId;
  };
  const terminal = (id: string, timeoutMs = 20_000) =>
    waitFor(
      `order ${id} terminal`,
      async () => {
        const r = await http<Order>("GET", `${sys.url("order")}/orders/${id}`);
        return r.body.status !== "PENDING" ? r.body : undefined;
      },
      { timeoutMs },
    );
  const settled = (id: string) =>
    waitFor(`saga ${id} settled`, async () => {
      const r = await http<{ state: string }>("GET", `${sys.url("saga")}/sagas/${id}`);
      return ["APPROVED", "CONFIRMED", "CANCELLED", "COMPLETED"].includes(r.body.state) ? r.body : undefined;
    });

  beforeAll(async () => {
    sys = await startSystem([order, inventory, billing, saga], { SAGA_DEADLINE_MS: "5000" });
    await listPrices(sys.url("order"), { apple: 150, rare: 100, pear: 500, ghost: 100, kiwi: 100 });
    await listPrices(sys.url("order"), { s1: 50, s2: 70, s3: 90 });
  }, 60_000);
  afterAll(async () => {
    await sys?.[Symbol.asyncDispose]();
  }, 60_000);

  it("confirms an order that has stock and funds", async () => {
    await put("inventory", "/stock/apple", { available: 10 });
    await put("billing", "/accounts/alice", { balanceCents: 1000 });
    const id = await place("alice", [{ sku: "apple", quantity: 2, unitPriceCents: 150 }]);
    expect((await terminal(id)).status).toBe("CONFIRMED");
    await waitFor("reservation committed", async () => (await stock("apple")).reserved === 0);
    expect(await stock("apple")).toMatchObject({ available: 8, reserved: 0 });
    expect(await balance("alice")).toBe(700);
  });

  it("out of stock: refunds the payment and cancels", async () => {
    await put("inventory", "/stock/rare", { available: 1 });
    await put("billing", "/accounts/bob", { balanceCents: 5000 });
    const id = await place("bob", [{ sku: "rare", quantity: 5, unitPriceCents: 100 }]);
    const o = await terminal(id);
    expect(o.status).toBe("CANCELLED");
    expect(o.reason).toMatch(/stock/i);
    await waitFor("refund", async () => (await balance("bob")) === 5000);
    expect(await stock("rare")).toMatchObject({ available: 1, reserved: 0 });
  });

  it("declined: releases the stock and cancels", async () => {
    await put("inventory", "/stock/pear", { available: 5 });
    await put("billing", "/accounts/carol", { balanceCents: 100 });
    const id = await place("carol", [{ sku: "pear", quantity: 2, unitPriceCents: 500 }]);
    const o = await terminal(id);
    expect(o.status).toBe("CANCELLED");
    expect(o.reason).toMatch(/payment|declin|funds|balance/i);
    await waitFor("release", async () => (await stock("pear")).available === 5);
    expect(await stock("pear")).toMatchObject({ reserved: 0 });
    expect(await balance("carol")).toBe(100);
  });

  it("both fail: cancels with nothing to compensate", async () => {
    const id = await place("nobody", [{ sku: "ghost", quantity: 1, unitPriceCents: 100 }]);
    expect((await terminal(id)).status).toBe("CANCELLED");
  });

  it("the same Idempotency-Key returns the same order", async () => {
    await put("inventory", "/stock/kiwi", { available: 10 });
    await put("billing", "/accounts/dave", { balanceCents: 1000 });
    const a = await place("dave", [{ sku: "kiwi", quantity: 1, unitPriceCents: 100 }], "key-1");
    const b = await place("dave", [{ sku: "kiwi", quantity: 1, unitPriceCents: 100 }], "key-1");
    expect(b).toBe(a);
    expect((await terminal(a)).status).toBe("CONFIRMED");
    expect(await balance("dave")).toBe(900);
    expect((await stock("kiwi")).available).toBe(9);
  });

  it("a stated price that is not the listed one → 409: no order, no reservation, nothing charged", async () => {
    await put("inventory", "/stock/fig", { available: 5 });
    await put("billing", "/accounts/eve", { balanceCents: 1000 });
    await listPrices(sys.url("order"), { fig: 300 });
    const r = await http<{ issues: { path: string }[] }>("POST", `${sys.url("order")}/orders`, {
      customerId: "eve",
      items: [{ sku: "fig", quantity: 1, unitPriceCents: 1 }],
    });
    expect(r.status).toBe(409);
    expect(r.body.issues.map((i) => i.path)).toEqual(["items.0.unitPriceCents"]);
    // A valid order after it goes all the way: had the refused one gone anywhere, it would be seen first.
    const id = await place("eve", [{ sku: "fig", quantity: 1 }]);
    expect(await terminal(id)).toMatchObject({ status: "CONFIRMED", totalCents: 300 });
    await settled(id);
    expect(await balance("eve")).toBe(700);
    expect(await stock("fig")).toEqual({ sku: "fig", available: 4, reserved: 0 });
  });

  it("200 concurrent orders over few SKUs and customers keep every invariant", async () => {
    const skus = { s1: 40, s2: 25, s3: 10 } as Record<string, number>;
    const customers = { c1: 20_000, c2: 5_000, c3: 800, c4: 0 } as Record<string, number>;
    for (const [sku, n] of Object.entries(skus)) await put("inventory", `/stock/${sku}`, { available: n });
    for (const [c, n] of Object.entries(customers))
      await put("billing", `/accounts/${c}`, { balanceCents: n });
    const skuNames = Object.keys(skus);
    const custNames = Object.keys(customers);
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        place(custNames[i % custNames.length]!, [
          { sku: skuNames[i % skuNames.length]!, quantity: 1 + (i % 3) },
          ...(i % 5 === 0 ? [{ sku: skuNames[(i + 1) % skuNames.length]!, quantity: 1 }] : []),
        ]),
      ),
    );
    const orders: Order[] = [];
    for (const id of ids) orders.push(await terminal(id, 60_000));
    for (const id of ids) await settled(id);

    const items = new Map<string, { sku: string; quantity: number; unitPriceCents: number }[]>();
    for (const id of ids) {
      const r = await http<{ items: { sku: string; quantity: number; unitPriceCents: number }[] }>(
        "GET",
        `${sys.url("order")}/orders/${id}`,
      );
      items.set(id, r.body.items);
    }
    const confirmed = orders.filter((o) => o.status === "CONFIRMED");
    expect(confirmed.length).toBeGreaterThan(0);
    expect(orders.length - confirmed.length).toBeGreaterThan(0);

    await waitFor("no stock left reserved", async () => {
      for (const sku of skuNames) if ((await stock(sku)).reserved !== 0) return false;
      return true;
    });
    for (const sku of skuNames) {
      const committed = confirmed
        .flatMap((o) => items.get(o.orderId)!)
        .filter((l) => l.sku === sku)
        .reduce((n, l) => n + l.quantity, 0);
      const s = await stock(sku);
      expect(s.available).toBeGreaterThanOrEqual(0);
      expect(s.available + committed).toBe(skus[sku]);
    }
    await waitFor("refunds settled", async () => {
      for (const c of custNames) {
        const spent = confirmed.filter((o) => o.customerId === c).reduce((n, o) => n + o.totalCents, 0);
        if ((await balance(c)) !== customers[c]! - spent) return false;
      }
      return true;
    });
    for (const c of custNames) expect(await balance(c)).toBeGreaterThanOrEqual(0);
  }, 120_000);
});

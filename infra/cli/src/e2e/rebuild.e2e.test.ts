import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { definition as billing } from "@orderflow/billing";
import { definition as inventory } from "@orderflow/inventory";
import { waitFor } from "@orderflow/testing";
import { definition as order } from "@orderflow/order";
import { controlSubject, openDatabase, rebuildDatabase, Topology } from "@orderflow/outbox";
import { definition as saga } from "@orderflow/saga";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { rebuildOptions } from "../recovery/context.js";
import { http, listPrices, quiesce, startSystem } from "./system.js";

async function snapshot(url: string, queries: string[]): Promise<unknown[]> {
  await using db = openDatabase({ connectionString: url, max: 1 });
  const out: unknown[] = [];
  for (const q of queries) out.push((await sql.raw(q).execute(db)).rows);
  return out;
}

describe("orderflow rebuild", () => {
  it("restores all four services from their events while the system runs, publishing nothing twice", async () => {
    // A deadline short enough to expire while billing is paused, long enough for the rest to answer.
    await using sys = await startSystem([order, inventory, billing, saga], { SAGA_DEADLINE_MS: "3000" });
    await listPrices(sys.url("order"), { a: 100, b: 100 });
    await http("PUT", `${sys.url("inventory")}/stock/a`, { available: 20 });
    await http("PUT", `${sys.url("inventory")}/stock/b`, { available: 5 });
    await http("PUT", `${sys.url("billing")}/accounts/c1`, { balanceCents: 3000 });
    await http("PUT", `${sys.url("billing")}/accounts/c2`, { balanceCents: 400 });
    const ids = [];
    for (let i = 0; i < 30; i++) {
      const r = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, {
        customerId: i % 2 ? "c1" : "c2",
        items: [{ sku: i % 3 ? "a" : "b", quantity: 1 + (i % 2), unitPriceCents: 100 }],
      });
      ids.push(r.body.orderId);
    }
    // Idempotent retries: the same key and body answer the same order, another body 422.
    const keyed: { key: string; body: object; orderId: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const key = `rebuild-key-${i}`;
      const body = { customerId: "c1", items: [{ sku: "a", quantity: 1 + i }] };
      const first = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, body, {
        "idempotency-key": key,
      });
      const again = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, body, {
        "idempotency-key": key,
      });
      expect([first.status, again.status, again.body.orderId]).toEqual([201, 201, first.body.orderId]);
      keyed.push({ key, body, orderId: first.body.orderId });
      ids.push(first.body.orderId);
    }
    // Billing paused: the saga's deadline passes, it compensates and cancels; billing then charges
    // late, and the saga has that refunded.
    const nc = await connect({ servers: sys.nats.url });
    const control = (command: string) => nc.request(controlSubject(new Topology(), "billing"), command);
    expect((await control("pause")).string()).toBe("paused");
    const late = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, {
      customerId: "c1",
      items: [{ sku: "a", quantity: 1 }],
    });
    ids.push(late.body.orderId);
    await waitFor("the late order's payment timed out", async () => {
      const s = await http<{ steps: { payment: string } }>(
        "GET",
        `${sys.url("saga")}/sagas/${late.body.orderId}`,
      );
      return s.body.steps.payment === "TIMED_OUT";
    });
    expect((await control("resume")).string()).toBe("running");
    for (const id of ids) {
      await waitFor(`saga ${id} done`, async () => {
        const s = await http<{ state: string; steps: { inventory: string; payment: string } }>(
          "GET",
          `${sys.url("saga")}/sagas/${id}`,
        );
        const compensating =
          s.body.steps.inventory === "RELEASE_REQUESTED" || s.body.steps.payment === "REFUND_REQUESTED";
        return s.body.state === "CONFIRMED" || (s.body.state === "CANCELLED" && !compensating);
      });
    }
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    type Counts = Record<"ORDERS" | "INVENTORY" | "BILLING" | "SAGA" | "DLQ", number>;
    const counts = async (): Promise<Counts> =>
      Object.fromEntries(
        await Promise.all(
          ["ORDERS", "INVENTORY", "BILLING", "SAGA", "DLQ"].map(async (s): Promise<[string, number]> => [
            s,
            (await jsm.streams.info(s)).state.messages,
          ]),
        ),
      ) as Counts;
    await quiesce(jsm, sys.services);
    const before = await counts();

    const cases = [
      {
        def: order,
        queries: [
          "SELECT * FROM orders ORDER BY id",
          "SELECT * FROM idempotency_keys ORDER BY key",
          "SELECT * FROM prices ORDER BY sku",
        ],
      },
      {
        def: saga,
        queries: [
          "SELECT * FROM sagas ORDER BY order_id",
          "SELECT * FROM saga_history ORDER BY order_id, seq",
        ],
      },
      {
        def: inventory,
        queries: ["SELECT * FROM stock ORDER BY sku", "SELECT * FROM reservations ORDER BY order_id, sku"],
      },
      {
        def: billing,
        queries: ["SELECT * FROM accounts ORDER BY customer_id", "SELECT * FROM payments ORDER BY order_id"],
      },
    ];
    for (const { def, queries } of cases) {
      const svc = sys.services[def.name]!;
      const want = await snapshot(svc.config.databaseUrl, queries);
      const result = await rebuildDatabase({
        ...(await rebuildOptions(def)),
        connectionString: svc.config.databaseUrl,
        nc,
        js,
        jsm,
        topology: new Topology(),
      });
      expect(result.coordinated).toBe(true);
      expect(result.applied).toBeGreaterThan(0);
      expect(await snapshot(svc.config.databaseUrl, queries)).toEqual(want);
      await waitFor(
        `${def.name} ready again`,
        async () => (await http("GET", `${svc.url}/readyz`)).status === 200,
      );
    }

    const sagas = (
      await snapshot(sys.services.saga!.config.databaseUrl, ["SELECT state, payment FROM sagas"])
    )[0];
    expect(sagas).toContainEqual({ state: "CANCELLED", payment: "REFUNDED" });
    expect(await counts()).toEqual(before);

    // The rebuilt order service answers the keys as before, publishing nothing.
    for (const { key, body, orderId } of keyed) {
      const again = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, body, {
        "idempotency-key": key,
      });
      expect([again.status, again.body.orderId]).toEqual([201, orderId]);
      const other = await http(
        "POST",
        `${sys.url("order")}/orders`,
        { ...body, customerId: "c2" },
        {
          "idempotency-key": key,
        },
      );
      expect(other.status).toBe(422);
    }

    // The rebuilt services keep working, and an order placed now still flows through them.
    const r = await http<{ orderId: string }>("POST", `${sys.url("order")}/orders`, {
      customerId: "c1",
      items: [{ sku: "a", quantity: 1, unitPriceCents: 100 }],
    });
    await waitFor(
      "new order terminal",
      async () =>
        (await http<{ status: string }>("GET", `${sys.url("order")}/orders/${r.body.orderId}`)).body
          .status !== "PENDING",
    );
    await quiesce(jsm, sys.services);
    const after = await counts();
    // Exactly the new order's events were added: 1 created + 1 confirmed|cancelled in ORDERS, etc. Nothing re-published.
    expect(after.ORDERS - before.ORDERS).toBe(2);
    expect(after.DLQ).toBe(before.DLQ);
    expect(after.INVENTORY - before.INVENTORY).toBeLessThanOrEqual(2);
    expect(after.BILLING - before.BILLING).toBeLessThanOrEqual(2);
    await nc.close();
  }, 120_000);
});

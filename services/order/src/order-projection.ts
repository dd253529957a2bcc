import type { CloudEvent } from "@orderflow/contracts";
import type { Transaction } from "kysely";
import type { OrderDb } from "./migrations.js";
import { evolve } from "./order-decider.js";
import { loadOrderForUpdate, pendingOrder, saveOrder } from "./order-store.js";
import { setPrice } from "./price-store.js";

/** The order service's own events: what it publishes to ORDERS. */
export type OrderOwnEvent = CloudEvent<"order.created" | "order.confirmed" | "order.cancelled" | "price.set">;

/**
 * Applies one of the order service's own events to its database: how `orderflow rebuild order`
 * restores orders (status, reason, and their times from ce-time), idempotency keys (from
 * `order.created` v3) and the price list from the ORDERS stream, through the live path's writes.
 * @example
 * await db.transaction().execute((trx) => applyOwnEvent(trx, event));
 */
export async function applyOwnEvent(trx: Transaction<OrderDb>, event: OrderOwnEvent): Promise<void> {
  const at = new Date(event.time);
  switch (event.name) {
    case "order.created": {
      const { data } = event;
      await trx
        .insertInto("orders")
        .values(pendingOrder(data, at))
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      if (data.idempotency)
        await trx
          .insertInto("idempotency_keys")
          .values({
            key: data.idempotency.key,
            order_id: data.orderId,
            request_hash: data.idempotency.requestHash,
            created_at: at,
          })
          .onConflict((oc) => oc.column("key").doNothing())
          .execute();
      return;
    }
    case "order.confirmed":
      await saveOrder(trx, evolve(await created(trx, event), { name: event.name, data: event.data }), at);
      return;
    case "order.cancelled":
      await saveOrder(trx, evolve(await created(trx, event), { name: event.name, data: event.data }), at);
      return;
    case "price.set":
      await setPrice(trx, event.data);
      return;
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** The order an outcome is about: the stream holds its `order.created` first (one outbox, per-key order). */
async function created(trx: Transaction<OrderDb>, event: OrderOwnEvent & { data: { orderId: string } }) {
  const order = await loadOrderForUpdate(trx, event.data.orderId);
  if (!order) throw new Error(`${event.name} ${event.id}: order ${event.data.orderId} was never created`);
  return order;
}

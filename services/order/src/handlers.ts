import { PermanentError, type HandlerContext, type Handlers } from "@orderflow/outbox";
import { sql } from "kysely";
import { decide, evolve, type OrderDecision } from "./decide.js";
import type { OrderStatus } from "./migrations.js";

async function apply(decision: OrderDecision, { trx, emit }: HandlerContext, now: () => Date): Promise<void> {
  const row = (
    await sql<{ customer_id: string; status: OrderStatus; total_cents: string }>`
      SELECT customer_id, status, total_cents FROM orders WHERE id::text = ${decision.data.orderId} FOR UPDATE`.execute(trx)
  ).rows[0];
  // The saga only decides on orders this service published; anything else is a foreign message.
  if (!row) throw new PermanentError(`unknown order ${decision.data.orderId}`);
  const order = {
    orderId: decision.data.orderId,
    customerId: row.customer_id,
    status: row.status,
    totalCents: Number(row.total_cents),
  };
  for (const event of decide(decision, order)) {
    const next = evolve(order, event);
    await sql`UPDATE orders SET status = ${next.status}, reason = ${next.reason ?? null}, updated_at = ${now()}
              WHERE id::text = ${order.orderId}`.execute(trx);
    await emit(event.name, event.data as never);
  }
}

export const handlers = ({ now }: { now: () => Date }): Handlers => ({
  "order.approve.requested": (e, ctx) => apply({ name: e.name, data: e.data }, ctx, now),
  "order.cancel.requested": (e, ctx) => apply({ name: e.name, data: e.data }, ctx, now),
});

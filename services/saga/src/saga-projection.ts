import type { CloudEventOf } from "@orderflow/events";
import type { SagaEvents } from "@orderflow/contracts";
import { sql, type Transaction } from "kysely";
import type { SagaDb } from "./migrations.js";

/**
 * Applies one of the saga's own events to its database: how `orderflow rebuild saga` restores every
 * saga and its history from the SAGA stream. Each `saga.transitioned` carries the state after the
 * transition and ce-time is when it happened, so the row and the history row are the ones the live
 * transition wrote (same statements' semantics as `applySagaInput`); the commands carry no state.
 * @example
 * await db.transaction().execute((trx) => applyOwnEvent(trx, event));
 */
export async function applyOwnEvent(
  trx: Transaction<SagaDb>,
  event: CloudEventOf<SagaEvents>,
): Promise<void> {
  if (event.name !== "saga.transitioned") return;
  const d = event.data;
  const at = new Date(event.time);
  const trace = { traceparent: d.traceparent ?? null, tracestate: d.tracestate ?? null };
  await sql`
    WITH saga AS (
      INSERT INTO sagas (order_id, state, inventory, payment, reason, customer_id, total_cents, currency,
                         cancel_requested, order_cancelled, traceparent, tracestate, deadline_at, created_at, updated_at)
      VALUES (${d.orderId}, ${d.to}, ${d.inventory}, ${d.payment}, ${d.reason ?? null}, ${d.order?.customerId ?? null},
              ${d.order?.totalCents ?? null}, ${d.order?.currency ?? null}, ${d.cancelRequested}, ${d.orderCancelled},
              ${trace.traceparent}, ${trace.tracestate}, ${d.deadlineAt ?? null}::timestamptz, ${at}, ${at})
      ON CONFLICT (order_id) DO UPDATE SET
        state = excluded.state, inventory = excluded.inventory, payment = excluded.payment,
        reason = excluded.reason, customer_id = excluded.customer_id, total_cents = excluded.total_cents,
        currency = excluded.currency, cancel_requested = excluded.cancel_requested,
        order_cancelled = excluded.order_cancelled,
        tracestate = CASE WHEN sagas.traceparent IS NULL THEN excluded.tracestate ELSE sagas.tracestate END,
        traceparent = coalesce(sagas.traceparent, excluded.traceparent),
        deadline_at = coalesce(excluded.deadline_at, sagas.deadline_at), updated_at = excluded.updated_at
    )
    INSERT INTO saga_history (order_id, seq, at, event, from_state, to_state, inventory, payment, sent)
    SELECT ${d.orderId}, coalesce(max(seq), 0) + 1, ${at}, ${d.event}, ${d.from}, ${d.to},
           ${d.inventory}, ${d.payment}, ${JSON.stringify(d.sent)}::jsonb
    FROM saga_history WHERE order_id = ${d.orderId}`.execute(trx);
}

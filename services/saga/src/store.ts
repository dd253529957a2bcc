import type { AnyTransaction } from "@orderflow/outbox";
import { sql } from "kysely";
import { decide, type SagaCommand, type SagaInput, type SagaState } from "./decide.js";

/**
 * Applies one input to an order's saga under a row lock: creates the saga on the first input of any
 * kind (replies can overtake order.created), decides, records the transition, and hands the
 * commands to `send` in the same transaction.
 */
export async function applyInput(
  trx: AnyTransaction,
  input: SagaInput,
  opts: { now: Date; deadlineMs: number; send: (command: SagaCommand) => Promise<unknown> },
): Promise<SagaState> {
  const orderId = input.data.orderId;
  await sql`
    INSERT INTO sagas (order_id, status, inventory, payment, failures, deadline_at, created_at, updated_at)
    VALUES (${orderId}, 'AWAITING', 'PENDING', 'PENDING', '[]',
            ${new Date(opts.now.getTime() + opts.deadlineMs)}, ${opts.now}, ${opts.now})
    ON CONFLICT (order_id) DO NOTHING`.execute(trx);
  const row = (
    await sql<{ status: SagaState["status"]; inventory: SagaState["inventory"]; payment: SagaState["payment"]; failures: string[] }>`
      SELECT status, inventory, payment, failures FROM sagas WHERE order_id = ${orderId} FOR UPDATE`.execute(trx)
  ).rows[0]!;
  const before: SagaState = { orderId, ...row };
  const { state, commands } = decide(input, before);
  const changed =
    state.status !== before.status || state.inventory !== before.inventory || state.payment !== before.payment;
  if (changed || input.name === "order.created") {
    await sql`
      UPDATE sagas SET status = ${state.status}, inventory = ${state.inventory}, payment = ${state.payment},
                       failures = ${JSON.stringify(state.failures)}::jsonb, updated_at = ${opts.now}
      WHERE order_id = ${orderId}`.execute(trx);
    await sql`
      INSERT INTO saga_history (order_id, at, event, from_status, to_status, inventory, payment)
      VALUES (${orderId}, ${opts.now}, ${input.name}, ${before.status}, ${state.status}, ${state.inventory}, ${state.payment})`.execute(trx);
  }
  for (const c of commands) await opts.send(c);
  return state;
}

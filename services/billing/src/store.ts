import type { AnyTransaction } from "@orderflow/outbox";
import { sql } from "kysely";
import type { BillingEvent, BillingState } from "./decide.js";

/** Loads and locks the customer's account and the order's payment. */
export async function loadForUpdate(trx: AnyTransaction, orderId: string, customerId: string | undefined): Promise<BillingState> {
  const payment = (
    await sql<{ state: "charged" | "declined" | "refunded"; customer_id: string; amount_cents: string }>`
      SELECT state, customer_id, amount_cents FROM payments WHERE order_id = ${orderId} FOR UPDATE`.execute(trx)
  ).rows[0];
  const customer = customerId ?? payment?.customer_id;
  const account = customer
    ? (await sql<{ balance_cents: string }>`SELECT balance_cents FROM accounts WHERE customer_id = ${customer} FOR UPDATE`.execute(trx))
        .rows[0]
    : undefined;
  return {
    balanceCents: account ? Number(account.balance_cents) : undefined,
    ...(payment
      ? { payment: { state: payment.state, customerId: payment.customer_id, amountCents: Number(payment.amount_cents) } }
      : {}),
  };
}

/** Writes one of billing's own events; the live path and `orderflow rebuild` share it. */
export async function applyOwnEvent(trx: AnyTransaction, event: BillingEvent): Promise<void> {
  switch (event.name) {
    case "account.balance.set":
      await sql`INSERT INTO accounts (customer_id, balance_cents) VALUES (${event.data.customerId}, ${event.data.balanceCents})
                ON CONFLICT (customer_id) DO UPDATE SET balance_cents = EXCLUDED.balance_cents`.execute(trx);
      return;
    case "payment.charged":
      await sql`UPDATE accounts SET balance_cents = balance_cents - ${event.data.amountCents}
                WHERE customer_id = ${event.data.customerId}`.execute(trx);
      await sql`INSERT INTO payments (order_id, customer_id, amount_cents, state)
                VALUES (${event.data.orderId}, ${event.data.customerId}, ${event.data.amountCents}, 'charged')`.execute(trx);
      return;
    case "payment.declined":
      await sql`INSERT INTO payments (order_id, customer_id, amount_cents, state)
                VALUES (${event.data.orderId}, ${event.data.customerId}, ${event.data.amountCents}, 'declined')`.execute(trx);
      return;
    case "payment.refunded":
      await sql`UPDATE accounts SET balance_cents = balance_cents + ${event.data.amountCents}
                WHERE customer_id = ${event.data.customerId}`.execute(trx);
      await sql`UPDATE payments SET state = 'refunded' WHERE order_id = ${event.data.orderId}`.execute(trx);
      return;
    default: {
      const never: never = event;
      return never;
    }
  }
}

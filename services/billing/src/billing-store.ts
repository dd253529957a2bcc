import { orderLockKey, orderLockKeys, type CloudEvent } from "@orderflow/contracts";
import { executeTogether, lockKeys, type AnyTransaction } from "@orderflow/outbox";
import { sql, type Kysely, type OperationNodeSource, type Selectable, type Transaction } from "kysely";
import { evolve, type BillingEvent, type BillingState, type Payment } from "./billing-decider.js";
import type { BillingDb, PaymentTable } from "./migrations.js";

const db = (trx: AnyTransaction) => trx as Transaction<BillingDb>;

/** What a decision reads. */
export interface BillingScope {
  /** The order whose payment the decision needs. */
  readonly orderId?: string;
  /** The account to read and lock; omitted: the account the order's payment was charged to. */
  readonly customerId?: string;
}

const paymentOf = (p: Selectable<PaymentTable>): Payment => ({
  orderId: p.order_id,
  customerId: p.customer_id,
  amountCents: Number(p.amount_cents),
  status: p.state,
});

/**
 * Serialises everything billing does about one order, including what has no row yet to lock: a
 * refund request racing the order's `order.created` must not see "no payment" while the charge is
 * being written. Taken first, before the account; one order per transaction.
 */
export async function lockOrder(trx: AnyTransaction, orderId: string): Promise<void> {
  // Deferred: the load that follows goes out right behind it and runs once the lock is held.
  await executeTogether(trx, [
    sql`SELECT pg_advisory_xact_lock(hashtextextended(${orderLockKey(orderId)}, 0))`,
  ]);
}

/**
 * Before the handlers of a consumer transaction run: the locks of its orders, then the accounts they
 * will touch (the customers of new orders, the payments' of the others), each kind in one fixed
 * order, so two instances applying batches at once wait for each other instead of deadlocking.
 */
export async function lockBatch(trx: AnyTransaction, events: readonly CloudEvent[]): Promise<void> {
  const orderIds = events.flatMap((e) => ("orderId" in e.data ? [e.data.orderId] : []));
  await lockKeys(trx, orderLockKeys(events));
  const customers = events.flatMap((e) => (e.name === "order.created" ? [e.data.customerId] : []));
  // The payments are stable now: every writer of one holds its order's lock.
  await sql`SELECT customer_id FROM accounts
    WHERE customer_id = ANY(${customers})
       OR customer_id IN (SELECT customer_id FROM payments WHERE order_id = ANY(${orderIds}))
    ORDER BY customer_id FOR UPDATE`.execute(trx);
}

/**
 * Loads and locks what a decision needs, in one round trip: the account, locked (its latest
 * version even after waiting for the lock), so two orders of one customer are charged one after the
 * other; and the order's payment or tombstone, unlocked and from the statement's snapshot, which is
 * enough because every writer of those holds the order's lock (`lockOrder`, taken before this).
 */
export async function loadBilling(trx: AnyTransaction, scope: BillingScope): Promise<BillingState> {
  const t = db(trx);
  const { orderId, customerId } = scope;
  const account = t
    .selectFrom("accounts")
    .select(["customer_id", "balance_cents"])
    .where((eb) =>
      customerId !== undefined
        ? eb("customer_id", "=", customerId)
        : eb(
            "customer_id",
            "=",
            eb.selectFrom("payments").select("customer_id").where("order_id", "=", orderId!),
          ),
    )
    .forUpdate();
  if (orderId === undefined) {
    const a = customerId === undefined ? undefined : await account.executeTakeFirst();
    return {
      account: a && { customerId: a.customer_id, balanceCents: Number(a.balance_cents) },
      payment: undefined,
    };
  }
  const { rows } = await sql<KnownRow>`
    WITH a AS (${account})
    SELECT 0 AS kind, customer_id, balance_cents AS amount_cents, NULL AS state, NULL AS reason FROM a
    UNION ALL
    SELECT 1, customer_id, amount_cents, state, NULL FROM payments WHERE order_id = ${orderId}
    UNION ALL
    SELECT 2, NULL, NULL, NULL, reason FROM tombstones WHERE order_id = ${orderId}
    ORDER BY kind`.execute(trx);
  const a = rows.find((r) => r.kind === 0);
  // A payment, if any, else a tombstone.
  const known = rows.find((r) => r.kind !== 0);
  return {
    account: a && { customerId: a.customer_id!, balanceCents: Number(a.amount_cents) },
    payment:
      known?.kind === 1
        ? paymentOf({
            order_id: orderId,
            customer_id: known.customer_id!,
            amount_cents: known.amount_cents!,
            state: known.state!,
          })
        : known && { orderId, status: "tombstone", reason: known.reason! },
  };
}

interface KnownRow {
  /** 0: the account (balance in `amount_cents`), 1: the payment, 2: the tombstone. */
  readonly kind: 0 | 1 | 2;
  readonly customer_id: string | null;
  readonly amount_cents: Selectable<PaymentTable>["amount_cents"] | null;
  readonly state: Selectable<PaymentTable>["state"] | null;
  readonly reason: string | null;
}

/** Writes what changed from `before` to `after` (both from the same load), in one statement. */
export async function saveBilling(
  trx: AnyTransaction,
  before: BillingState,
  after: BillingState,
): Promise<void> {
  const t = db(trx);
  const writes: OperationNodeSource[] = [];
  const a = after.account;
  if (a && a.balanceCents !== before.account?.balanceCents) {
    writes.push(
      t
        .insertInto("accounts")
        .values({ customer_id: a.customerId, balance_cents: a.balanceCents })
        .onConflict((oc) =>
          oc.column("customer_id").doUpdateSet((eb) => ({ balance_cents: eb.ref("excluded.balance_cents") })),
        ),
    );
  }
  const p = after.payment;
  const was = before.payment;
  if (p && p !== was) {
    if (p.status === "tombstone") {
      writes.push(
        t
          .insertInto("tombstones")
          .values({ order_id: p.orderId, reason: p.reason })
          .onConflict((oc) => oc.column("order_id").doNothing()),
      );
    } else if (!was || was.status === "tombstone") {
      // A tombstone has done its job once the order is decided.
      if (was) writes.push(t.deleteFrom("tombstones").where("order_id", "=", p.orderId));
      writes.push(
        t.insertInto("payments").values({
          order_id: p.orderId,
          customer_id: p.customerId,
          amount_cents: p.amountCents,
          state: p.status,
        }),
      );
    } else {
      writes.push(t.updateTable("payments").set({ state: p.status }).where("order_id", "=", p.orderId));
    }
  }
  await executeTogether(trx, writes);
}

/**
 * Writes billing's events onto the state they were decided from and returns the new state: the
 * one write path of the handlers, `PUT /accounts` and `applyOwnEvent`.
 */
export async function persist(
  trx: AnyTransaction,
  before: BillingState,
  events: readonly BillingEvent[],
): Promise<BillingState> {
  const after = events.reduce(evolve, before);
  await saveBilling(trx, before, after);
  return after;
}

/** What one of billing's events touches. */
export function scopeOf(event: BillingEvent): BillingScope {
  switch (event.name) {
    case "account.balance.set":
      return { customerId: event.data.customerId };
    case "payment.charged":
    case "payment.declined":
    case "payment.refunded":
      return { orderId: event.data.orderId, customerId: event.data.customerId };
    case "tombstone.recorded":
      return { orderId: event.data.orderId };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Applies one of billing's own events to the database: how `orderflow rebuild` restores the state
 * from the BILLING stream, through the same `persist` as the live path.
 *
 * @example
 * await db.transaction().execute(async (trx) => {
 *   for (const e of publishedEvents) if (billingEventNames.has(e.name)) await applyOwnEvent(trx, e as BillingEvent);
 * });
 */
export async function applyOwnEvent(trx: AnyTransaction, event: BillingEvent): Promise<void> {
  await persist(trx, await loadBilling(trx, scopeOf(event)), [event]);
}

export interface AccountView {
  readonly customerId: string;
  readonly balanceCents: number;
}

/** The account as `GET /accounts/:customerId` answers; undefined if unknown. */
export async function readAccount(
  kdb: Kysely<BillingDb>,
  customerId: string,
): Promise<AccountView | undefined> {
  const row = await kdb
    .selectFrom("accounts")
    .select(["customer_id", "balance_cents"])
    .where("customer_id", "=", customerId)
    .executeTakeFirst();
  return row && { customerId: row.customer_id, balanceCents: Number(row.balance_cents) };
}

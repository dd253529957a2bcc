import type { EventData } from "@orderflow/contracts";
import { executeTogether, type AnyTransaction, type Outbox } from "@orderflow/outbox";
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import { requestHash, type CreateOrderRequest } from "./create-order.js";
import type { OrderDb, OrderLineRow, OrderTable } from "./migrations.js";
import type { Insertable } from "kysely";
import type { OrderState, OrderStatus } from "./order-decider.js";
import { priceOrder, type PriceIssue } from "./price-list.js";
import { readPrices } from "./price-store.js";

/** Every order is taken in this currency until prices carry their own. */
export const CURRENCY = "USD";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Order ids are UUIDs; anything else cannot name an order (and must not reach a uuid column). */
export const isOrderId = (id: string): boolean => UUID.test(id);

export interface PlaceOrderOptions {
  readonly outbox: Outbox;
  readonly now: () => Date;
  readonly newId: () => string;
  readonly idempotencyKey?: string | undefined;
}

export type PlaceOrderResult =
  | { readonly kind: "created"; readonly orderId: string; readonly status: "PENDING" }
  | { readonly kind: "replayed"; readonly orderId: string; readonly status: "PENDING" }
  | { readonly kind: "key-reused" }
  /** Not priceable from the list: an unknown SKU or a total too large (400). */
  | { readonly kind: "invalid"; readonly issues: PriceIssue[] }
  /** A stated unit price that is not the listed one (409). */
  | { readonly kind: "price-mismatch"; readonly issues: PriceIssue[] };

/**
 * Prices the order from the list (one indexed read of its SKUs), then inserts it PENDING and
 * enqueues `order.created`, atomically. Without an idempotency key that is one statement (its own
 * transaction: no BEGIN and COMMIT round trips). With one, the key is claimed first in the same
 * transaction: a concurrent request with the same key waits on the key's unique index until this
 * one commits, then finds it taken. A request refused by the price list that repeats a key already
 * used answers as the key says (replayed or key-reused), so a retry after a price change still
 * finds its order.
 */
export async function placeOrder(
  db: Kysely<OrderDb>,
  req: CreateOrderRequest,
  opts: PlaceOrderOptions,
): Promise<PlaceOrderResult> {
  const key = opts.idempotencyKey;
  const hash = key === undefined ? undefined : requestHash(req);
  const pricing = priceOrder(
    req.items,
    await readPrices(
      db,
      req.items.map((l) => l.sku),
    ),
  );
  if (pricing.kind !== "priced") {
    const existing = key === undefined ? undefined : await keyUse(db, key, hash!);
    return existing ?? pricing;
  }
  const orderId = opts.newId();
  const at = opts.now();
  const { items, totalCents } = pricing;
  // The key and hash travel in the event (and ce-time is the order's creation), so a rebuild restores them.
  const data: EventData<"order.created"> = {
    orderId,
    customerId: req.customerId,
    items,
    totalCents,
    currency: CURRENCY,
    ...(key === undefined ? {} : { idempotency: { key, requestHash: hash! } }),
  };
  const insertOrder = (q: Kysely<OrderDb>) => q.insertInto("orders").values(pendingOrder(data, at));
  const event = opts.outbox.prepare("order.created", data, { correlationId: orderId, time: at });
  const created = { kind: "created", orderId, status: "PENDING" } as const;
  if (key === undefined) {
    await sql`WITH o AS (${insertOrder(db)}) ${opts.outbox.insertStatement([event])}`.execute(db);
    return created;
  }
  return db.transaction().execute(async (trx): Promise<PlaceOrderResult> => {
    const claimed = await trx
      .insertInto("idempotency_keys")
      // The order's time, which order.created's ce-time carries: a rebuild restores the key's age.
      .values({ key, order_id: orderId, request_hash: hash!, created_at: at })
      .onConflict((oc) => oc.column("key").doNothing())
      .returning("order_id")
      .executeTakeFirst();
    if (!claimed) return (await keyUse(trx, key, hash!))!;
    await insertOrder(trx).execute();
    await opts.outbox.insert(trx, [event]);
    return created;
  });
}

/** The row of a new order, PENDING, as its `order.created` describes it. */
export const pendingOrder = (d: EventData<"order.created">, at: Date): Insertable<OrderTable> => ({
  id: d.orderId,
  customer_id: d.customerId,
  status: "PENDING",
  reason: null,
  items: JSON.stringify(d.items),
  total_cents: d.totalCents,
  currency: d.currency,
  created_at: at,
  updated_at: at,
});

/** What an idempotency key already used answers: the same request replays its order. */
async function keyUse(
  db: Kysely<OrderDb>,
  key: string,
  hash: string,
): Promise<Extract<PlaceOrderResult, { kind: "replayed" | "key-reused" }> | undefined> {
  const existing = await db
    .selectFrom("idempotency_keys")
    .select(["order_id", "request_hash"])
    .where("key", "=", key)
    .executeTakeFirst();
  if (!existing) return undefined;
  return existing.request_hash === hash
    ? { kind: "replayed", orderId: existing.order_id, status: "PENDING" }
    : { kind: "key-reused" };
}

export interface OrderView {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly reason?: string;
  readonly items: readonly OrderLineRow[];
  readonly totalCents: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const viewOf = (o: Selectable<OrderTable>): OrderView => ({
  orderId: o.id,
  customerId: o.customer_id,
  status: o.status,
  ...(o.reason !== null ? { reason: o.reason } : {}),
  items: o.items,
  totalCents: Number(o.total_cents),
  createdAt: o.created_at.toISOString(),
  updatedAt: o.updated_at.toISOString(),
});

/** The order as `GET /orders/:orderId` answers; undefined if unknown. */
export async function readOrder(db: Kysely<OrderDb>, orderId: string): Promise<OrderView | undefined> {
  if (!isOrderId(orderId)) return undefined;
  const row = await db.selectFrom("orders").selectAll().where("id", "=", orderId).executeTakeFirst();
  return row && viewOf(row);
}

/** Loads and locks an order for a decision; undefined if unknown. */
export async function loadOrderForUpdate(
  trx: AnyTransaction,
  orderId: string,
): Promise<OrderState | undefined> {
  if (!isOrderId(orderId)) return undefined;
  const row = await (trx as Transaction<OrderDb>)
    .selectFrom("orders")
    .select(["id", "customer_id", "status", "total_cents", "reason"])
    .where("id", "=", orderId)
    .forUpdate()
    .executeTakeFirst();
  return (
    row && {
      orderId: row.id,
      customerId: row.customer_id,
      status: row.status,
      totalCents: Number(row.total_cents),
      reason: row.reason ?? undefined,
    }
  );
}

/** Persists an order's new status. */
export async function saveOrder(trx: AnyTransaction, order: OrderState, at: Date): Promise<void> {
  await executeTogether(trx, [
    (trx as Transaction<OrderDb>)
      .updateTable("orders")
      .set({ status: order.status, reason: order.reason ?? null, updated_at: at })
      .where("id", "=", order.orderId),
  ]);
}

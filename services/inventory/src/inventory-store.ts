import { orderLockKey, orderLockKeys, type CloudEvent } from "@orderflow/contracts";
import { executeTogether, lockKeys, type AnyTransaction } from "@orderflow/outbox";
import { sql, type Kysely, type OperationNodeSource, type Transaction } from "kysely";
import {
  evolve,
  type InventoryEvent,
  type InventoryState,
  type Reservation,
  type StockLevel,
} from "./inventory-decider.js";
import type { InventoryDb } from "./migrations.js";

const db = (trx: AnyTransaction) => trx as Transaction<InventoryDb>;

/** What a decision reads. */
export interface InventoryScope {
  /** The order whose reservation the decision needs; omit for stock alone. */
  readonly orderId?: string;
  /** The SKUs to read and lock; omitted: those of the order's reservation. */
  readonly skus?: readonly string[];
}

/**
 * Serialises everything inventory does about one order, including what has no row yet to lock: a
 * release request racing the order's `order.created` must not see "no reservation" while the
 * reservation is being written. Taken first, before any stock row; one order per transaction.
 */
export async function lockOrder(trx: AnyTransaction, orderId: string): Promise<void> {
  // Deferred: the load that follows goes out right behind it and runs once the lock is held.
  await executeTogether(trx, [
    sql`SELECT pg_advisory_xact_lock(hashtextextended(${orderLockKey(orderId)}, 0))`,
  ]);
}

/**
 * Before the handlers of a consumer transaction run: the locks of its orders, then the stock rows
 * they will touch (the SKUs of new orders, the reservations' of the others), each kind in one fixed
 * order. Two instances applying batches at once then wait for each other instead of deadlocking (a
 * handler locks rows in SKU order too, but a batch holds the rows of its earlier orders meanwhile).
 */
export async function lockBatch(trx: AnyTransaction, events: readonly CloudEvent[]): Promise<void> {
  const orderIds = events.flatMap((e) => ("orderId" in e.data ? [e.data.orderId] : []));
  await lockKeys(trx, orderLockKeys(events));
  const skus = events.flatMap((e) => (e.name === "order.created" ? e.data.items.map((l) => l.sku) : []));
  // The reservations are stable now: every writer of one holds its order's lock.
  await sql`SELECT sku FROM stock
    WHERE sku = ANY(${skus}) OR sku IN (SELECT sku FROM reservations WHERE order_id = ANY(${orderIds}))
    ORDER BY sku FOR UPDATE`.execute(trx);
}

/**
 * Loads and locks what a decision needs, in one round trip: the stock rows, locked in SKU order
 * (every path locks stock before reservations, and rows in one order, so two orders never
 * deadlock; a row waited for is returned as its latest version), and what inventory knows of the
 * order: reservation, rejection or tombstone, unlocked and from the statement's snapshot, which is
 * enough because every writer of those holds the order's lock (`lockOrder`, taken before this).
 */
export async function loadInventory(trx: AnyTransaction, scope: InventoryScope): Promise<InventoryState> {
  const t = db(trx);
  const { orderId } = scope;
  const skus = scope.skus && [...new Set(scope.skus)];
  const stock = new Map<string, StockLevel>();
  const stockRows = t
    .selectFrom("stock")
    .select(["sku", "available", "reserved"])
    .where((eb) =>
      skus
        ? skus.length
          ? eb("sku", "in", skus)
          : sql<boolean>`false`
        : eb("sku", "in", eb.selectFrom("reservations").select("sku").where("order_id", "=", orderId!)),
    )
    .orderBy("sku")
    .forUpdate();
  if (orderId === undefined) {
    if (skus?.length) {
      for (const r of await stockRows.execute())
        stock.set(r.sku, { available: r.available, reserved: r.reserved });
    }
    return { stock };
  }
  const { rows } = await sql<KnownRow>`
    WITH s AS (${stockRows})
    SELECT 0 AS kind, sku, available, reserved, NULL::int AS quantity, NULL AS state, NULL AS reason FROM s
    UNION ALL
    SELECT 1, sku, NULL, NULL, quantity, state, NULL FROM reservations WHERE order_id = ${orderId}
    UNION ALL
    SELECT 2, sku, NULL, NULL, NULL, NULL, reason FROM rejections WHERE order_id = ${orderId}
    UNION ALL
    SELECT 3, NULL, NULL, NULL, NULL, NULL, reason FROM tombstones WHERE order_id = ${orderId}
    ORDER BY kind, sku`.execute(trx);
  for (const r of rows)
    if (r.kind === 0) stock.set(r.sku!, { available: r.available!, reserved: r.reserved! });
  const lines = rows.filter((r) => r.kind === 1);
  const first = lines[0];
  if (first) {
    // Locked the reservation's SKUs from an earlier snapshot: a reservation that appeared in
    // between holds rows this transaction does not. `lockOrder` rules that out on the live path;
    // should a caller skip it, retrying starts over with the right rows.
    const unlocked = lines.find((l) => !stock.has(l.sku!));
    if (unlocked && !skus) throw new Error(`reservation of ${orderId} changed while loading; retry`);
    const reservation: Reservation = {
      orderId,
      status: first.state!,
      items: lines.map((l) => ({ sku: l.sku!, quantity: l.quantity! })),
    };
    return { stock, reservation };
  }
  const known = rows.find((r) => r.kind !== 0);
  if (known?.kind === 2) {
    return { stock, reservation: { orderId, status: "rejected", sku: known.sku!, reason: known.reason! } };
  }
  return known?.kind === 3
    ? { stock, reservation: { orderId, status: "tombstone", reason: known.reason! } }
    : { stock };
}

interface KnownRow {
  /** 0: a stock row, 1: a reservation line, 2: the rejection, 3: the tombstone. */
  readonly kind: 0 | 1 | 2 | 3;
  readonly sku: string | null;
  readonly available: number | null;
  readonly reserved: number | null;
  readonly quantity: number | null;
  readonly state: "reserved" | "released" | "committed" | null;
  readonly reason: string | null;
}

/** Writes what changed from `before` to `after` (both from the same load), in one statement. */
export async function saveInventory(
  trx: AnyTransaction,
  before: InventoryState,
  after: InventoryState,
): Promise<void> {
  const t = db(trx);
  const writes: OperationNodeSource[] = [];
  const changed = [...after.stock]
    .filter(([sku, l]) => {
      const was = before.stock.get(sku);
      return !was || was.available !== l.available || was.reserved !== l.reserved;
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (changed.length) {
    writes.push(
      t
        .insertInto("stock")
        .values(changed.map(([sku, l]) => ({ sku, available: l.available, reserved: l.reserved })))
        .onConflict((oc) =>
          oc.column("sku").doUpdateSet((eb) => ({
            available: eb.ref("excluded.available"),
            reserved: eb.ref("excluded.reserved"),
          })),
        ),
    );
  }
  const r = after.reservation;
  const was = before.reservation;
  if (r && r !== was) {
    // A tombstone has done its job once the order is decided.
    if (was?.status === "tombstone" && r.status !== "tombstone") {
      writes.push(t.deleteFrom("tombstones").where("order_id", "=", r.orderId));
    }
    switch (r.status) {
      case "tombstone":
        writes.push(
          t
            .insertInto("tombstones")
            .values({ order_id: r.orderId, reason: r.reason })
            .onConflict((oc) => oc.column("order_id").doNothing()),
        );
        break;
      case "rejected":
        writes.push(
          t
            .insertInto("rejections")
            .values({ order_id: r.orderId, sku: r.sku, reason: r.reason })
            .onConflict((oc) => oc.column("order_id").doNothing()),
        );
        break;
      case "reserved":
      case "released":
      case "committed":
        if (was && "items" in was) {
          writes.push(
            t.updateTable("reservations").set({ state: r.status }).where("order_id", "=", r.orderId),
          );
        } else if (r.items.length) {
          writes.push(
            t.insertInto("reservations").values(
              r.items.map((l) => ({
                order_id: r.orderId,
                sku: l.sku,
                quantity: l.quantity,
                state: r.status,
              })),
            ),
          );
        }
        break;
      default: {
        const never: never = r;
        return never;
      }
    }
  }
  await executeTogether(trx, writes);
}

/**
 * Writes inventory's events onto the state they were decided from and returns the new state: the
 * one write path of the handlers, `PUT /stock` and `applyOwnEvent`.
 */
export async function persist(
  trx: AnyTransaction,
  before: InventoryState,
  events: readonly InventoryEvent[],
): Promise<InventoryState> {
  const after = events.reduce(evolve, before);
  await saveInventory(trx, before, after);
  return after;
}

/** What one of inventory's events touches. */
export function scopeOf(event: InventoryEvent): InventoryScope {
  switch (event.name) {
    case "stock.set":
      return { skus: [event.data.sku] };
    case "inventory.rejected":
    case "tombstone.recorded":
      return { orderId: event.data.orderId, skus: [] };
    case "inventory.reserved":
    case "inventory.released":
    case "inventory.committed":
      return { orderId: event.data.orderId, skus: event.data.items.map((l) => l.sku) };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Applies one of inventory's own events to the database: how `orderflow rebuild` restores the
 * state from the INVENTORY stream, through the same `persist` as the live path.
 *
 * @example
 * await db.transaction().execute(async (trx) => {
 *   for (const e of publishedEvents) if (inventoryEventNames.has(e.name)) await applyOwnEvent(trx, e as InventoryEvent);
 * });
 */
export async function applyOwnEvent(trx: AnyTransaction, event: InventoryEvent): Promise<void> {
  await persist(trx, await loadInventory(trx, scopeOf(event)), [event]);
}

/**
 * Serialises writers of one SKU's stock row that may have to create it (`PUT /stock/:sku`): a row
 * that does not exist yet cannot be locked with `FOR UPDATE`.
 */
export async function lockSku(trx: AnyTransaction, sku: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`orderflow.stock:${sku}`}, 0))`.execute(trx);
}

export interface StockView {
  readonly sku: string;
  readonly available: number;
  readonly reserved: number;
}

/** The stock of one SKU as `GET /stock/:sku` answers; undefined if unknown. */
export async function readStock(kdb: Kysely<InventoryDb>, sku: string): Promise<StockView | undefined> {
  return kdb
    .selectFrom("stock")
    .select(["sku", "available", "reserved"])
    .where("sku", "=", sku)
    .executeTakeFirst();
}

import type { AnyTransaction } from "@orderflow/outbox";
import { sql, type Kysely, type Transaction } from "kysely";
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
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`orderflow.order:${orderId}`}, 0))`.execute(trx);
}

/**
 * Loads and locks what a decision needs: the stock rows in SKU order (every path locks stock
 * before reservations, and rows in one order, so two orders never deadlock) and what inventory
 * knows of the order: reservation, rejection or tombstone.
 */
export async function loadInventory(trx: AnyTransaction, scope: InventoryScope): Promise<InventoryState> {
  const t = db(trx);
  const { orderId } = scope;
  const skus = scope.skus && [...new Set(scope.skus)];
  const stock = new Map<string, StockLevel>();
  if (skus ? skus.length > 0 : orderId !== undefined) {
    const rows = await t
      .selectFrom("stock")
      .select(["sku", "available", "reserved"])
      .where((eb) =>
        skus
          ? eb("sku", "in", skus)
          : eb("sku", "in", eb.selectFrom("reservations").select("sku").where("order_id", "=", orderId!)),
      )
      .orderBy("sku")
      .forUpdate()
      .execute();
    for (const r of rows) stock.set(r.sku, { available: r.available, reserved: r.reserved });
  }
  if (orderId === undefined) return { stock };

  // What inventory knows of the order, in one round trip: reservation lines, or its rejection, or
  // a tombstone. No row lock needed: every writer of these holds the order's lock (`lockOrder`).
  const { rows } = await sql<KnownRow>`
    SELECT 1 AS kind, sku, quantity, state, NULL AS reason FROM reservations WHERE order_id = ${orderId}
    UNION ALL
    SELECT 2, sku, NULL, NULL, reason FROM rejections WHERE order_id = ${orderId}
    UNION ALL
    SELECT 3, NULL, NULL, NULL, reason FROM tombstones WHERE order_id = ${orderId}
    ORDER BY kind, sku`.execute(trx);
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
  const known = rows[0];
  if (known?.kind === 2) {
    return { stock, reservation: { orderId, status: "rejected", sku: known.sku!, reason: known.reason! } };
  }
  return known?.kind === 3
    ? { stock, reservation: { orderId, status: "tombstone", reason: known.reason! } }
    : { stock };
}

interface KnownRow {
  readonly kind: 1 | 2 | 3;
  readonly sku: string | null;
  readonly quantity: number | null;
  readonly state: "reserved" | "released" | "committed" | null;
  readonly reason: string | null;
}

/** Writes what changed from `before` to `after` (both from the same load). */
export async function saveInventory(
  trx: AnyTransaction,
  before: InventoryState,
  after: InventoryState,
): Promise<void> {
  const t = db(trx);
  const changed = [...after.stock]
    .filter(([sku, l]) => {
      const was = before.stock.get(sku);
      return !was || was.available !== l.available || was.reserved !== l.reserved;
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (changed.length) {
    await t
      .insertInto("stock")
      .values(changed.map(([sku, l]) => ({ sku, available: l.available, reserved: l.reserved })))
      .onConflict((oc) =>
        oc.column("sku").doUpdateSet((eb) => ({
          available: eb.ref("excluded.available"),
          reserved: eb.ref("excluded.reserved"),
        })),
      )
      .execute();
  }

  const r = after.reservation;
  const was = before.reservation;
  if (!r || r === was) return;
  // A tombstone has done its job once the order is decided.
  if (was?.status === "tombstone" && r.status !== "tombstone") {
    await t.deleteFrom("tombstones").where("order_id", "=", r.orderId).execute();
  }
  switch (r.status) {
    case "tombstone":
      await t
        .insertInto("tombstones")
        .values({ order_id: r.orderId, reason: r.reason })
        .onConflict((oc) => oc.column("order_id").doNothing())
        .execute();
      return;
    case "rejected":
      await t
        .insertInto("rejections")
        .values({ order_id: r.orderId, sku: r.sku, reason: r.reason })
        .onConflict((oc) => oc.column("order_id").doNothing())
        .execute();
      return;
    case "reserved":
    case "released":
    case "committed":
      if (was && "items" in was) {
        await t
          .updateTable("reservations")
          .set({ state: r.status })
          .where("order_id", "=", r.orderId)
          .execute();
      } else if (r.items.length) {
        await t
          .insertInto("reservations")
          .values(
            r.items.map((l) => ({ order_id: r.orderId, sku: l.sku, quantity: l.quantity, state: r.status })),
          )
          .execute();
      }
      return;
    default: {
      const never: never = r;
      return never;
    }
  }
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

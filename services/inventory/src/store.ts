import type { AnyTransaction } from "@orderflow/outbox";
import { sql } from "kysely";
import type { InventoryEvent, InventoryState } from "./decide.js";

/**
 * Loads the state a decision needs and locks it: the stock rows in SKU order (so two orders never
 * deadlock) and the order's reservation.
 */
export async function loadForUpdate(trx: AnyTransaction, orderId: string, skus: readonly string[]): Promise<InventoryState> {
  const sorted = [...new Set(skus)].sort();
  const stock = new Map<string, { available: number; reserved: number }>();
  if (sorted.length) {
    const rows = await sql<{ sku: string; available: number; reserved: number }>`
      SELECT sku, available, reserved FROM stock WHERE sku = ANY(${sorted}) ORDER BY sku FOR UPDATE`.execute(trx);
    for (const r of rows.rows) stock.set(r.sku, { available: r.available, reserved: r.reserved });
  }
  const lines = await sql<{ sku: string; quantity: number; state: "reserved" | "released" | "committed" }>`
    SELECT sku, quantity, state FROM reservations WHERE order_id = ${orderId} ORDER BY sku FOR UPDATE`.execute(trx);
  const first = lines.rows[0];
  return {
    stock,
    ...(first ? { reservation: { state: first.state, items: lines.rows.map((l) => ({ sku: l.sku, quantity: l.quantity })) } } : {}),
  };
}

/** The SKUs whose rows a reservation touches. */
export async function reservedSkus(trx: AnyTransaction, orderId: string): Promise<string[]> {
  const r = await sql<{ sku: string }>`SELECT sku FROM reservations WHERE order_id = ${orderId}`.execute(trx);
  return r.rows.map((x) => x.sku);
}

/**
 * Writes one of inventory's own events into the database: the live path after a decision and the
 * replay path of `orderflow rebuild` are this same function.
 */
export async function applyOwnEvent(trx: AnyTransaction, event: InventoryEvent): Promise<void> {
  switch (event.name) {
    case "stock.set":
      await sql`INSERT INTO stock (sku, available) VALUES (${event.data.sku}, ${event.data.available})
                ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available`.execute(trx);
      return;
    case "inventory.reserved":
      for (const l of event.data.items) {
        await sql`UPDATE stock SET available = available - ${l.quantity}, reserved = reserved + ${l.quantity}
                  WHERE sku = ${l.sku}`.execute(trx);
        await sql`INSERT INTO reservations (order_id, sku, quantity, state)
                  VALUES (${event.data.orderId}, ${l.sku}, ${l.quantity}, 'reserved')`.execute(trx);
      }
      return;
    case "inventory.released":
      for (const l of event.data.items) {
        await sql`UPDATE stock SET available = available + ${l.quantity}, reserved = reserved - ${l.quantity}
                  WHERE sku = ${l.sku}`.execute(trx);
      }
      await sql`UPDATE reservations SET state = 'released' WHERE order_id = ${event.data.orderId}`.execute(trx);
      return;
    case "inventory.committed":
      for (const l of event.data.items) {
        await sql`UPDATE stock SET reserved = reserved - ${l.quantity} WHERE sku = ${l.sku}`.execute(trx);
      }
      await sql`UPDATE reservations SET state = 'committed' WHERE order_id = ${event.data.orderId}`.execute(trx);
      return;
    case "inventory.rejected":
      return;
    default: {
      const never: never = event;
      return never;
    }
  }
}

import { sql, type Kysely, type Migration } from "kysely";

export interface StockTable {
  sku: string;
  available: number;
  reserved: number;
}

export interface ReservationTable {
  order_id: string;
  sku: string;
  quantity: number;
  state: "reserved" | "released" | "committed";
}

export interface InventoryDb {
  stock: StockTable;
  reservations: ReservationTable;
}

export const migrations: Record<string, Migration> = {
  "0001_stock_and_reservations": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE stock (
          sku text PRIMARY KEY,
          available integer NOT NULL CHECK (available >= 0),
          reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0)
        )`.execute(db);
      await sql`
        CREATE TABLE reservations (
          order_id text NOT NULL,
          sku text NOT NULL,
          quantity integer NOT NULL CHECK (quantity > 0),
          state text NOT NULL CHECK (state IN ('reserved', 'released', 'committed')),
          PRIMARY KEY (order_id, sku)
        )`.execute(db);
    },
  },
};

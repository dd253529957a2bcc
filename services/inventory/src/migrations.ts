import { sql, type Kysely, type Migration } from "kysely";

export interface StockTable {
  sku: string;
  /** What can still be reserved; never negative. */
  available: number;
  /** Held by live reservations. */
  reserved: number;
}

/** One row per SKU of an order's reservation. */
export interface ReservationTable {
  order_id: string;
  sku: string;
  quantity: number;
  state: "reserved" | "released" | "committed";
}

/** Orders inventory refused: a repeated `order.created` must get the same answer. */
export interface RejectionTable {
  order_id: string;
  sku: string;
  reason: string;
}

/** Release requests that came before their order: that order, when it comes, is rejected. */
export interface TombstoneTable {
  order_id: string;
  reason: string;
}

export interface InventoryDb {
  stock: StockTable;
  reservations: ReservationTable;
  rejections: RejectionTable;
  tombstones: TombstoneTable;
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
  "0002_rejections": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE rejections (
          order_id text PRIMARY KEY,
          sku text NOT NULL,
          reason text NOT NULL
        )`.execute(db);
    },
  },
  "0003_tombstones": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE tombstones (
          order_id text PRIMARY KEY,
          reason text NOT NULL
        )`.execute(db);
    },
  },
};

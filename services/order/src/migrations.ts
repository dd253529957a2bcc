import { sql, type ColumnType, type Kysely, type Migration } from "kysely";
import type { OrderStatus } from "./order-decider.js";

export interface OrderLineRow {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderTable {
  /** UUIDv7. */
  id: string;
  customer_id: string;
  status: OrderStatus;
  reason: string | null;
  /** jsonb: written as a JSON string, read back parsed. */
  items: ColumnType<OrderLineRow[], string, string>;
  /** bigint: pg returns it as a string. */
  total_cents: ColumnType<string, number, number>;
  currency: string;
  created_at: Date;
  updated_at: Date;
}

export interface IdempotencyKeyTable {
  key: string;
  order_id: string;
  request_hash: string;
  /** When the key was first used: it expires IDEMPOTENCY_KEY_RETENTION_HOURS later. */
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface PriceTable {
  sku: string;
  /** bigint: pg returns it as a string. */
  unit_price_cents: ColumnType<string, number, number>;
}

export interface OrderDb {
  orders: OrderTable;
  idempotency_keys: IdempotencyKeyTable;
  prices: PriceTable;
}

export const migrations: Record<string, Migration> = {
  "0001_orders": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE orders (
          id uuid PRIMARY KEY,
          customer_id text NOT NULL,
          status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
          reason text,
          items jsonb NOT NULL,
          total_cents bigint NOT NULL CHECK (total_cents >= 0),
          currency text NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        )`.execute(db);
      await sql`
        CREATE TABLE idempotency_keys (
          key text PRIMARY KEY,
          order_id uuid NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
          request_hash text NOT NULL
        )`.execute(db);
    },
  },
  // The price list: POST /orders takes each line's unit price from here.
  "0002_prices": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE prices (
          sku text PRIMARY KEY,
          unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0)
        )`.execute(db);
    },
  },
  "0003_idempotency_key_expiry": {
    async up(db: Kysely<unknown>) {
      await sql`ALTER TABLE idempotency_keys ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()`.execute(
        db,
      );
      await sql`CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)`.execute(db);
    },
  },
};

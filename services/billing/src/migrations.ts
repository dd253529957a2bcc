import { sql, type ColumnType, type Kysely, type Migration } from "kysely";

/** bigint: pg returns it as a string. */
type Cents = ColumnType<string, number, number>;

export interface AccountTable {
  customer_id: string;
  /** Never negative. */
  balance_cents: Cents;
}

/** One row per order billing decided on. */
export interface PaymentTable {
  order_id: string;
  customer_id: string;
  amount_cents: Cents;
  state: "charged" | "declined" | "refunded";
}

/** Refund requests that came before their order: that order, when it comes, is declined. */
export interface TombstoneTable {
  order_id: string;
  reason: string;
}

export interface BillingDb {
  accounts: AccountTable;
  payments: PaymentTable;
  tombstones: TombstoneTable;
}

export const migrations: Record<string, Migration> = {
  "0001_accounts_and_payments": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE accounts (
          customer_id text PRIMARY KEY,
          balance_cents bigint NOT NULL CHECK (balance_cents >= 0)
        )`.execute(db);
      await sql`
        CREATE TABLE payments (
          order_id text PRIMARY KEY,
          customer_id text NOT NULL,
          amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
          state text NOT NULL CHECK (state IN ('charged', 'declined', 'refunded'))
        )`.execute(db);
    },
  },
  "0002_tombstones": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE tombstones (
          order_id text PRIMARY KEY,
          reason text NOT NULL
        )`.execute(db);
    },
  },
};

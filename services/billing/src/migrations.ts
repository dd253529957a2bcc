import { sql, type Kysely, type Migration } from "kysely";

export interface AccountTable {
  customer_id: string;
  balance_cents: string | number;
}

export interface PaymentTable {
  order_id: string;
  customer_id: string;
  amount_cents: string | number;
  state: "charged" | "declined" | "refunded";
}

export interface BillingDb {
  accounts: AccountTable;
  payments: PaymentTable;
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
};

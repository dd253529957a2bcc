import { sql, type Kysely, type Migration } from "kysely";

export interface ShippingDb {
  shipments: {
    order_id: string;
    customer_id: string;
    state: "requested" | "dispatched";
    carrier: string | null;
  };
}

export const migrations: Record<string, Migration> = {
  "0001_shipments": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE shipments (
          order_id text PRIMARY KEY,
          customer_id text NOT NULL,
          state text NOT NULL CHECK (state IN ('requested', 'dispatched')),
          carrier text
        )`.execute(db);
    },
  },
};

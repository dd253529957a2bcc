import { sql, type Kysely, type Migration } from "kysely";
import type { InventoryStep, PaymentStep, SagaStatus } from "./decide.js";

export interface SagaTable {
  order_id: string;
  status: SagaStatus;
  inventory: InventoryStep;
  payment: PaymentStep;
  failures: string[];
  deadline_at: Date;
  created_at: Date;
  updated_at: Date;
}

export interface SagaHistoryTable {
  id: string;
  order_id: string;
  at: Date;
  event: string;
  from_status: SagaStatus;
  to_status: SagaStatus;
  inventory: InventoryStep;
  payment: PaymentStep;
}

export interface SagaDb {
  sagas: SagaTable;
  saga_history: SagaHistoryTable;
}

export const migrations: Record<string, Migration> = {
  "0001_sagas": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE sagas (
          order_id text PRIMARY KEY,
          status text NOT NULL,
          inventory text NOT NULL,
          payment text NOT NULL,
          failures jsonb NOT NULL DEFAULT '[]',
          deadline_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX sagas_awaiting_deadline ON sagas (deadline_at) WHERE status = 'AWAITING'`.execute(db);
      await sql`
        CREATE TABLE saga_history (
          id bigserial PRIMARY KEY,
          order_id text NOT NULL,
          at timestamptz NOT NULL,
          event text NOT NULL,
          from_status text NOT NULL,
          to_status text NOT NULL,
          inventory text NOT NULL,
          payment text NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX saga_history_order ON saga_history (order_id, id)`.execute(db);
    },
  },
};

import { sql, type Kysely, type Migration } from "kysely";
import type { InventoryStep, PaymentStep, SagaStatus } from "./saga-decider.js";

export interface SagaTable {
  order_id: string;
  state: SagaStatus;
  inventory: InventoryStep;
  payment: PaymentStep;
  /** The cancellation reason (the first failure). */
  reason: string | null;
  /** From `order.created`; null while only replies have arrived. */
  customer_id: string | null;
  /** bigint: pg returns it as a string. */
  total_cents: string | number | null;
  currency: string | null;
  /** The order service was asked to cancel (after every compensation was acknowledged). */
  cancel_requested: boolean;
  order_cancelled: boolean;
  /** The flow's W3C trace context (from the first input that decided something), for the deadline's commands. */
  traceparent: string | null;
  tracestate: string | null;
  /** Set when the saga learns of the order; null before. */
  deadline_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface SagaHistoryTable {
  order_id: string;
  /** 1, 2, … per saga, assigned under the saga's row lock. */
  seq: number;
  at: Date;
  /** The input: an event name or `deadline`. */
  event: string;
  from_state: SagaStatus;
  to_state: SagaStatus;
  /** Steps after the transition. */
  inventory: InventoryStep;
  payment: PaymentStep;
  /** Names of the messages the transition sent. */
  sent: string[];
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
      await sql`CREATE INDEX sagas_awaiting_deadline ON sagas (deadline_at) WHERE status = 'AWAITING'`.execute(
        db,
      );
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

  // The decide/evolve saga: state names, the order's facts, a deadline that starts only when the
  // saga learns of the order, and a per-saga sequence in the history. Existing rows are carried over.
  "0002_saga_state_machine": {
    async up(db: Kysely<unknown>) {
      await sql`ALTER TABLE sagas RENAME COLUMN status TO state`.execute(db);
      await sql`UPDATE sagas SET state = 'APPROVED' WHERE state = 'APPROVING'`.execute(db);
      await sql`
        ALTER TABLE sagas
          ADD COLUMN reason text,
          ADD COLUMN customer_id text,
          ADD COLUMN total_cents bigint,
          ADD COLUMN currency text,
          ADD COLUMN order_cancelled boolean NOT NULL DEFAULT false,
          ALTER COLUMN deadline_at DROP NOT NULL`.execute(db);
      await sql`UPDATE sagas SET reason = failures ->> 0, order_cancelled = (state = 'CANCELLED')`.execute(
        db,
      );
      await sql`ALTER TABLE sagas DROP COLUMN failures`.execute(db);
      await sql`
        ALTER TABLE sagas ADD CONSTRAINT sagas_state_check
          CHECK (state IN ('AWAITING', 'APPROVED', 'CONFIRMED', 'COMPENSATING', 'CANCELLED'))`.execute(db);
      await sql`DROP INDEX sagas_awaiting_deadline`.execute(db);
      await sql`CREATE INDEX sagas_awaiting_deadline ON sagas (deadline_at) WHERE state = 'AWAITING'`.execute(
        db,
      );

      await sql`ALTER TABLE saga_history RENAME COLUMN from_status TO from_state`.execute(db);
      await sql`ALTER TABLE saga_history RENAME COLUMN to_status TO to_state`.execute(db);
      await sql`UPDATE saga_history SET from_state = 'APPROVED' WHERE from_state = 'APPROVING'`.execute(db);
      await sql`UPDATE saga_history SET to_state = 'APPROVED' WHERE to_state = 'APPROVING'`.execute(db);
      await sql`ALTER TABLE saga_history ADD COLUMN seq integer, ADD COLUMN sent jsonb NOT NULL DEFAULT '[]'`.execute(
        db,
      );
      await sql`
        UPDATE saga_history h SET seq = n.seq
        FROM (SELECT id, row_number() OVER (PARTITION BY order_id ORDER BY id) AS seq FROM saga_history) n
        WHERE n.id = h.id`.execute(db);
      await sql`ALTER TABLE saga_history ALTER COLUMN seq SET NOT NULL`.execute(db);
      await sql`ALTER TABLE saga_history DROP COLUMN id`.execute(db);
      await sql`ALTER TABLE saga_history ADD PRIMARY KEY (order_id, seq)`.execute(db);
    },
  },
  // Compensate, then cancel: a saga may now be COMPENSATING without having asked for the cancellation.
  // Sagas compensating or cancelled before this asked at once.
  "0003_saga_cancel_requested": {
    async up(db: Kysely<unknown>) {
      await sql`ALTER TABLE sagas ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false`.execute(db);
      await sql`UPDATE sagas SET cancel_requested = true WHERE state IN ('COMPENSATING', 'CANCELLED')`.execute(
        db,
      );
      // The deadline now also ends a compensating saga's wait for its other step.
      await sql`DROP INDEX sagas_awaiting_deadline`.execute(db);
      await sql`
        CREATE INDEX sagas_waiting_deadline ON sagas (deadline_at)
        WHERE (inventory = 'PENDING' OR payment = 'PENDING') AND state IN ('AWAITING', 'COMPENSATING')`.execute(
        db,
      );
    },
  },
  // The deadline's commands continue the order's trace instead of starting one of their own.
  "0004_saga_trace": {
    async up(db: Kysely<unknown>) {
      await sql`ALTER TABLE sagas ADD COLUMN traceparent text, ADD COLUMN tracestate text`.execute(db);
    },
  },
};

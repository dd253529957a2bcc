import type { EventData } from "@orderflow/contracts";
import { executeTogether, type AnyTransaction } from "@orderflow/outbox";
import { sql, type Kysely, type Transaction } from "kysely";
import type { SagaDb, SagaTable } from "./migrations.js";
import {
  commandsOf,
  decide,
  evolve,
  initialState,
  type SagaCommand,
  type SagaEvent,
  type SagaInput,
  type SagaState,
} from "./saga-decider.js";

export interface ApplyInputOptions {
  readonly now: Date;
  /** How long the saga waits for the replies once it learns of the order. */
  readonly deadlineMs: number;
  /** Enqueues one command in the same transaction. */
  readonly send: (command: SagaCommand) => Promise<unknown>;
  /**
   * Enqueues the transition's `saga.transitioned` in the same transaction, with ce-time `now`: the
   * saga's journal, what `orderflow rebuild saga` folds (see saga-projection.ts).
   */
  readonly record: (transition: SagaTransitioned) => Promise<unknown>;
  /** The input's trace context; the saga keeps the first it sees (see the deadline worker). */
  readonly trace?: { readonly traceparent?: string | undefined; readonly tracestate?: string | undefined };
}

export type SagaTransitioned = EventData<"saga.transitioned">;

export interface Transition {
  readonly before: SagaState;
  readonly after: SagaState;
  readonly events: readonly SagaEvent[];
  readonly sent: readonly SagaCommand[];
}

const db = (trx: AnyTransaction) => trx as Transaction<SagaDb>;

/**
 * The sagas a transaction has locked, as it last wrote them: a batch that brings several events of
 * one saga reads its row once. Valid because the row lock is held until the transaction ends.
 */
const locked = new WeakMap<AnyTransaction, Map<string, SagaState>>();
function stateCache(trx: AnyTransaction): Map<string, SagaState> {
  let m = locked.get(trx);
  if (!m) locked.set(trx, (m = new Map<string, SagaState>()));
  return m;
}

export function stateOf(row: SagaTable): SagaState {
  return {
    orderId: row.order_id,
    status: row.state,
    inventory: row.inventory,
    payment: row.payment,
    order:
      row.customer_id === null
        ? undefined
        : {
            customerId: row.customer_id,
            totalCents: Number(row.total_cents),
            currency: row.currency ?? "USD",
          },
    reason: row.reason ?? undefined,
    cancelRequested: row.cancel_requested,
    orderCancelled: row.order_cancelled,
  };
}

/**
 * Applies one input to an order's saga under its row lock: creates the saga on the first input that
 * decides something (replies can overtake `order.created`), decides, persists the new state and one
 * history row, and sends the resulting commands through `send` — all in `trx`. An input that
 * teaches the saga nothing writes nothing, not even the saga's row.
 */
export async function applySagaInput(
  trx: AnyTransaction,
  input: SagaInput,
  opts: ApplyInputOptions,
): Promise<Transition> {
  const orderId = input.data.orderId;
  const t = db(trx);
  const cache = stateCache(trx);
  let before = cache.get(orderId);
  if (!before) {
    const fresh = initialState(orderId);
    // An input that would start something upserts the row: it is created or, if it exists, locked
    // and returned, in one round trip (concurrent first inputs wait on the key). Any other input
    // only locks an existing row: a stray acknowledgement leaves no row.
    const row = decide(input, fresh).length
      ? await t
          .insertInto("sagas")
          .values({
            order_id: orderId,
            state: fresh.status,
            inventory: fresh.inventory,
            payment: fresh.payment,
            reason: null,
            customer_id: null,
            total_cents: null,
            currency: null,
            cancel_requested: false,
            order_cancelled: false,
            traceparent: null,
            tracestate: null,
            deadline_at: null,
            created_at: opts.now,
            updated_at: opts.now,
          })
          .onConflict((oc) =>
            oc.column("order_id").doUpdateSet((eb) => ({ order_id: eb.ref("excluded.order_id") })),
          )
          .returningAll()
          .executeTakeFirstOrThrow()
      : await t
          .selectFrom("sagas")
          .selectAll()
          .where("order_id", "=", orderId)
          .forUpdate()
          .executeTakeFirst();
    if (!row) return { before: fresh, after: fresh, events: [], sent: [] };
    before = stateOf(row);
    cache.set(orderId, before);
  }
  const events = decide(input, before);
  if (!events.length) return { before, after: before, events, sent: [] };

  const after = events.reduce(evolve, before);
  const sent = commandsOf(orderId, events);
  // The deadline runs from the moment the saga learns of the order, not from the first reply.
  const learnsOrder = !before.order && after.order !== undefined;
  const deadlineAt = learnsOrder ? new Date(opts.now.getTime() + opts.deadlineMs) : null;
  // The new state and its history row in one statement, deferred (nothing reads its result).
  await executeTogether(trx, [
    sql`
    WITH updated AS (
      UPDATE sagas SET
        state = ${after.status}, inventory = ${after.inventory}, payment = ${after.payment},
        reason = ${after.reason ?? null}, customer_id = ${after.order?.customerId ?? null},
        total_cents = ${after.order?.totalCents ?? null}, currency = ${after.order?.currency ?? null},
        cancel_requested = ${after.cancelRequested}, order_cancelled = ${after.orderCancelled},
        tracestate = CASE WHEN traceparent IS NULL THEN ${opts.trace?.tracestate ?? null} ELSE tracestate END,
        traceparent = coalesce(traceparent, ${opts.trace?.traceparent ?? null}),
        deadline_at = coalesce(${deadlineAt}::timestamptz, deadline_at), updated_at = ${opts.now}
      WHERE order_id = ${orderId}
    )
    INSERT INTO saga_history (order_id, seq, at, event, from_state, to_state, inventory, payment, sent)
    SELECT ${orderId}, coalesce(max(seq), 0) + 1, ${opts.now}, ${input.name}, ${before.status}, ${after.status},
           ${after.inventory}, ${after.payment}, ${JSON.stringify(sent.map((c) => c.name))}::jsonb
    FROM saga_history WHERE order_id = ${orderId}`,
  ]);
  cache.set(orderId, after);
  for (const command of sent) await opts.send(command);
  await opts.record({
    orderId,
    event: input.name,
    from: before.status,
    to: after.status,
    inventory: after.inventory,
    payment: after.payment,
    sent: sent.map((c) => c.name),
    ...(after.reason === undefined ? {} : { reason: after.reason }),
    ...(after.order === undefined ? {} : { order: after.order }),
    cancelRequested: after.cancelRequested,
    orderCancelled: after.orderCancelled,
    ...(deadlineAt ? { deadlineAt: deadlineAt.toISOString() } : {}),
    ...(opts.trace?.traceparent === undefined ? {} : { traceparent: opts.trace.traceparent }),
    ...(opts.trace?.tracestate === undefined ? {} : { tracestate: opts.trace.tracestate }),
  });
  return { before, after, events, sent };
}

export interface SagaView {
  readonly orderId: string;
  readonly state: SagaState["status"];
  readonly steps: { readonly inventory: SagaState["inventory"]; readonly payment: SagaState["payment"] };
  readonly reason?: string;
  readonly order?: { readonly customerId: string; readonly totalCents: number; readonly currency: string };
  readonly deadlineAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly {
    readonly at: string;
    readonly event: string;
    readonly from: SagaState["status"];
    readonly to: SagaState["status"];
    readonly steps: { readonly inventory: SagaState["inventory"]; readonly payment: SagaState["payment"] };
    readonly sent: readonly string[];
  }[];
}

/** The saga of one order with its timeline, as `GET /sagas/:orderId` answers; undefined if unknown. */
export async function readSaga(kdb: Kysely<SagaDb>, orderId: string): Promise<SagaView | undefined> {
  const row = await kdb.selectFrom("sagas").selectAll().where("order_id", "=", orderId).executeTakeFirst();
  if (!row) return undefined;
  const s = stateOf(row);
  const history = await kdb
    .selectFrom("saga_history")
    .selectAll()
    .where("order_id", "=", orderId)
    .orderBy("seq")
    .execute();
  return {
    orderId,
    state: s.status,
    steps: { inventory: s.inventory, payment: s.payment },
    ...(s.reason ? { reason: s.reason } : {}),
    ...(s.order ? { order: s.order } : {}),
    deadlineAt: row.deadline_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    history: history.map((h) => ({
      at: h.at.toISOString(),
      event: h.event,
      from: h.from_state,
      to: h.to_state,
      steps: { inventory: h.inventory, payment: h.payment },
      sent: h.sent,
    })),
  };
}

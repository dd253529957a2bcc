import { derivedEventId, newEventId, type AnyCatalog } from "@orderflow/events";
import { sql } from "kysely";
import { executeTogether } from "./together.js";
import { outgoingTraceContext } from "./trace.js";
import {
  PermanentError,
  type AnyTransaction,
  type EnqueueOptions,
  type Outbox,
  type OutboxRow,
} from "./types.js";

/** Rows per INSERT statement (4 parameters each, far below PostgreSQL's 65535). */
const INSERT_CHUNK = 1000;

export interface OutboxOptions<C extends AnyCatalog> {
  /** The events this outbox writes: `enqueue`/`prepare` take only its names, with their data. */
  readonly catalog: C;
  /** `ce-source`, e.g. `/orderflow/order`. */
  readonly source: string;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/**
 * Creates the outbox writer of one service.
 * @example
 * const outbox = createOutbox({ catalog: orderEvents, source: "/orderflow/order" });
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto("orders").values(order).execute();
 *   await outbox.enqueue(trx, "order.created", data, { correlationId: order.id });
 * });
 */
export function createOutbox<C extends AnyCatalog>(opts: OutboxOptions<C>): Outbox<C> {
  const { catalog } = opts;
  const now = opts.now ?? (() => new Date());
  const newId = opts.newId ?? newEventId;
  const outbox: Outbox<C> = {
    catalog,
    prepare(name, data, o: EnqueueOptions = {}): OutboxRow {
      // Untyped callers (JavaScript, casts) naming an event of no catalog of ours: a bug that no
      // retry can fix, so the message that caused it is dead-lettered at once, naming the event.
      if (!catalog.has(name)) {
        throw new PermanentError(
          `"${name}" is not an event of this outbox's catalog (${catalog.names.join(", ")})`,
        );
      }
      const cause = o.causation;
      const id = o.id ?? (cause ? derivedEventId(cause.id, o.purpose ?? name) : newId());
      const correlationId = o.correlationId ?? cause?.correlationId ?? id;
      // Every event carries a traceparent: the cause's trace continues, else the active span's, else a new one.
      const traceCtx = outgoingTraceContext(cause ?? o.trace);
      const encoded = catalog.encode(name, data, {
        id,
        source: opts.source,
        time: o.time ?? now(),
        correlationId,
        causationId: cause?.id,
        traceparent: traceCtx.traceparent,
        tracestate: traceCtx.tracestate,
      });
      return { id, subject: encoded.subject, headers: encoded.headers, payload: encoded.data };
    },
    insertStatement(rows: readonly OutboxRow[]) {
      if (!rows.length || rows.length > INSERT_CHUNK)
        throw new RangeError(`insertStatement takes 1 to ${INSERT_CHUNK} rows`);
      // Re-emitting an id the outbox already holds (a replayed handler) is a no-op.
      return sql`
        INSERT INTO orderflow_outbox (event_id, subject, headers, payload)
        VALUES ${sql.join(
          rows.map(
            (r) =>
              sql`(${r.id}, ${r.subject}, ${JSON.stringify(r.headers)}::jsonb, ${Buffer.from(r.payload)})`,
          ),
        )}
        ON CONFLICT (event_id) DO NOTHING`;
    },
    async insert(trx: AnyTransaction, rows: readonly OutboxRow[]) {
      // Deferred: on a pipelining client the COMMIT goes out right behind it.
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await executeTogether(trx, [outbox.insertStatement(rows.slice(i, i + INSERT_CHUNK))]);
      }
    },
    async enqueue(trx, name, data, o) {
      const row = outbox.prepare(name, data, o);
      await outbox.insert(trx, [row]);
      return row.id;
    },
  };
  return outbox;
}

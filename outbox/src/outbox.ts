import { derivedEventId, encode, newEventId, type EventData, type EventName } from "@orderflow/events";
import { sql } from "kysely";
import { activeTraceContext } from "./trace.js";
import type { AnyTransaction, EnqueueOptions, Outbox } from "./types.js";

export interface OutboxOptions {
  /** `ce-source`, e.g. `/orderflow/order`. */
  readonly source: string;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/**
 * Creates the outbox writer of one service.
 * @example
 * const outbox = createOutbox({ source: "/orderflow/order" });
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto("orders").values(order).execute();
 *   await outbox.enqueue(trx, "order.created", data, { correlationId: order.id });
 * });
 */
export function createOutbox(opts: OutboxOptions): Outbox {
  const now = opts.now ?? (() => new Date());
  const newId = opts.newId ?? newEventId;
  return {
    async enqueue<N extends EventName>(trx: AnyTransaction, name: N, data: EventData<N>, o: EnqueueOptions = {}) {
      const cause = o.causation;
      const id = o.id ?? (cause ? derivedEventId(cause.id, o.purpose ?? name) : newId());
      const correlationId = o.correlationId ?? cause?.correlationId ?? id;
      // An event caused by a consumed message continues that message's trace; otherwise the active one.
      const traceCtx = cause?.traceparent
        ? { traceparent: cause.traceparent, tracestate: cause.tracestate }
        : activeTraceContext();
      const encoded = encode(name, data, {
        id,
        source: opts.source,
        time: now(),
        correlationId,
        causationId: cause?.id,
        traceparent: traceCtx?.traceparent,
        tracestate: traceCtx?.tracestate,
      });
      // Re-emitting an id the outbox already holds (a replayed handler) is a no-op.
      await sql`
        INSERT INTO orderflow_outbox (event_id, subject, headers, payload)
        VALUES (${id}, ${encoded.subject}, ${JSON.stringify(encoded.headers)}::jsonb, ${Buffer.from(encoded.data)})
        ON CONFLICT (event_id) DO NOTHING`.execute(trx);
      return id;
    },
  };
}

import type { CloudEvent, EventName } from "@orderflow/events";
import { sql } from "kysely";
import type { AnyDb, Handler, HandlerContext, Handlers, Outbox } from "./types.js";

export interface ApplyOptions {
  /** The inbox key: the service's consumer name. */
  readonly name: string;
  readonly db: AnyDb;
  readonly outbox: Outbox;
  readonly handlers: Handlers;
}

export type ApplyResult = "applied" | "duplicate" | "ignored";

/**
 * Applies one decoded event exactly once: inbox row, handler and the events it emits commit in one
 * transaction; an event already in the inbox is a duplicate and changes nothing. Used by the
 * consumer runtime and by `orderflow replay`.
 */
export async function applyEvent(opts: ApplyOptions, event: CloudEvent): Promise<ApplyResult> {
  const handler = opts.handlers[event.name] as Handler<EventName> | undefined;
  if (!handler) return "ignored";
  return opts.db.transaction().execute(async (trx) => {
    const inserted = await sql`
      INSERT INTO orderflow_inbox (consumer, event_id) VALUES (${opts.name}, ${event.id})
      ON CONFLICT DO NOTHING RETURNING 1`.execute(trx);
    if (!inserted.rows.length) return "duplicate";
    const ctx: HandlerContext = {
      trx,
      emit: (name, data, o) => opts.outbox.enqueue(trx, name, data, { ...o, causation: event }),
    };
    await handler(event, ctx);
    return "applied";
  });
}

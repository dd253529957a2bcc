import { context, type Context } from "@opentelemetry/api";
import type { AnyCloudEvent } from "@orderflow/events";
import { sql } from "kysely";
import { deferredOwnerOf, setStatementOwner } from "./prepared.js";
import type { AnyDb, AnyTransaction, HandlerContext, Outbox, OutboxRow } from "./types.js";

/** A handler map of any catalogs, as the runtime calls it. */
export type AnyHandlers = {
  readonly [name: string]: ((event: AnyCloudEvent, ctx: HandlerContext) => Promise<void>) | undefined;
};

export interface ApplyOptions {
  /** The inbox key: the service's consumer name. */
  readonly name: string;
  readonly db: AnyDb;
  readonly outbox: Outbox;
  readonly handlers: AnyHandlers;
  /** Called with each event's name and the seconds its handler ran (a metrics seam). */
  readonly onHandled?: ((event: string, seconds: number) => void) | undefined;
  /** See `ConsumerOptions.lockBatch`: run on the new events of each transaction before any handler. */
  readonly lockBatch?: ((trx: AnyTransaction, events: readonly AnyCloudEvent[]) => Promise<void>) | undefined;
}

export type ApplyResult = "applied" | "duplicate" | "ignored";

/** The handler of `events[index]` threw; the whole batch was rolled back. */
export class HandlerFailed extends Error {
  override name = "HandlerFailed";
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * Applies decoded events exactly once, all in one transaction: the inbox rows, the handlers (in the
 * given order, each seeing the writes of those before it) and the events they emit commit together.
 * An event already in the inbox (or earlier in the same batch) is a duplicate and changes nothing.
 * A handler that throws rolls back the whole batch, with `HandlerFailed` saying which. Used by the consumer runtime and by
 * `orderflow replay`.
 */
export async function applyEvents(
  opts: ApplyOptions,
  events: readonly AnyCloudEvent[],
  /** The trace context each event's handler runs in (its process span), by index. */
  contexts?: readonly Context[],
): Promise<ApplyResult[]> {
  const handlerOf = (e: AnyCloudEvent) => opts.handlers[e.name];
  const handled = events.filter((e) => handlerOf(e));
  if (!handled.length) return events.map(() => "ignored");
  const applied = opts.db.transaction().execute(async (trx) => {
    // One statement for the whole batch's inbox rows; what it returns is what is new.
    const { rows } = await sql<{ event_id: string }>`
      INSERT INTO orderflow_inbox (consumer, event_id)
      SELECT ${opts.name}, unnest(${handled.map((e) => e.id)}::uuid[])
      ON CONFLICT DO NOTHING RETURNING event_id`.execute(trx);
    const fresh = new Set(rows.map((r) => r.event_id));
    if (opts.lockBatch && fresh.size) {
      const seen = new Set(fresh);
      await opts.lockBatch(
        trx,
        handled.filter((e) => seen.delete(e.id.toLowerCase())),
      );
    }
    const results: ApplyResult[] = [];
    // What the handlers emit is written in one statement at the end, in emission order.
    const emitted: OutboxRow[] = [];
    const committed: (() => void)[] = [];
    for (const [index, event] of events.entries()) {
      const handler = handlerOf(event);
      if (!handler) {
        results.push("ignored");
        continue;
      }
      // Deleting makes a second copy of the same event within the batch a duplicate.
      if (!fresh.delete(event.id.toLowerCase())) {
        results.push("duplicate");
        continue;
      }
      const ctx: HandlerContext = {
        trx,
        emit: (name, data, o) => {
          const row = opts.outbox.prepare(name, data, { ...o, causation: event });
          emitted.push(row);
          return Promise.resolve(row.id);
        },
        afterCommit: (fn) => void committed.push(fn),
      };
      const started = performance.now();
      try {
        setStatementOwner(trx, index);
        const ctxOf = contexts?.[index];
        await (ctxOf ? context.with(ctxOf, () => handler(event, ctx)) : handler(event, ctx));
      } catch (err) {
        throw new HandlerFailed(deferredOwnerOf(err) ?? index, err);
      }
      opts.onHandled?.(event.name, (performance.now() - started) / 1000);
      results.push("applied");
    }
    setStatementOwner(trx, undefined);
    await opts.outbox.insert(trx, emitted);
    return { results, committed };
  });
  return applied.then(
    ({ results, committed }) => {
      // Committed: a callback that throws must not turn that into a failed delivery.
      for (const fn of committed) {
        try {
          fn();
        } catch {
          /* ignored */
        }
      }
      return results;
    },
    (err: unknown) => {
      // A deferred statement of handler i failed and surfaced later (another handler's statement,
      // the outbox insert, the COMMIT): it is handler i's failure.
      const owner = deferredOwnerOf(err);
      throw owner !== undefined && !(err instanceof HandlerFailed) ? new HandlerFailed(owner, err) : err;
    },
  );
}

/** Applies one decoded event exactly once (see `applyEvents`). */
export async function applyEvent(opts: ApplyOptions, event: AnyCloudEvent): Promise<ApplyResult> {
  try {
    const [result] = await applyEvents(opts, [event]);
    return result!;
  } catch (err) {
    throw err instanceof HandlerFailed ? err.cause : err;
  }
}

/**
 * Takes a transaction-scoped advisory lock on each key, in one order shared by every caller (by the
 * keys' 64-bit hashes), in one statement: transactions that lock their keys this way before touching
 * the rows the keys stand for wait for each other instead of deadlocking. Held until commit.
 */
export async function lockKeys(trx: AnyTransaction, keys: Iterable<string>): Promise<void> {
  const distinct = [...new Set(keys)];
  if (!distinct.length) return;
  // The ordered subquery feeds the calls in its order (a projection above ORDER BY may run before the sort).
  await sql`SELECT pg_advisory_xact_lock(h) FROM (
      SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(${distinct}::text[]) AS k ORDER BY h
    ) AS ordered`.execute(trx);
}

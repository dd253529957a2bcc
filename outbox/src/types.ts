import type { AnyCatalog, AnyCloudEvent, CloudEventOf, EventDataOf, EventNameOf } from "@orderflow/events";
import type { Kysely, RawBuilder, Transaction } from "kysely";

/** Any kysely handle a service's transaction can be: the outbox only touches its own tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDb = Kysely<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTransaction = Transaction<any>;

export interface EnqueueOptions {
  /** The saga / order id that ties a flow together; defaults to the causing event's correlation id. */
  readonly correlationId?: string;
  /** The event being handled (of any catalog); sets ce-causationid, trace context and a deterministic id. */
  readonly causation?: AnyCloudEvent;
  /** Distinguishes several events of the same type emitted for one cause (default: the event name). */
  readonly purpose?: string;
  /** Explicit event id (UUID); default: derived from the causation, else a fresh UUIDv7. */
  readonly id?: string;
  /**
   * The trace to continue when there is no `causation`: work that acts on a flow later, outside any
   * message (a saga's deadline), stays in that flow's trace.
   */
  readonly trace?: { readonly traceparent?: string | undefined; readonly tracestate?: string | undefined };
  /** `ce-time` (default: the outbox's clock): the instant the business change records, so a rebuild restores it. */
  readonly time?: Date;
}

/** An encoded event ready for the outbox table. */
export interface OutboxRow {
  readonly id: string;
  readonly subject: string;
  readonly headers: Record<string, string>;
  readonly payload: Uint8Array;
}

/** Writes events of catalog `C` into the outbox table inside the caller's transaction. */
export interface Outbox<C extends AnyCatalog = AnyCatalog> {
  /** The events this outbox writes. */
  readonly catalog: C;
  /** Returns the event id. The row commits or rolls back with `trx`. */
  enqueue<N extends EventNameOf<C>>(
    trx: AnyTransaction,
    name: N,
    data: EventDataOf<C, N>,
    opts?: EnqueueOptions,
  ): Promise<string>;
  /** Encodes an event into a row without writing it (id, trace context and time fixed now). */
  prepare<N extends EventNameOf<C>>(name: N, data: EventDataOf<C, N>, opts?: EnqueueOptions): OutboxRow;
  /** Writes prepared rows in one statement per thousand, in order; ids already present are skipped. */
  insert(trx: AnyTransaction, rows: readonly OutboxRow[]): Promise<void>;
  /**
   * The INSERT of 1 to 1000 prepared rows as a statement to compose, e.g. after a data-modifying
   * CTE: a single statement is its own transaction, so a business row and its event commit together
   * without BEGIN and COMMIT round trips.
   */
  insertStatement(rows: readonly OutboxRow[]): RawBuilder<unknown>;
}

/**
 * What a handler gets beside its event; `P` is the catalog of the events it may emit, `DB` the
 * kysely types of the service's database.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface HandlerContext<P extends AnyCatalog = AnyCatalog, DB = any> {
  /** The transaction the inbox row commits in; do every write of the handler through it. */
  readonly trx: Transaction<DB>;
  /**
   * Enqueues an event caused by the one being handled: deterministic id, same transaction; the row
   * is written when the batch's handlers are done (one statement for all), so do not read it back.
   */
  readonly emit: <N extends EventNameOf<P>>(
    name: N,
    data: EventDataOf<P, N>,
    opts?: Omit<EnqueueOptions, "causation">,
  ) => Promise<string>;
}

/** Handles event `N` of catalog `C`, emitting events of catalog `P`, writing to database `DB`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler<C extends AnyCatalog, N extends EventNameOf<C>, P extends AnyCatalog = C, DB = any> = (
  event: CloudEventOf<C, N>,
  ctx: HandlerContext<P, DB>,
) => Promise<void>;

/**
 * Handlers by event name: events of catalog `C` (what the service consumes), each receiving its
 * own event's data typed and emitting events of catalog `P` (what the service publishes).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handlers<C extends AnyCatalog = AnyCatalog, P extends AnyCatalog = C, DB = any> = {
  readonly [N in EventNameOf<C>]?: Handler<C, N, P, DB>;
};

/**
 * A handler throws this for input that can never succeed (e.g. a business rule violated by the
 * event itself): the message goes to the dead-letter stream at once instead of being retried.
 */
export class PermanentError extends Error {
  override name = "PermanentError";
}

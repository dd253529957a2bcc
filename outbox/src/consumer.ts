import type { JetStreamClient, JetStreamManager, JsMsg, ConsumerMessages } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import {
  streamNameOf,
  subjectOf,
  type AnyCatalog,
  type AnyCloudEvent as CloudEvent,
} from "@orderflow/events";
import type { Logger } from "pino";
import { applyEvent, applyEvents, HandlerFailed, type AnyHandlers, type ApplyResult } from "./apply.js";
import { describeError, isDatabaseUnavailable, isTransientDatabaseError, OutboxError } from "./errors.js";
import { isNotFound, Topology } from "./topology.js";
import { parseTraceparent, tracer } from "./trace.js";
import { PermanentError, type AnyDb, type Handlers, type Outbox } from "./types.js";

/**
 * The handler map, refused at start (not message by message) when it names an event the catalog
 * lacks or holds something other than a function.
 */
function checkHandlers(catalog: AnyCatalog, handlers: AnyHandlers, consumer: string): AnyHandlers {
  for (const [name, handler] of Object.entries(handlers)) {
    if (!catalog.has(name)) {
      throw new OutboxError(
        "UNKNOWN_EVENT",
        `${consumer}: a handler names "${name}", which is not an event of its catalogs (${catalog.names.join(", ")})`,
      );
    }
    if (typeof handler !== "function")
      throw new OutboxError("UNKNOWN_EVENT", `${consumer}: the handler of "${name}" is not a function`);
  }
  return handlers;
}

export interface ConsumerOptions<C extends AnyCatalog = AnyCatalog, P extends AnyCatalog = C> {
  /** Durable consumer name on each stream, and the inbox key; usually the service name. */
  readonly name: string;
  /** The events the handlers take (e.g. `mergeCatalogs(theirs, ours)`): what messages decode with. */
  readonly catalog: C;
  readonly db: AnyDb;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Where handlers' `emit` writes: the service's own events. */
  readonly outbox: Outbox<P>;
  readonly handlers: Handlers<C, P>;
  readonly topology?: Topology;
  readonly logger?: Logger;
  /**
   * Most messages applied in one transaction (default 100). Batches form by themselves under load:
   * a lane takes whatever has arrived while it was busy, so a lone message goes alone at once.
   */
  readonly batchSize?: number;
  /**
   * Lanes (default 1): each applies its own batches, one transaction at a time; a message goes to
   * the lane of its correlation id, so the events of one order are applied in order, in one lane.
   * More than one only where handlers of different orders never lock the same rows (the saga, the
   * order service): two lanes locking shared rows (stock, accounts) in different orders deadlock.
   */
  readonly concurrency?: number;
  /** Deliveries before a failing message is dead-lettered. */
  readonly maxDeliver?: number;
  /** First retry delay; doubles per delivery up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long JetStream waits for an ack before redelivering (default 5 s); held messages are kept alive. */
  readonly ackWaitMs?: number;
  readonly onResult?: (result: ConsumeResult, event: string) => void;
  /**
   * Runs after the inbox transaction committed and before the ack. A test seam: a crash here
   * leaves an applied but unacknowledged message, which JetStream redelivers after `ackWaitMs` and
   * the inbox turns into a `duplicate`. A throw counts as a failed delivery (the message is
   * redelivered and found in the inbox).
   */
  readonly afterCommit?: (event: CloudEvent, result: ApplyResult) => Promise<void> | void;
}

export type ConsumeResult = "applied" | "duplicate" | "ignored" | "retried" | "dead-lettered";

export interface Consumer {
  /** Creates or updates the durable consumers, then starts pulling. */
  start(): Promise<void>;
  /** Stops pulling and waits for messages in flight to commit and ack. */
  stop(): Promise<void>;
  readonly running: boolean;
  readonly durables: readonly { stream: string; consumer: string; filter: string }[];
}

const DEFAULT_ACK_WAIT_MS = 5000;
const DB_RETRY_MAX_MS = 5000;

/** Dead-letter headers added to the original message's headers. */
export const DeadLetterHeader = {
  Reason: "Orderflow-Dlq-Reason",
  Code: "Orderflow-Dlq-Code",
  Consumer: "Orderflow-Dlq-Consumer",
  Stream: "Orderflow-Dlq-Stream",
  Subject: "Orderflow-Dlq-Subject",
  Sequence: "Orderflow-Dlq-Sequence",
  Deliveries: "Orderflow-Dlq-Deliveries",
  Time: "Orderflow-Dlq-Time",
} as const;

/**
 * Runs a service's handlers over durable pull consumers, one per stream it listens to.
 * Messages of all its streams queue up in arrival order; a lane takes what has queued (up to
 * `batchSize`), decodes each, and applies the handled ones in one transaction (inbox rows, handlers,
 * emitted events; duplicates stop at the inbox), then acks them. One transaction per batch instead
 * of per message is what makes the runtime fast: a commit's fsync is paid once for the batch.
 * When a handler throws, the batch is rolled back and applied again without that message, which
 * alone is retried, and dead-lettered when it can never succeed (undecodable, PermanentError, out
 * of deliveries). A failure that only says
 * the database is unreachable is retried, never dead-lettered for it.
 */
export function createConsumer<C extends AnyCatalog, P extends AnyCatalog = C>(
  options: ConsumerOptions<C, P>,
): Consumer {
  const handlers = checkHandlers(options.catalog, options.handlers as unknown as AnyHandlers, options.name);
  const opts = { ...options, handlers, outbox: options.outbox as Outbox };
  const topology = opts.topology ?? new Topology();
  const batchSize = opts.batchSize ?? 100;
  const concurrency = opts.concurrency ?? 1;
  const maxDeliver = opts.maxDeliver ?? 5;
  const backoffMs = opts.backoffMs ?? 200;
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const log = opts.logger;
  // Short, so that what a crashed process held is redelivered within seconds of its restart (well
  // inside a saga's deadline); messages still queued or being applied are kept alive meanwhile.
  const ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const iterators: ConsumerMessages[] = [];
  const loops: Promise<void>[] = [];
  let running = false;

  // Group the handled events by stream; a stream with one handled subject filters on it exactly.
  const byStream = new Map<string, { context: string; subjects: string[] }>();
  for (const name of Object.keys(handlers)) {
    const def = opts.catalog.get(name)!;
    const stream = streamNameOf(def.context);
    const entry = byStream.get(stream) ?? { context: def.context, subjects: [] };
    entry.subjects.push(subjectOf(def));
    byStream.set(stream, entry);
  }
  const durables = [...byStream].map(([stream, { context: ctx, subjects }]) => ({
    stream: topology.stream(stream),
    consumer: opts.name,
    filter: topology.subject(subjects.length === 1 ? subjects[0]! : `${ctx}.>`),
  }));

  async function ensureDurable(d: (typeof durables)[number]): Promise<void> {
    const config = {
      durable_name: d.consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: d.filter,
      // Dead-lettering is ours: JetStream must keep redelivering until we terminate.
      max_deliver: -1,
      ack_wait: ackWaitMs * 1_000_000,
      max_ack_pending: Math.max(1000, batchSize * concurrency * 4),
    };
    try {
      const info = await opts.jsm.consumers.info(d.stream, d.consumer);
      if (
        info.config.filter_subject !== d.filter ||
        info.config.ack_wait !== config.ack_wait ||
        info.config.max_ack_pending !== config.max_ack_pending
      ) {
        await opts.jsm.consumers.update(d.stream, d.consumer, {
          filter_subject: d.filter,
          ack_wait: config.ack_wait,
          max_ack_pending: config.max_ack_pending,
        });
      }
    } catch (err) {
      if (!isNotFound(err)) {
        throw new OutboxError(
          "STREAM_DRIFT",
          `consumer ${d.consumer} on ${d.stream}: ${describeError(err)}`,
          { cause: err },
        );
      }
      await opts.jsm.consumers.add(d.stream, config);
    }
  }

  async function deadLetter(m: JsMsg, code: string, reason: string): Promise<ConsumeResult> {
    const h = natsHeaders();
    if (m.headers)
      for (const [k, vs] of m.headers) if (k !== "Nats-Msg-Id") for (const v of vs) h.append(k, v);
    const oneLine = (s: string) => s.replace(/[\r\n]+/g, " ").slice(0, 2000);
    h.set(DeadLetterHeader.Reason, oneLine(reason));
    h.set(DeadLetterHeader.Code, code);
    h.set(DeadLetterHeader.Consumer, opts.name);
    h.set(DeadLetterHeader.Stream, m.info.stream);
    h.set(DeadLetterHeader.Subject, m.subject);
    h.set(DeadLetterHeader.Sequence, String(m.info.streamSequence));
    h.set(DeadLetterHeader.Deliveries, String(m.info.deliveryCount));
    h.set(DeadLetterHeader.Time, new Date().toISOString());
    try {
      await opts.js.publish(topology.deadLetterSubject(opts.name, m.subject), m.data, {
        headers: h,
        msgID: `dlq:${opts.name}:${m.info.stream}:${m.info.streamSequence}`,
      });
    } catch (err) {
      log?.warn(
        { err: describeError(err), subject: m.subject, seq: m.info.streamSequence },
        "dead-letter publish failed; retrying",
      );
      m.nak(backoffMs);
      return "retried";
    }
    // A bare +TERM: servers before 2.10.4 ignore "+TERM <reason>" and would redeliver the message
    // after ack_wait forever. The reason travels in the dead letter's headers instead.
    m.term();
    log?.error({ subject: m.subject, seq: m.info.streamSequence, code, reason }, "message dead-lettered");
    return "dead-lettered";
  }

  /** A process span per message, child of the trace the event carries. */
  function startSpan(event: CloudEvent): Span {
    const parent = parseTraceparent(event.traceparent);
    return tracer().startSpan(
      `process ${event.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "messaging.message.id": event.id,
          "orderflow.consumer": opts.name,
        },
      },
      parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : context.active(),
    );
  }

  /** After the commit: the test seam, then the ack. */
  async function acknowledge(m: JsMsg, event: CloudEvent, result: ApplyResult): Promise<ConsumeResult> {
    try {
      await opts.afterCommit?.(event, result);
    } catch (err) {
      log?.warn({ eventId: event.id, err: describeError(err) }, "after-commit hook failed; redelivering");
      m.nak(backoffMs);
      return "retried";
    }
    m.ack();
    return result;
  }

  /** What a failed delivery becomes: a retry with backoff, or a dead letter. */
  async function failed(m: JsMsg, event: CloudEvent, err: unknown): Promise<ConsumeResult> {
    const deliveries = m.info.deliveryCount;
    const fields = {
      eventId: event.id,
      type: event.name,
      correlationId: event.correlationId,
      traceId: parseTraceparent(event.traceparent)?.traceId,
      deliveries,
      err: describeError(err),
    };
    if (err instanceof PermanentError) return deadLetter(m, "PERMANENT", describeError(err));
    const delay = Math.min(backoffMs * 2 ** (deliveries - 1), maxBackoffMs);
    // The database being down (or a deadlock, or a plan a migration invalidated) says nothing
    // about the message: retry without ever dead-lettering, and often enough to notice its return.
    if (isTransientDatabaseError(err)) {
      const retryInMs = Math.min(delay, DB_RETRY_MAX_MS);
      log?.warn(
        { ...fields, retryInMs },
        isDatabaseUnavailable(err) ? "database unavailable; retrying" : "transient database error; retrying",
      );
      m.nak(retryInMs);
      return "retried";
    }
    if (deliveries >= maxDeliver) {
      return deadLetter(m, "MAX_DELIVERIES", `failed ${deliveries} times; last error ${describeError(err)}`);
    }
    log?.warn({ ...fields, retryInMs: delay }, "handler failed; retrying");
    m.nak(delay);
    return "retried";
  }

  /** Applies one message in its own transaction. */
  async function applyOne(m: JsMsg, event: CloudEvent): Promise<ConsumeResult> {
    const span = startSpan(event);
    try {
      const result = await context.with(trace.setSpan(context.active(), span), () => applyEvent(opts, event));
      return await acknowledge(m, event, result);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
      return await failed(m, event, err);
    } finally {
      span.end();
    }
  }

  type Work = { readonly m: JsMsg; readonly event: CloudEvent };
  const report = (r: ConsumeResult, m: JsMsg) => {
    held.delete(m);
    opts.onResult?.(r, m.subject);
  };

  // Every message received and not yet acked, nak'ed or terminated, with when it was last kept
  // alive: one that waits in a lane or in a long transaction gets `+WPI` before its ack_wait ends,
  // or JetStream would deliver it again while it is still ours (and count a delivery it never had).
  const held = new Map<JsMsg, number>();
  let keepAlive: NodeJS.Timeout | undefined;
  const keepHeldAlive = () => {
    const due = Date.now() - ackWaitMs / 3;
    for (const [m, at] of held) {
      if (at > due) continue;
      m.working();
      held.set(m, Date.now());
    }
  };

  async function applyBatch(msgs: readonly JsMsg[]): Promise<void> {
    const work: Work[] = [];
    for (const m of msgs) {
      const decoded = opts.catalog.decode({ subject: m.subject, headers: m.headers, data: m.data });
      if (!decoded.ok) report(await deadLetter(m, decoded.error.code, decoded.error.message), m);
      else if (!opts.handlers[decoded.event.name]) {
        m.ack();
        report("ignored", m);
      } else work.push({ m, event: decoded.event });
    }
    await applyAll(work);
  }

  /**
   * One transaction for all of `work`. When handler i throws, the batch rolls back; message i's
   * delivery has failed (retry or dead letter), and the messages before and after it are applied
   * again without it. Any other failure (inbox insert, commit, the database gone) fails them all.
   */
  async function applyAll(work: readonly Work[]): Promise<void> {
    if (!work.length) return;
    if (work.length === 1) return report(await applyOne(work[0]!.m, work[0]!.event), work[0]!.m);
    const spans = work.map(({ event }) => startSpan(event));
    let results: ApplyResult[];
    try {
      results = await applyEvents(
        opts,
        work.map((w) => w.event),
      );
    } catch (err) {
      if (!(err instanceof HandlerFailed)) {
        for (const { m, event } of work) report(await failed(m, event, err), m);
        return;
      }
      const { m, event } = work[err.index]!;
      spans[err.index]!.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err.cause) });
      report(await failed(m, event, err.cause), m);
      await applyAll(work.slice(0, err.index));
      await applyAll(work.slice(err.index + 1));
      return;
    } finally {
      for (const s of spans) s.end();
    }
    for (const [i, { m, event }] of work.entries()) report(await acknowledge(m, event, results[i]!), m);
  }

  // Messages of every stream wait in their lane's queue. The readers never stop taking what was
  // delivered (a message left in the client's buffer could not be kept alive); what is delivered
  // and unacknowledged is bounded by the durable's max_ack_pending.
  const lanes = Array.from({ length: concurrency }, () => ({ queue: [] as JsMsg[], busy: false }));
  let queued = 0;
  let scheduled = false;
  let waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const settled = () => queued === 0 && lanes.every((l) => !l.busy);
  async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((r) => waiters.push(r));
  }
  const laneOf = (m: JsMsg) => {
    if (concurrency === 1) return lanes[0]!;
    const key = m.headers?.get("ce-correlationid") ?? "";
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
    return lanes[(h >>> 0) % concurrency]!;
  };

  function dispatch(): void {
    scheduled = false;
    for (const lane of lanes) {
      if (lane.busy || !lane.queue.length) continue;
      lane.busy = true;
      const batch = lane.queue.splice(0, batchSize);
      queued -= batch.length;
      applyBatch(batch)
        .catch((err: unknown) => {
          // Only reached on a bug in the runtime itself; the messages are redelivered after ack_wait.
          log?.error({ err: describeError(err) }, "batch processing crashed");
        })
        .finally(() => {
          lane.busy = false;
          if (lane.queue.length) schedule();
          wake();
        });
    }
  }
  // Deferred to the next turn of the event loop so that a lane takes everything one read delivered.
  function schedule(): void {
    if (!scheduled) {
      scheduled = true;
      setImmediate(dispatch);
    }
  }

  async function pull(d: (typeof durables)[number]): Promise<void> {
    const c = await opts.js.consumers.get(d.stream, d.consumer);
    const messages = await c.consume({ max_messages: Math.max(batchSize * concurrency, 64) });
    iterators.push(messages);
    for await (const m of messages) {
      held.set(m, Date.now());
      laneOf(m).queue.push(m);
      queued++;
      schedule();
    }
  }

  return {
    durables,
    get running() {
      return running;
    },
    async start() {
      if (running) return;
      for (const d of durables) await ensureDurable(d);
      running = true;
      keepAlive ??= setInterval(keepHeldAlive, Math.max(50, ackWaitMs / 6)).unref();
      for (const d of durables) {
        loops.push(
          pull(d).catch((err: unknown) => {
            running = false;
            log?.error({ err: describeError(err), stream: d.stream }, "consumer stopped");
          }),
        );
      }
    },
    async stop() {
      running = false;
      await Promise.all(iterators.map((it) => it.close()));
      await Promise.all(loops);
      // What was already delivered is applied and acked before stop returns.
      await until(settled);
      waiters = [];
      clearInterval(keepAlive);
      keepAlive = undefined;
    },
  };
}

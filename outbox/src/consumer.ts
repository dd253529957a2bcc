import type { JetStreamClient, JetStreamManager, JsMsg, ConsumerMessages } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { catalog, decode, streamNameOf, subjectOf, type CloudEvent, type EventName } from "@orderflow/events";
import type { Logger } from "pino";
import { applyEvent, type ApplyResult } from "./apply.js";
import { describeError, isDatabaseUnavailable, OutboxError } from "./errors.js";
import { isNotFound, Topology } from "./topology.js";
import { parseTraceparent, tracer } from "./trace.js";
import { PermanentError, type AnyDb, type Handler, type Handlers, type Outbox } from "./types.js";

export interface ConsumerOptions {
  /** Durable consumer name on each stream, and the inbox key; usually the service name. */
  readonly name: string;
  readonly db: AnyDb;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly outbox: Outbox;
  readonly handlers: Handlers;
  readonly topology?: Topology;
  readonly logger?: Logger;
  /** Messages processed at once. */
  readonly concurrency?: number;
  /** Deliveries before a failing message is dead-lettered. */
  readonly maxDeliver?: number;
  /** First retry delay; doubles per delivery up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
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

class Slots {
  #free: number;
  #waiters: (() => void)[] = [];
  #idle: (() => void)[] = [];
  readonly #size: number;
  constructor(size: number) {
    this.#free = this.#size = size;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiters.push(r));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next) return next();
    this.#free++;
    if (this.#free === this.#size) for (const r of this.#idle.splice(0)) r();
  }
  drained(): Promise<void> {
    return this.#free === this.#size ? Promise.resolve() : new Promise((r) => this.#idle.push(r));
  }
}

/**
 * Runs a service's handlers over durable pull consumers, one per stream it listens to.
 * Each message: decode and validate; in one transaction insert the inbox row (a duplicate stops
 * here), run the handler and its emits; commit; then ack. Undecodable messages, PermanentErrors and
 * messages out of deliveries go to the dead-letter stream and are terminated. A failure that only
 * says the database is unreachable is retried, never dead-lettered for it.
 */
export function createConsumer(opts: ConsumerOptions): Consumer {
  const topology = opts.topology ?? new Topology();
  const concurrency = opts.concurrency ?? 16;
  const maxDeliver = opts.maxDeliver ?? 5;
  const backoffMs = opts.backoffMs ?? 200;
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const log = opts.logger;
  const slots = new Slots(concurrency);
  const iterators: ConsumerMessages[] = [];
  const loops: Promise<void>[] = [];
  let running = false;

  // Group the handled events by stream; a stream with one handled subject filters on it exactly.
  const byStream = new Map<string, { context: string; subjects: string[] }>();
  for (const name of Object.keys(opts.handlers) as EventName[]) {
    const def = catalog[name];
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
      ack_wait: (opts.ackWaitMs ?? 30_000) * 1_000_000,
      max_ack_pending: Math.max(1000, concurrency * 4),
    };
    try {
      const info = await opts.jsm.consumers.info(d.stream, d.consumer);
      if (info.config.filter_subject !== d.filter || info.config.ack_wait !== config.ack_wait) {
        await opts.jsm.consumers.update(d.stream, d.consumer, {
          filter_subject: d.filter,
          ack_wait: config.ack_wait,
          max_ack_pending: config.max_ack_pending,
        });
      }
    } catch (err) {
      if (!isNotFound(err)) {
        throw new OutboxError("STREAM_DRIFT", `consumer ${d.consumer} on ${d.stream}: ${describeError(err)}`, { cause: err });
      }
      await opts.jsm.consumers.add(d.stream, config);
    }
  }

  async function deadLetter(m: JsMsg, code: string, reason: string): Promise<ConsumeResult> {
    const h = natsHeaders();
    if (m.headers) for (const [k, vs] of m.headers) if (k !== "Nats-Msg-Id") for (const v of vs) h.append(k, v);
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
      log?.warn({ err: describeError(err), subject: m.subject, seq: m.info.streamSequence }, "dead-letter publish failed; retrying");
      m.nak(backoffMs);
      return "retried";
    }
    // A bare +TERM: servers before 2.10.4 ignore "+TERM <reason>" and would redeliver the message
    // after ack_wait forever. The reason travels in the dead letter's headers instead.
    m.term();
    log?.error({ subject: m.subject, seq: m.info.streamSequence, code, reason }, "message dead-lettered");
    return "dead-lettered";
  }

  async function process(m: JsMsg): Promise<ConsumeResult> {
    const decoded = decode({ subject: m.subject, headers: m.headers, data: m.data });
    if (!decoded.ok) return deadLetter(m, decoded.error.code, decoded.error.message);
    const event = decoded.event;
    const handler = opts.handlers[event.name] as Handler<EventName> | undefined;
    if (!handler) {
      m.ack();
      return "ignored";
    }
    const parent = parseTraceparent(event.traceparent);
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : context.active();
    return tracer().startActiveSpan(
      `process ${event.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { "messaging.system": "nats", "messaging.message.id": event.id, "orderflow.consumer": opts.name },
      },
      ctx,
      async (span) => {
        try {
          const result = await applyEvent(opts, event);
          await opts.afterCommit?.(event, result);
          m.ack();
          return result;
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
          const deliveries = m.info.deliveryCount;
          const fields = {
            eventId: event.id,
            type: event.name,
            correlationId: event.correlationId,
            traceId: parent?.traceId,
            deliveries,
            err: describeError(err),
          };
          if (err instanceof PermanentError) return deadLetter(m, "PERMANENT", describeError(err));
          const delay = Math.min(backoffMs * 2 ** (deliveries - 1), maxBackoffMs);
          // The database being down says nothing about the message: retry without ever dead-lettering,
          // and often enough to notice its return within seconds.
          if (isDatabaseUnavailable(err)) {
            const retryInMs = Math.min(delay, DB_RETRY_MAX_MS);
            log?.warn({ ...fields, retryInMs }, "database unavailable; retrying");
            m.nak(retryInMs);
            return "retried";
          }
          if (deliveries >= maxDeliver) {
            return deadLetter(m, "MAX_DELIVERIES", `failed ${deliveries} times; last error ${describeError(err)}`);
          }
          log?.warn({ ...fields, retryInMs: delay }, "handler failed; retrying");
          m.nak(delay);
          return "retried";
        } finally {
          span.end();
        }
      },
    );
  }

  async function pull(d: (typeof durables)[number]): Promise<void> {
    const c = await opts.js.consumers.get(d.stream, d.consumer);
    const messages = await c.consume({ max_messages: Math.max(concurrency * 2, 64) });
    iterators.push(messages);
    for await (const m of messages) {
      await slots.acquire();
      void process(m)
        .then((r) => opts.onResult?.(r, m.subject))
        .catch((err: unknown) => {
          // Only reached on a bug in the runtime itself; the message will be redelivered after ack_wait.
          log?.error({ err: describeError(err), subject: m.subject }, "message processing crashed");
        })
        .finally(() => slots.release());
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
      await slots.drained();
    },
  };
}

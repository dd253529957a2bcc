import type { JsMsg } from "@nats-io/jetstream";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import type { AnyCatalog, AnyCloudEvent as CloudEvent } from "@orderflow/events";
import { applyEvent, applyEvents, HandlerFailed, type ApplyOptions, type ApplyResult } from "../apply.js";
import type { ConsumeResult } from "../consumer.js";
import { describeError } from "../errors.js";
import type { DeadLetter } from "./dead-letter.js";
import type { DeliveryPolicy } from "./delivery-policy.js";
import { startProcessSpan } from "./process-span.js";

export interface BatchApplierOptions extends ApplyOptions {
  /** What messages decode with. */
  readonly catalog: AnyCatalog;
  readonly policy: DeliveryPolicy;
  readonly deadLetter: DeadLetter;
  /** Called once per message, when it has been acked, nak'ed or terminated. */
  readonly report: (result: ConsumeResult, m: JsMsg) => void;
}

/** Applies a batch of messages, and acks, retries or dead-letters each of them. */
export type BatchApplier = (msgs: readonly JsMsg[]) => Promise<void>;

type Work = { readonly m: JsMsg; readonly event: CloudEvent };

/**
 * Decodes each message (dead-lettering what cannot be decoded, acking what has no handler) and
 * applies the rest in one transaction. When a handler throws, the batch is rolled back and applied
 * again without that message, which alone is retried or dead-lettered.
 */
export function createBatchApplier(opts: BatchApplierOptions): BatchApplier {
  const { policy, report } = opts;
  /** The event a message carries, or why it can never be one. */
  const decodeMessage = (m: JsMsg) =>
    opts.catalog.decode({ subject: m.subject, headers: m.headers, data: m.data });

  /** Applies one message in its own transaction, under its process span (its queries and logs too). */
  async function applyOne({ m, event }: Work): Promise<ConsumeResult> {
    const span = startProcessSpan(m, event, opts.name);
    return context.with(trace.setSpan(context.active(), span), async () => {
      try {
        const result = await applyEvent(opts, event);
        return await policy.acknowledge(m, event, result);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
        return await policy.failed(m, event, err);
      } finally {
        span.end();
      }
    });
  }

  /**
   * One transaction for all of `work`. When handler i throws, the batch rolls back; message i's
   * delivery has failed (retry or dead letter), and the messages before and after it are applied
   * again without it. Any other failure (inbox insert, commit, the database gone) fails them all.
   */
  async function applyAll(work: readonly Work[]): Promise<void> {
    if (!work.length) return;
    if (work.length === 1) return report(await applyOne(work[0]!), work[0]!.m);
    // Each handler runs under its message's process span; the batch's shared statements under none.
    const spans = work.map(({ m, event }) => startProcessSpan(m, event, opts.name));
    const contexts = spans.map((span) => trace.setSpan(context.active(), span));
    let results: ApplyResult[];
    try {
      results = await applyEvents(
        opts,
        work.map((w) => w.event),
        contexts,
      );
    } catch (err) {
      if (!(err instanceof HandlerFailed)) {
        for (const [i, { m, event }] of work.entries())
          report(await context.with(contexts[i]!, () => policy.failed(m, event, err)), m);
        return;
      }
      const { m, event } = work[err.index]!;
      spans[err.index]!.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err.cause) });
      report(await context.with(contexts[err.index]!, () => policy.failed(m, event, err.cause)), m);
      await applyAll(work.slice(0, err.index));
      await applyAll(work.slice(err.index + 1));
      return;
    } finally {
      for (const s of spans) s.end();
    }
    for (const [i, { m, event }] of work.entries())
      report(await context.with(contexts[i]!, () => policy.acknowledge(m, event, results[i]!)), m);
  }

  return async (msgs) => {
    const work: Work[] = [];
    for (const m of msgs) {
      const decoded = decodeMessage(m);
      if (!decoded.ok) report(await opts.deadLetter(m, decoded.error.code, decoded.error.message), m);
      else if (!opts.handlers[decoded.event.name]) {
        m.ack();
        report("ignored", m);
      } else work.push({ m, event: decoded.event });
    }
    await applyAll(work);
  };
}

import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";

export interface ReadStreamOptions {
  readonly js: Pick<JetStreamClient, "consumers">;
  readonly jsm: Pick<JetStreamManager, "streams">;
  /** The stream's name on the wire (`Topology.stream` applied). */
  readonly stream: string;
  /** A subject filter on the wire, e.g. `orders.order.created`. */
  readonly filter?: string;
  /** Start at this sequence; else at `startTime`; else at the beginning. */
  readonly startSeq?: number;
  readonly startTime?: Date;
  /** Deliver headers only (the body is empty). */
  readonly headersOnly?: boolean;
}

/**
 * Reads a stream once, from a sequence or time to its end as it was when reading began, through an
 * ordered consumer (no durable state, no acks); `visit` is awaited for each message in order.
 * Returns how many messages were visited.
 * @example
 * await readStream({ js, jsm, stream: "ORDERS", headersOnly: true }, (m) => ids.add(m.headers?.get("ce-id")));
 */
export async function readStream(
  opts: ReadStreamOptions,
  visit: (m: JsMsg) => void | Promise<void>,
): Promise<number> {
  const { state } = await opts.jsm.streams.info(opts.stream);
  if (state.messages === 0) return 0;
  const lastSeq = state.last_seq;
  const consumer = await opts.js.consumers.get(opts.stream, {
    ...(opts.filter ? { filter_subjects: opts.filter } : {}),
    ...(opts.startSeq
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.startSeq }
      : opts.startTime
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.startTime.toISOString() }
        : { deliver_policy: DeliverPolicy.All }),
    headers_only: opts.headersOnly ?? false,
  });
  // An empty range (start past the end, or nothing matching the filter) would never deliver.
  if ((await consumer.info(true)).num_pending === 0) return 0;
  const messages = await consumer.consume({ max_messages: 1000 });
  let n = 0;
  try {
    for await (const m of messages) {
      await visit(m);
      n++;
      if (m.info.pending === 0 || m.seq >= lastSeq) break;
    }
  } finally {
    await messages.close();
    await consumer.delete().catch(() => {});
  }
  return n;
}

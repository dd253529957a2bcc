import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";

export interface ReadOptions {
  readonly filter?: string;
  readonly startSeq?: number;
  readonly startTime?: Date;
  readonly headersOnly?: boolean;
}

/**
 * Reads a stream once, from a sequence or time to the end as it was when reading began, through an
 * ordered consumer (no durable state, no acks). Returns how many messages were visited.
 */
export async function readStream(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  opts: ReadOptions,
  visit: (m: JsMsg) => void | Promise<void>,
): Promise<number> {
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return 0;
  const lastSeq = state.last_seq;
  const consumer = await js.consumers.get(stream, {
    ...(opts.filter ? { filter_subjects: opts.filter } : {}),
    ...(opts.startSeq
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.startSeq }
      : opts.startTime
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.startTime.toISOString() }
        : { deliver_policy: DeliverPolicy.All }),
    headers_only: opts.headersOnly ?? false,
  });
  let n = 0;
  // An empty range (start past the end, or nothing matching the filter) would never deliver.
  const probe = await consumer.info(true);
  if (probe.num_pending === 0) return 0;
  const messages = await consumer.consume({ max_messages: 1000 });
  for await (const m of messages) {
    await visit(m);
    n++;
    if (m.info.pending === 0 || m.seq >= lastSeq) break;
  }
  await messages.close();
  await consumer.delete().catch(() => {});
  return n;
}

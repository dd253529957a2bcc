import type { JetStreamManager } from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";
import { OutboxError } from "../errors.js";
import { isNotFound } from "../topology.js";

export interface ConsumerState {
  readonly stream: string;
  readonly consumer: string;
  readonly filter: string;
  /** Matching messages not yet delivered. */
  readonly pending: number;
  /** Delivered, not yet acknowledged. */
  readonly ackPending: number;
  readonly redelivered: number;
  /** Messages the consumer has not finished: pending + ack-pending. */
  readonly lag: number;
  readonly ackFloor: number;
}

/** Every durable consumer on every stream, with its progress, sorted by stream and name. */
export async function listConsumers(
  jsm: Pick<JetStreamManager, "streams" | "consumers">,
): Promise<ConsumerState[]> {
  const out: ConsumerState[] = [];
  for await (const s of jsm.streams.list()) {
    for await (const c of jsm.consumers.list(s.config.name)) {
      if (!c.config.durable_name) continue;
      out.push({
        stream: c.stream_name,
        consumer: c.name,
        filter: c.config.filter_subject ?? "",
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        redelivered: c.num_redelivered,
        lag: c.num_pending + c.num_ack_pending,
        ackFloor: c.ack_floor.stream_seq,
      });
    }
  }
  return out.sort((a, b) => a.stream.localeCompare(b.stream) || a.consumer.localeCompare(b.consumer));
}

/**
 * Moves a durable consumer to a stream sequence or a time by recreating it with the same
 * configuration (JetStream before 2.11 cannot move a consumer in place). A service pulling from it
 * resumes on its own once the consumer is back; the inbox makes re-delivered events harmless.
 * An unknown stream or consumer throws an `OutboxError` `NOT_FOUND`; a sequence outside the stream
 * `OUT_OF_RANGE`.
 * @example
 * await resetConsumer(jsm, "ORDERS", "inventory", { time: new Date(Date.now() - 2 * 3_600_000) });
 */
export async function resetConsumer(
  jsm: Pick<JetStreamManager, "streams" | "consumers">,
  stream: string,
  consumer: string,
  to: { seq: number } | { time: Date },
): Promise<void> {
  const { state } = await jsm.streams.info(stream).catch(notFound(`unknown stream "${stream}"`));
  const info = await jsm.consumers
    .info(stream, consumer)
    .catch(notFound(`unknown consumer "${consumer}" on stream ${stream}`));
  if ("seq" in to && (to.seq < 1 || to.seq > state.last_seq + 1)) {
    throw new OutboxError(
      "OUT_OF_RANGE",
      `sequence ${to.seq} is outside stream ${stream} (1..${state.last_seq + 1})`,
    );
  }
  const config = { ...info.config };
  delete config.opt_start_seq;
  delete config.opt_start_time;
  await jsm.consumers.delete(stream, consumer);
  await jsm.consumers.add(stream, {
    ...config,
    ...("seq" in to
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: to.seq }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: to.time.toISOString() }),
  });
}

const notFound = (message: string) => (err: unknown) => {
  throw isNotFound(err) ? new OutboxError("NOT_FOUND", message, { cause: err }) : err;
};

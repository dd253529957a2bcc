import type { JetStreamManager } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { streamNameOf, subjectOf, type AnyCatalog } from "@orderflow/events";
import { describeError, OutboxError } from "../errors.js";
import { isNotFound, type Topology } from "../topology.js";
import type { AnyHandlers } from "../apply.js";

/** A durable pull consumer the runtime reads: one per stream whose events a service handles. */
export interface Durable {
  readonly stream: string;
  readonly consumer: string;
  readonly filter: string;
}

/** The settings of a durable that the runtime owns and keeps in line. */
export interface DurableSettings {
  /** How long JetStream waits for an ack before redelivering. */
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

export type DurableAction = "created" | "updated" | "unchanged";

/**
 * The durables named `name` that `handlers` need: one per stream of a handled event (a stream with
 * one handled subject filters on it exactly, else on its whole context), and one on the dead-letter
 * stream for the letters redriven to this consumer.
 */
export function durablesFor(
  handlers: AnyHandlers,
  catalog: AnyCatalog,
  topology: Topology,
  name: string,
): Durable[] {
  const byStream = new Map<string, { context: string; subjects: string[] }>();
  for (const event of Object.keys(handlers)) {
    const def = catalog.get(event)!;
    const stream = streamNameOf(def.context);
    const entry = byStream.get(stream) ?? { context: def.context, subjects: [] };
    entry.subjects.push(subjectOf(def));
    byStream.set(stream, entry);
  }
  const durables = [...byStream].map(([stream, { context, subjects }]) => ({
    stream: topology.stream(stream),
    consumer: name,
    filter: topology.subject(subjects.length === 1 ? subjects[0]! : `${context}.>`),
  }));
  // Its dead letters, redriven to it alone (see DeadLetters.redrive).
  if (durables.length)
    durables.push({
      stream: topology.deadLetterStream,
      consumer: name,
      filter: topology.redriveFilter(name),
    });
  return durables;
}

/**
 * Creates the durable (delivering the whole stream), or brings the settings the runtime owns in
 * line on the one that exists; where it starts is left alone (`orderflow consumers reset` moves it).
 */
export async function ensureDurable(
  jsm: Pick<JetStreamManager, "consumers">,
  d: Durable,
  settings: DurableSettings,
): Promise<DurableAction> {
  const config = {
    durable_name: d.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: d.filter,
    // Dead-lettering is ours: JetStream must keep redelivering until we terminate.
    max_deliver: -1,
    ack_wait: settings.ackWaitMs * 1_000_000,
    max_ack_pending: settings.maxAckPending,
  };
  try {
    const info = await jsm.consumers.info(d.stream, d.consumer);
    if (
      info.config.filter_subject === d.filter &&
      info.config.ack_wait === config.ack_wait &&
      info.config.max_ack_pending === config.max_ack_pending
    ) {
      return "unchanged";
    }
    await jsm.consumers.update(d.stream, d.consumer, {
      filter_subject: d.filter,
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
    });
    return "updated";
  } catch (err) {
    if (!isNotFound(err)) {
      throw new OutboxError("STREAM_DRIFT", `consumer ${d.consumer} on ${d.stream}: ${describeError(err)}`, {
        cause: err,
      });
    }
    await jsm.consumers.add(d.stream, config);
    return "created";
  }
}

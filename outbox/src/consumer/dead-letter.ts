import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";
import type { Topology } from "../topology.js";

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

export interface DeadLetterOptions {
  /** The consumer's name: part of the dead letter's subject and id. */
  readonly name: string;
  readonly js: Pick<JetStreamClient, "publish">;
  readonly topology: Topology;
  /** When the dead letter cannot be published, the message comes again after this long. */
  readonly retryMs: number;
  readonly logger?: Logger | undefined;
}

/**
 * Publishes `m` to the dead-letter stream with the reason, then terminates it; a failed publish
 * leaves it to be redelivered ("retried").
 */
export type DeadLetter = (m: JsMsg, code: string, reason: string) => Promise<"dead-lettered" | "retried">;

export function createDeadLetter(opts: DeadLetterOptions): DeadLetter {
  const { name, topology, logger: log } = opts;
  return async (m, code, reason) => {
    const from = originOf(m, topology);
    try {
      await opts.js.publish(topology.deadLetterSubject(name, from.subject), m.data, {
        headers: deadLetterHeaders(m, from, name, code, reason),
        msgID: `dlq:${name}:${m.info.stream}:${m.info.streamSequence}`,
      });
    } catch (err) {
      log?.warn(
        { err: describeError(err), subject: m.subject, seq: m.info.streamSequence },
        "dead-letter publish failed; retrying",
      );
      m.nak(opts.retryMs);
      return "retried";
    }
    // A bare +TERM: servers before 2.10.4 ignore "+TERM <reason>" and would redeliver the message
    // after ack_wait forever. The reason travels in the dead letter's headers instead.
    m.term();
    log?.error({ subject: m.subject, seq: m.info.streamSequence, code, reason }, "message dead-lettered");
    return "dead-lettered";
  };
}

interface Origin {
  readonly stream: string;
  readonly subject: string;
  readonly sequence: string;
}

/** Where the event was first stored: a redriven letter carries its origin in the headers it kept. */
function originOf(m: JsMsg, topology: Topology): Origin {
  const h = (k: string) => m.headers?.get(k) || undefined;
  const subject = h(DeadLetterHeader.Subject);
  if (m.info.stream === topology.deadLetterStream && subject)
    return {
      subject,
      stream: h(DeadLetterHeader.Stream) ?? "",
      sequence: h(DeadLetterHeader.Sequence) ?? "",
    };
  return { subject: m.subject, stream: m.info.stream, sequence: String(m.info.streamSequence) };
}

/** The original's headers (less its Nats-Msg-Id: the dead letter has its own) plus where and why. */
function deadLetterHeaders(m: JsMsg, from: Origin, consumer: string, code: string, reason: string): MsgHdrs {
  const h = natsHeaders();
  if (m.headers) for (const [k, vs] of m.headers) if (k !== "Nats-Msg-Id") for (const v of vs) h.append(k, v);
  h.set(DeadLetterHeader.Reason, reason.replace(/[\r\n]+/g, " ").slice(0, 2000));
  h.set(DeadLetterHeader.Code, code);
  h.set(DeadLetterHeader.Consumer, consumer);
  h.set(DeadLetterHeader.Stream, from.stream);
  h.set(DeadLetterHeader.Subject, from.subject);
  h.set(DeadLetterHeader.Sequence, from.sequence);
  h.set(DeadLetterHeader.Deliveries, String(m.info.deliveryCount));
  h.set(DeadLetterHeader.Time, new Date().toISOString());
  return h;
}

import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Header, type AnyCatalog } from "@orderflow/events";
import { DeadLetterHeader } from "../consumer/dead-letter.js";
import { OutboxError } from "../errors.js";
import { Topology } from "../topology.js";

export interface DeadLettersOptions {
  readonly js: Pick<JetStreamClient, "publish">;
  readonly jsm: Pick<JetStreamManager, "streams">;
  readonly topology?: Topology;
  /** What `show` decodes a letter's event with: every event of the system. */
  readonly catalog?: AnyCatalog;
}

export interface DeadLetter {
  /** Sequence in the dead-letter stream: the id `show` and `redrive` take. */
  readonly id: number;
  readonly time: string;
  readonly consumer: string;
  readonly code: string;
  readonly reason: string;
  readonly subject: string;
  readonly stream: string;
  readonly sequence: number;
  readonly deliveries: number;
  readonly eventId: string | undefined;
  readonly type: string | undefined;
}

export interface DeadLetterDetail extends DeadLetter {
  readonly headers: Record<string, string>;
  /** The decoded event's data when it decodes; the raw body (JSON or text) otherwise. */
  readonly body: unknown;
  readonly decodeError: string | undefined;
}

const dlqHeaders = new Set<string>(Object.values(DeadLetterHeader));
/** Where the event came from: a redriven letter that fails again is dead-lettered under its origin. */
const keptOnRedrive = new Set<string>([
  DeadLetterHeader.Stream,
  DeadLetterHeader.Subject,
  DeadLetterHeader.Sequence,
]);

function summary(m: StoredMsg): DeadLetter {
  const h = (k: string) => m.header.get(k) || undefined;
  return {
    id: m.seq,
    time: m.time.toISOString(),
    consumer: h(DeadLetterHeader.Consumer) ?? "",
    code: h(DeadLetterHeader.Code) ?? "",
    reason: h(DeadLetterHeader.Reason) ?? "",
    subject: h(DeadLetterHeader.Subject) ?? "",
    stream: h(DeadLetterHeader.Stream) ?? "",
    sequence: Number(h(DeadLetterHeader.Sequence) ?? 0),
    deliveries: Number(h(DeadLetterHeader.Deliveries) ?? 0),
    eventId: h(Header.Id),
    type: h(Header.Type),
  };
}

/**
 * The dead-letter stream, read without consuming it: list, show, redrive to the consumer that
 * failed, purge.
 * @example
 * const dlq = new DeadLetters({ js, jsm, topology });
 * for (const letter of await dlq.list()) await dlq.redrive(letter.id);
 */
export class DeadLetters {
  readonly #opts: DeadLettersOptions;
  readonly #stream: string;
  readonly #topology: Topology;

  constructor(opts: DeadLettersOptions) {
    this.#opts = opts;
    this.#topology = opts.topology ?? new Topology();
    this.#stream = this.#topology.deadLetterStream;
  }

  /** The ids of the letters held, in order. */
  async ids(): Promise<number[]> {
    const { state } = await this.#opts.jsm.streams.info(this.#stream);
    if (!state.messages) return [];
    const ids: number[] = [];
    // Walk by sequence; deleted sequences (redriven letters) and the redriven messages are skipped.
    let seq = state.first_seq;
    while (seq <= state.last_seq) {
      const m = await this.#opts.jsm.streams
        .getMessage(this.#stream, { seq, next_by_subj: this.#topology.deadLetterFilter } as never)
        .catch(() => null);
      if (!m) break;
      ids.push(m.seq);
      seq = m.seq + 1;
    }
    return ids;
  }

  async list(limit = 1000): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for (const id of (await this.ids()).slice(0, limit)) {
      const m = await this.#get(id);
      if (m) out.push(summary(m));
    }
    return out;
  }

  /** One letter with its headers and decoded event; undefined when there is no such letter. */
  async show(id: number): Promise<DeadLetterDetail | undefined> {
    const m = await this.#get(id);
    if (!m) return undefined;
    const headers: Record<string, string> = {};
    for (const [k, vs] of m.header) headers[k] = vs.join(", ");
    const letter = summary(m);
    const decode = this.#opts.catalog?.decode ?? noCatalog;
    const decoded = decode({
      subject: letter.subject,
      headers: m.header,
      data: m.data,
    });
    let body: unknown;
    if (decoded.ok) body = decoded.event.data;
    else {
      const text = new TextDecoder().decode(m.data);
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { ...letter, headers, body, decodeError: decoded.ok ? undefined : decoded.error.message };
  }

  /**
   * Sends a dead letter to the one consumer that failed it, on its redrive subject
   * (`redrive.<consumer>.<subject>` in the dead-letter stream, read by that consumer's redrive
   * durable), with the event's headers and id; then removes the letter. The event is not put back
   * into its original stream: that stream's history keeps each event once (what `rebuild` folds),
   * and no other consumer sees it again. An unknown id throws an `OutboxError` `NOT_FOUND`; a letter
   * that names no consumer, `BAD_CONFIG`.
   */
  async redrive(
    id: number,
  ): Promise<{ id: number; consumer: string; subject: string; stream: string; seq: number }> {
    const m = await this.#get(id);
    if (!m) throw new OutboxError("NOT_FOUND", `no dead letter ${id}`);
    const letter = summary(m);
    if (!letter.consumer || !letter.subject)
      throw new OutboxError("BAD_CONFIG", `dead letter ${id} names no consumer or subject to redrive it to`);
    const h = natsHeaders();
    for (const [k, vs] of m.header) {
      if (dlqHeaders.has(k) && !keptOnRedrive.has(k)) continue;
      for (const v of vs) h.append(k, v);
    }
    // Its own Nats-Msg-Id: a redrive repeated after a crash before the delete below is dropped.
    const ack = await this.#opts.js.publish(
      this.#topology.redriveSubject(letter.consumer, letter.subject),
      m.data,
      {
        headers: h,
        msgID: `redrive:${letter.consumer}:${id}`,
      },
    );
    await this.#opts.jsm.streams.deleteMessage(this.#stream, id, false);
    return { id, consumer: letter.consumer, subject: letter.subject, stream: ack.stream, seq: ack.seq };
  }

  /** Removes every letter (not the redriven ones still on their way); returns how many. */
  async purge(): Promise<number> {
    return (await this.#opts.jsm.streams.purge(this.#stream, { filter: this.#topology.deadLetterFilter }))
      .purged;
  }

  async #get(id: number): Promise<StoredMsg | null> {
    return this.#opts.jsm.streams.getMessage(this.#stream, { seq: id }).catch(() => null);
  }
}

const noCatalog = () => ({ ok: false as const, error: new Error("no catalog to decode it with") });

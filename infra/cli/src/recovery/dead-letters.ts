import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { Header, type AnyCatalog } from "@orderflow/events";
import { DeadLetterHeader, type Topology } from "@orderflow/outbox";

export interface DeadLetter {
  /** Sequence in the DLQ stream: the id used by `dlq show|redrive`. */
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
  /** The decoded event when it decodes; the raw body otherwise. */
  readonly body: unknown;
  readonly decodeError: string | undefined;
}

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

/** Reads the dead-letter stream without consuming it. */
export class DeadLetters {
  readonly #jsm: JetStreamManager;
  readonly #catalog: AnyCatalog | undefined;
  readonly #js: JetStreamClient;
  readonly #stream: string;

  constructor(opts: {
    jsm: JetStreamManager;
    js: JetStreamClient;
    topology: Topology;
    /** What `show` decodes dead letters with: every event of the system. */
    catalog?: AnyCatalog;
  }) {
    this.#jsm = opts.jsm;
    this.#catalog = opts.catalog;
    this.#js = opts.js;
    this.#stream = opts.topology.deadLetterStream;
  }

  async ids(): Promise<number[]> {
    const { state } = await this.#jsm.streams.info(this.#stream);
    if (!state.messages) return [];
    const ids: number[] = [];
    // Walk by sequence; deleted sequences (redriven letters) are skipped with next_by_subj semantics.
    let seq = state.first_seq;
    while (seq <= state.last_seq) {
      const m = await this.#jsm.streams
        .getMessage(this.#stream, { seq, next_by_subj: ">" } as never)
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

  async show(id: number): Promise<DeadLetterDetail | undefined> {
    const m = await this.#get(id);
    if (!m) return undefined;
    const headers: Record<string, string> = {};
    for (const [k, vs] of m.header) headers[k] = vs.join(", ");
    const original = summary(m).subject;
    const decoded = this.#catalog?.decode({ subject: original, headers: m.header, data: m.data }) ?? {
      ok: false as const,
      error: new Error("no catalog to decode it with"),
    };
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
    return { ...summary(m), headers, body, decodeError: decoded.ok ? undefined : decoded.error.message };
  }

  /**
   * Sends a dead letter back to its original subject with its original headers — the event id
   * (`ce-id`) is kept, so consumers that already applied it skip it — then removes it from the DLQ.
   */
  async redrive(id: number): Promise<{ id: number; subject: string; stream: string; seq: number }> {
    const m = await this.#get(id);
    if (!m) throw new RangeError(`no dead letter ${id}`);
    const letter = summary(m);
    const h = natsHeaders();
    for (const [k, vs] of m.header) {
      if (k.startsWith("Orderflow-Dlq-")) continue;
      for (const v of vs) h.append(k, v);
    }
    // A fresh Nats-Msg-Id: the original one may still be inside the stream's duplicate window.
    const ack = await this.#js.publish(letter.subject, m.data, {
      headers: h,
      msgID: `${letter.eventId ?? "x"}:redrive:${id}`,
    });
    await this.#jsm.streams.deleteMessage(this.#stream, id, false);
    return { id, subject: letter.subject, stream: ack.stream, seq: ack.seq };
  }

  async purge(): Promise<number> {
    const r = await this.#jsm.streams.purge(this.#stream);
    return r.purged;
  }

  async #get(id: number): Promise<StoredMsg | null> {
    return this.#jsm.streams.getMessage(this.#stream, { seq: id }).catch(() => null);
  }
}

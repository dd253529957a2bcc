import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { OutboxError, OutboxErrorCode } from "../errors.js";
import type { Topology } from "../topology.js";
import { EncodedHeaders } from "./encoded-headers.js";
import type { Marker } from "./marker.js";
import type { UnpublishedRow } from "./outbox-reader.js";
import type { RoundFailure } from "./round-failure.js";
import type { Signal } from "./signal.js";

export interface PublishWindowOptions {
  readonly js: Pick<JetStreamClient, "publish">;
  readonly topology: Topology;
  readonly publishTimeoutMs: number;
  /** Publishes awaiting their PubAck at once. */
  readonly maxInFlight: number;
  /** Rows read and not yet marked at once: the window plus acknowledged rows waiting for their mark. */
  readonly maxUnmarked: number;
  /** The ids of rows read and not yet marked; a row joins it when sent. */
  readonly unmarked: Set<string>;
  /** Where acknowledged rows go. */
  readonly marker: Marker;
  /** Where a failed publish goes. */
  readonly round: RoundFailure;
  /** Notified whenever a publish settles. */
  readonly settled: Signal;
  /** Called per acknowledged row with the seconds from its transaction to the PubAck. */
  readonly onPubAck?: ((seconds: number) => void) | undefined;
}

/**
 * The publishes awaiting their PubAck, chained per aggregate: two rows with the same `ce-subject`
 * are never in flight together — the next is sent only once JetStream acknowledged the previous,
 * and not at all if it failed. Rows of different aggregates go out side by side.
 */
export class PublishWindow {
  readonly #js: Pick<JetStreamClient, "publish">;
  readonly #topology: Topology;
  readonly #publishTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #maxUnmarked: number;
  readonly #unmarked: Set<string>;
  readonly #marker: Marker;
  readonly #round: RoundFailure;
  readonly #settled: Signal;
  readonly #onPubAck: ((seconds: number) => void) | undefined;
  readonly #lastOfKey = new Map<string, Promise<PubAck>>();
  #inFlight = 0;

  constructor(opts: PublishWindowOptions) {
    this.#js = opts.js;
    this.#topology = opts.topology;
    this.#publishTimeoutMs = opts.publishTimeoutMs;
    this.#maxInFlight = opts.maxInFlight;
    this.#maxUnmarked = opts.maxUnmarked;
    this.#unmarked = opts.unmarked;
    this.#marker = opts.marker;
    this.#round = opts.round;
    this.#settled = opts.settled;
    this.#onPubAck = opts.onPubAck;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether the next row must wait: too many publishes in flight, or too many rows unmarked. */
  get full(): boolean {
    return this.#inFlight >= this.#maxInFlight || this.#unmarked.size >= this.#maxUnmarked;
  }

  /** Sends `row` now, or once the previous row of its aggregate is acknowledged. */
  dispatch(row: UnpublishedRow): Promise<PubAck> {
    this.#unmarked.add(row.id);
    this.#inFlight++;
    const key = row.key ?? "";
    const before = this.#lastOfKey.get(key);
    // Same aggregate: wait for the previous ack; if it failed, this one is not sent at all.
    const p = before ? before.then(() => this.#send(row)) : this.#send(row);
    this.#lastOfKey.set(key, p);
    p.then(
      () => {
        this.#onPubAck?.((row.age_ms + performance.now() - row.read_at) / 1000);
        this.#settle(key, p);
        this.#marker.push(row);
      },
      (err: unknown) => {
        this.#settle(key, p);
        this.#unmarked.delete(row.id);
        this.#round.fail(err);
      },
    );
    return p;
  }

  #send(row: UnpublishedRow): Promise<PubAck> {
    if (!row.valid) {
      const msg = `outbox row ${row.id} (event ${row.event_id}) has a header NATS cannot carry (a key outside printable ASCII or with ':', or a value with CR/LF)`;
      return Promise.reject(new OutboxError(OutboxErrorCode.InvalidHeaders, msg));
    }
    return this.#js.publish(this.#topology.subject(row.subject), row.frame.subarray(row.head_bytes), {
      headers: new EncodedHeaders(row.frame.subarray(0, row.head_bytes)),
      timeout: this.#publishTimeoutMs,
    });
  }

  #settle(key: string, p: Promise<PubAck>): void {
    this.#inFlight--;
    if (this.#lastOfKey.get(key) === p) this.#lastOfKey.delete(key);
    this.#settled.notify();
  }
}

import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { endWithin } from "../settles-within.js";
import { openSession, type OpenSessions } from "./open-session.js";
import type { RoundFailure } from "./round-failure.js";

const MARK_BATCH = 5000;
const MARK_DELAY_MS = 5;
const MARK_SQL = "UPDATE orderflow_outbox SET published_at = now() WHERE id = ANY($1::bigint[])";

/** The row a mark needs: its id, and its event id for `beforeMark`. */
export interface AcknowledgedRow {
  readonly id: string;
  readonly event_id: string;
}

export interface MarkerOptions {
  readonly connectionString: string;
  /** The relay's sessions: the marker's is among them while it lasts. */
  readonly open?: OpenSessions | undefined;
  /** Fewer rows than this waiting: the marker waits a few ms for more before its UPDATE. */
  readonly batchSize: number;
  /** The ids of rows read and not yet marked; each leaves it once its mark is done or failed. */
  readonly unmarked: Set<string>;
  /** Aborted when the relay stops: marks go out without waiting for more rows. */
  readonly signal: AbortSignal;
  /** The round this marker serves: its failures end the round, and a failed round marks without waiting. */
  readonly round: RoundFailure;
  /** See `RelayOptions.beforeMark`. */
  readonly beforeMark?: ((eventIds: readonly string[]) => Promise<void> | void) | undefined;
  /** `count` rows are marked published. */
  readonly onMarked: (count: number) => void;
  /** A run of marks ended (the queue is empty, or marking broke). */
  readonly onSettled: () => void;
}

/**
 * Marks acknowledged rows published, in batches, on a session of its own, so that reading the next
 * rows (on the leader session) and marking the last ones run side by side.
 *
 * Acknowledged rows are marked even after a publish failed: otherwise one row that can never be
 * published would have every row sent beside it published again, round after round.
 */
export class Marker {
  readonly #opts: MarkerOptions;
  readonly #client: pg.Client;
  readonly #queue: AcknowledgedRow[] = [];
  #marking: Promise<void> | undefined;
  #broken = false;

  static async open(opts: MarkerOptions): Promise<Marker> {
    const client = await openSession(opts.connectionString, "orderflow-relay-mark", opts.open);
    // A mark lost in a crash only means the row is published again and dropped as a duplicate, so
    // marks need not wait for the WAL flush: that halves the relay's fsyncs and frees the disk for
    // the writers' commits.
    await client.query("SET synchronous_commit = off").catch(async (err: unknown) => {
      await client.end().catch(() => {});
      throw err;
    });
    return new Marker(opts, client);
  }

  private constructor(opts: MarkerOptions, client: pg.Client) {
    this.#opts = opts;
    this.#client = client;
    client.on("error", opts.round.fail);
  }

  /** Whether a run of marks is under way. */
  get busy(): boolean {
    return this.#marking !== undefined;
  }

  /** Queues a row JetStream acknowledged; it is marked with the next batch. */
  push(row: AcknowledgedRow): void {
    this.#queue.push(row);
    this.#start();
  }

  /** Ends the session; call once no run is under way (`busy` is false). */
  async close(): Promise<void> {
    this.#client.removeListener("error", this.#opts.round.fail);
    this.#client.on("error", () => {});
    await endWithin(this.#client, 1000).catch(() => {});
  }

  #start(): void {
    if (this.#marking || !this.#queue.length || this.#broken) return;
    this.#marking = this.#markAll().finally(() => {
      this.#marking = undefined;
      this.#start();
      this.#opts.onSettled();
    });
  }

  async #markAll(): Promise<void> {
    const { batchSize, signal, round, unmarked } = this.#opts;
    while (this.#queue.length) {
      // A trickle of acks is marked a few at a time: fewer UPDATEs, same safety (marks are hints).
      if (this.#queue.length < batchSize && !signal.aborted && !round.failed) {
        await sleep(MARK_DELAY_MS, undefined, { signal }).catch(() => {});
      }
      const rows = this.#queue.splice(0, MARK_BATCH);
      try {
        await this.#opts.beforeMark?.(rows.map((r) => r.event_id));
        await this.#client.query({
          name: "orderflow-relay-mark",
          text: MARK_SQL,
          values: [rows.map((r) => r.id)],
        });
        this.#opts.onMarked(rows.length);
      } catch (err) {
        // The rows stay unpublished in the table: a later round publishes them again (deduplicated).
        this.#broken = true;
        round.fail(err);
        this.#queue.length = 0;
        return;
      } finally {
        for (const r of rows) unmarked.delete(r.id);
      }
    }
  }
}

import type pg from "pg";

const RESCAN_MS = 1000;

/** An unpublished outbox row as the relay reads it. */
export interface UnpublishedRow {
  id: string;
  event_id: string;
  subject: string;
  /** `ce-subject`: the aggregate, the unit of ordering. */
  key: string | null;
  traceparent: string | null;
  /** Whether every header can travel as a NATS header (the client would refuse the rest). */
  valid: boolean;
  head_bytes: number;
  /** The headers in NATS wire format, then the payload. */
  frame: Buffer;
  /** Milliseconds from the row's transaction to the read, on the database's clock. */
  age_ms: number;
  /** When the read returned (`performance.now()`): with `age_ms`, the row's age on this clock. */
  read_at: number;
}

/**
 * The read: PostgreSQL encodes each row's headers (plus `Nats-Msg-Id` = the event id) in NATS wire
 * format (`NATS/1.0␍␊k: v␍␊…␍␊`), so the relay's one thread, which also runs every publish and
 * PubAck, never builds a header map per message; the database does it on another core. `valid`
 * is the client's own rule (keys printable ASCII without ':', values without CR/LF): the block
 * has that shape and one line per header, so a value cannot smuggle in a header line of its own.
 */
const READ_SQL = `
  SELECT o.id, o.event_id, o.subject, o.headers->>'ce-subject' AS key, o.headers->>'traceparent' AS traceparent,
         h.t ~ $4 AND length(h.t) - length(replace(h.t, chr(10), '')) = h.n + 2 AS valid,
         octet_length(b.head) AS head_bytes, b.head || o.payload AS frame,
         extract(epoch FROM clock_timestamp() - o.created_at)::float8 * 1000 AS age_ms
  FROM (
      -- The rows first, so that whatever plan PostgreSQL picks, only these few are encoded.
      SELECT id, event_id, subject, headers, payload, created_at FROM orderflow_outbox
      WHERE published_at IS NULL AND id > $1 AND id <> ALL($2::bigint[]) ORDER BY id LIMIT $3
    ) AS o,
    LATERAL (
      SELECT 'NATS/1.0' || chr(13) || chr(10) || string_agg(key || ': ' || value || chr(13) || chr(10), '')
             || chr(13) || chr(10) AS t, count(*) AS n
      FROM jsonb_each_text(o.headers || jsonb_build_object('Nats-Msg-Id', o.event_id))) AS h,
    LATERAL (SELECT convert_to(h.t, 'UTF8') AS head) AS b
  ORDER BY o.id`;
const HEADER_BLOCK = "^NATS/1\\.0\\r\\n([!-9;-~]+: [^\\r\\n]*\\r\\n)*\\r\\n$";

/**
 * Reads unpublished rows in id order on the leader session: on from the highest id seen while a
 * backlog drains, with the next read issued before the current rows go out; from the start,
 * skipping the rows not yet marked, whenever it catches up and at least once a second (so that
 * rows are never skipped: see `createRelay`).
 */
export class OutboxReader {
  readonly #client: pg.Client;
  readonly #batchSize: number;
  readonly #unmarked: ReadonlySet<string>;
  // Every row at or below `highest` has been read once; the next read starts above it unless it
  // has to rescan.
  #highest = "0";
  #rescan = true;
  #lastRescan = 0;
  #ahead: Promise<pg.QueryResult<UnpublishedRow>> | undefined;

  /** `unmarked`: the ids of rows read and not yet marked published, which a rescan skips. */
  constructor(client: pg.Client, batchSize: number, unmarked: ReadonlySet<string>) {
    this.#client = client;
    this.#batchSize = batchSize;
    this.#unmarked = unmarked;
  }

  /** Whether the last read came back short: the relay has caught up as of its snapshot. */
  get caughtUp(): boolean {
    return this.#rescan;
  }

  /** Up to `batchSize` rows, in id order. */
  async next(): Promise<UnpublishedRow[]> {
    // Reading on from `highest` is cheap, but a row that committed late with a lower id is
    // below it: so whenever we have caught up (and at least once a second while a long
    // backlog drains) read from the start instead, skipping only the rows in flight.
    const { rows } = await (this.#ahead ??
      this.#read(this.#rescan || Date.now() - this.#lastRescan >= RESCAN_MS));
    this.#ahead = undefined;
    const last = rows.at(-1);
    if (last && BigInt(last.id) > BigInt(this.#highest)) this.#highest = last.id;
    // A short read means we are caught up as of its snapshot.
    this.#rescan = rows.length < this.#batchSize;
    // A full one means there is probably more: read on from `highest` while these go out.
    // (Never a rescan here: it would return the rows about to be dispatched.)
    if (!this.#rescan && Date.now() - this.#lastRescan < RESCAN_MS) this.#ahead = this.#read(false);
    return rows;
  }

  /** Lets a read ahead still under way end (its result is not needed). */
  async settle(): Promise<void> {
    await this.#ahead?.catch(() => {});
  }

  #read(fromStart: boolean): Promise<pg.QueryResult<UnpublishedRow>> {
    if (fromStart) this.#lastRescan = Date.now();
    const unmarked = this.#unmarked;
    // Prepared once per session, since at a steady trickle this read runs for every commit; but
    // a long exclusion list goes unprepared, where the planner hashes it instead of scanning it.
    const q = this.#client.query<UnpublishedRow>({
      name: fromStart && unmarked.size > 64 ? undefined : "orderflow-relay-read",
      text: READ_SQL,
      values: fromStart
        ? ["0", [...unmarked], this.#batchSize, HEADER_BLOCK]
        : [this.#highest, [], this.#batchSize, HEADER_BLOCK],
    });
    const stamped = q.then((result) => {
      const at = performance.now();
      for (const row of result.rows) row.read_at = at;
      return result;
    });
    stamped.catch(() => {}); // a read ahead may fail while we are busy; whoever awaits it sees the error
    return stamped;
  }
}

import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode, type Link } from "@opentelemetry/api";
import pg from "pg";
import type { Logger } from "pino";
import { describeError, isDatabaseUnavailable, OutboxError, OutboxErrorCode } from "./errors.js";
import { OUTBOX_CHANNEL } from "./migrations.js";
import { EncodedHeaders } from "./relay/encoded-headers.js";
import { Topology } from "./topology.js";
import { parseTraceparent, tracer } from "./trace.js";
import { Wake } from "./wake.js";

export interface RelayOptions {
  /** The service database; the relay holds one dedicated session on it (leader lock + LISTEN). */
  readonly connectionString: string;
  readonly js: Pick<JetStreamClient, "publish">;
  readonly topology?: Topology;
  readonly logger?: Logger;
  /** Rows read per round trip. */
  readonly batchSize?: number;
  /** Publishes awaiting their PubAck at once. */
  readonly maxInFlight?: number;
  /** Fallback poll when no NOTIFY arrives; also the standby's retry period. */
  readonly pollIntervalMs?: number;
  /** Wake on LISTEN/NOTIFY (default) or poll only. */
  readonly listen?: boolean;
  /** How long published rows are kept for `republish`. */
  readonly retentionMs?: number;
  readonly publishTimeoutMs?: number;
  /** Longest pause between retries after a failure; keep it well under the stream's duplicate window. */
  readonly maxBackoffMs?: number;
  readonly onPublished?: (count: number) => void;
  /**
   * Runs once JetStream has acknowledged these events (by event id) and before their rows are
   * marked published. A test seam and a PubAck probe: a crash here leaves rows that are in the
   * stream but still unpublished in the outbox; they are published again and JetStream drops them
   * as duplicates. Keep it fast: the relay awaits it before marking.
   */
  readonly beforeMark?: (eventIds: readonly string[]) => Promise<void> | void;
}

export interface Relay {
  start(): void;
  /** Finishes the batch in flight, then closes its session. */
  stop(): Promise<void>;
  readonly isLeader: boolean;
  /** Resolves once a drain round finds nothing left to publish (tests, benchmarks). */
  idle(): Promise<void>;
}

// Any int64 works; it only has to be the same for every relay of one database.
const LEADER_LOCK_KEY = 0x6f726465; // "orde"
const MARK_BATCH = 5000;
const CLEANUP_BATCH = 5000;
const RESCAN_MS = 1000;
const MARK_DELAY_MS = 5;
const REPEAT_LOG_MS = 60_000;

interface Row {
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
         octet_length(b.head) AS head_bytes, b.head || o.payload AS frame
  FROM (
      -- The rows first, so that whatever plan PostgreSQL picks, only these few are encoded.
      SELECT id, event_id, subject, headers, payload FROM orderflow_outbox
      WHERE published_at IS NULL AND id > $1 AND id <> ALL($2::bigint[]) ORDER BY id LIMIT $3
    ) AS o,
    LATERAL (
      SELECT 'NATS/1.0' || chr(13) || chr(10) || string_agg(key || ': ' || value || chr(13) || chr(10), '')
             || chr(13) || chr(10) AS t, count(*) AS n
      FROM jsonb_each_text(o.headers || jsonb_build_object('Nats-Msg-Id', o.event_id))) AS h,
    LATERAL (SELECT convert_to(h.t, 'UTF8') AS head) AS b
  ORDER BY o.id`;
const HEADER_BLOCK = "^NATS/1\\.0\\r\\n([!-9;-~]+: [^\\r\\n]*\\r\\n)*\\r\\n$";

/** Resolves every current `wait()` at the next `notify()`. */
class Signal {
  #waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  notify(): void {
    if (!this.#waiters.length) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

/**
 * Drains a service's outbox into JetStream.
 *
 * Ordering: one relay per database publishes at a time (a session advisory lock; others stand by
 * and take over when the leader's session ends). Rows are read in id order and sent in that
 * order; two rows with the same `ce-subject` (aggregate) are never in flight together: the next
 * one is sent only after JetStream acknowledged the previous, and not at all if it failed. Hence,
 * per aggregate, the stream holds events in the order the relay reads them — outbox id order among
 * committed rows — and this holds even while a deposed leader's last publishes overlap the new
 * leader's, because each relay waits for the ack of event k (which means k is in the stream)
 * before sending k+1, and the duplicates either sends are dropped by `Nats-Msg-Id`. A row that
 * commits after a higher-id row of the same aggregate was published comes after it: writers that
 * need id order per aggregate serialise on the aggregate (lock its row before enqueueing), which
 * makes commit order and id order agree. There is no order across aggregates. A row JetStream
 * keeps refusing holds back the later events of its own aggregate (it is retried with backoff)
 * while every other aggregate goes on.
 *
 * Rows are never skipped: reads are `published_at IS NULL` (minus the rows in flight), not a
 * high-water mark. While a backlog drains the relay reads on from the highest id it has seen, but
 * whenever it catches up, and at least once a second, it reads from the start again, so a row that
 * commits late with a lower id is picked up.
 *
 * Throughput: the next read is issued while the current batch goes out, and acknowledged rows are
 * marked in batches by a second session (with `synchronous_commit = off`: a lost mark only causes
 * a deduplicated re-publish), so the window of publishes stays full while the database works.
 */
export function createRelay(opts: RelayOptions): Relay {
  const batchSize = opts.batchSize ?? 500;
  const maxInFlight = opts.maxInFlight ?? 1000;
  // Rows read but not yet marked: the publish window plus acknowledged rows waiting for their UPDATE.
  const maxUnmarked = maxInFlight + 8 * batchSize;
  const pollMs = opts.pollIntervalMs ?? 1000;
  const retentionMs = opts.retentionMs ?? 24 * 3_600_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 5000;
  const publishTimeoutMs = opts.publishTimeoutMs ?? 5000;
  const topology = opts.topology ?? new Topology();
  const log = opts.logger;
  const wake = new Wake();
  const settled = new Signal();
  const aborted = new AbortController();
  let client: pg.Client | undefined;
  let leader = false;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let cleaning: Promise<void> | undefined;
  let lastCleanup = 0;
  let backoff = 50;
  let idleWaiters: (() => void)[] = [];
  let lastFailure = { described: "", at: 0 };

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: opts.connectionString, application_name: "orderflow-relay" });
    c.on("error", (err) => {
      log?.warn({ err: describeError(err) }, "relay session lost");
      if (client === c) drop();
    });
    c.on("notification", () => wake.wake());
    c.on("end", () => {
      if (client === c) drop();
    });
    try {
      await c.connect();
      if (opts.listen !== false) await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (err) {
      c.end().catch(() => {});
      throw err;
    }
    return c;
  }

  /** Forgets the session (and with it the leader lock); waiting loops wake up and notice. */
  function drop(): void {
    const c = client;
    client = undefined;
    leader = false;
    c?.end().catch(() => {});
    wake.wake();
    settled.notify();
  }

  async function session(): Promise<pg.Client | undefined> {
    client ??= await connect();
    if (!leader) {
      const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [
        LEADER_LOCK_KEY,
      ]);
      leader = r.rows[0]?.ok === true;
      if (leader) log?.info("relay is the leader of this outbox");
    }
    return leader ? client : undefined;
  }

  /** Publishes until stopped; throws on the first failure once everything in flight has settled. */
  async function drain(c: pg.Client): Promise<void> {
    // Marks go through a second session so that reading the next rows and marking the last ones
    // run side by side; the leader lock stays on `c`.
    const marker = await open("orderflow-relay-mark");
    // A mark lost in a crash only means the row is published again and dropped as a duplicate, so
    // marks need not wait for the WAL flush: that halves the relay's fsyncs and frees the disk for
    // the writers' commits.
    await marker.query("SET synchronous_commit = off").catch(async (err: unknown) => {
      await marker.end().catch(() => {});
      throw err;
    });
    const unmarked = new Set<string>(); // row ids read and not yet marked: in flight or acknowledged
    const lastOfKey = new Map<string, Promise<PubAck>>();
    const toMark: Row[] = [];
    let inFlight = 0;
    let failure: { err: unknown } | undefined;
    let marking: Promise<void> | undefined;
    let markingBroken = false;
    // Every row at or below `highest` has been read once; the next read starts above it unless it
    // has to rescan (see below).
    let highest = "0";
    let rescan = true;
    let lastRescan = 0;

    const fail = (err: unknown): void => {
      failure ??= { err };
      wake.wake();
      settled.notify();
    };
    marker.on("error", fail);

    // Acknowledged rows are marked even after a publish failed: otherwise one row that can never
    // be published would have every row sent beside it published again, round after round.
    const startMarking = (): void => {
      if (marking || !toMark.length || markingBroken) return;
      marking = (async () => {
        while (toMark.length) {
          // A trickle of acks is marked a few at a time: fewer UPDATEs, same safety (marks are hints).
          if (toMark.length < batchSize && !stopping && !failure) {
            await sleep(MARK_DELAY_MS, undefined, { signal: aborted.signal }).catch(() => {});
          }
          const rows = toMark.splice(0, MARK_BATCH);
          try {
            await opts.beforeMark?.(rows.map((r) => r.event_id));
            await marker.query({
              name: "orderflow-relay-mark",
              text: "UPDATE orderflow_outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
              values: [rows.map((r) => r.id)],
            });
            backoff = 50;
            opts.onPublished?.(rows.length);
          } catch (err) {
            // The rows stay unpublished in the table: a later round publishes them again (deduplicated).
            markingBroken = true;
            fail(err);
            toMark.length = 0;
            return;
          } finally {
            for (const r of rows) unmarked.delete(r.id);
          }
        }
      })().finally(() => {
        marking = undefined;
        startMarking();
        settled.notify();
        if (!unmarked.size && idleWaiters.length) wake.wake();
      });
    };

    const dispatch = (row: Row): Promise<PubAck> => {
      unmarked.add(row.id);
      inFlight++;
      const key = row.key ?? "";
      const before = lastOfKey.get(key);
      const send = (): Promise<PubAck> => {
        if (!row.valid) {
          const msg = `outbox row ${row.id} (event ${row.event_id}) has a header NATS cannot carry (a key outside printable ASCII or with ':', or a value with CR/LF)`;
          return Promise.reject(new OutboxError(OutboxErrorCode.InvalidHeaders, msg));
        }
        return opts.js.publish(topology.subject(row.subject), row.frame.subarray(row.head_bytes), {
          headers: new EncodedHeaders(row.frame.subarray(0, row.head_bytes)),
          timeout: publishTimeoutMs,
        });
      };
      // Same aggregate: wait for the previous ack; if it failed, this one is not sent at all.
      const p = before ? before.then(send) : send();
      lastOfKey.set(key, p);
      const settle = (): void => {
        inFlight--;
        if (lastOfKey.get(key) === p) lastOfKey.delete(key);
        settled.notify();
      };
      p.then(
        () => {
          settle();
          toMark.push(row);
          startMarking();
        },
        (err: unknown) => {
          settle();
          unmarked.delete(row.id);
          fail(err);
        },
      );
      return p;
    };

    const read = (fromStart: boolean): Promise<pg.QueryResult<Row>> => {
      if (fromStart) lastRescan = Date.now();
      // Prepared once per session, since at a steady trickle this read runs for every commit; but
      // a long exclusion list goes unprepared, where the planner hashes it instead of scanning it.
      const q = c.query<Row>({
        name: fromStart && unmarked.size > 64 ? undefined : "orderflow-relay-read",
        text: READ_SQL,
        values: fromStart
          ? ["0", [...unmarked], batchSize, HEADER_BLOCK]
          : [highest, [], batchSize, HEADER_BLOCK],
      });
      q.catch(() => {}); // a read ahead may fail while we are busy; whoever awaits it sees the error
      return q;
    };
    let ahead: Promise<pg.QueryResult<Row>> | undefined;
    try {
      // The session can end under us (`drop`): then stop sending; the next round reconnects.
      while (!stopping && !failure && c === client) {
        maybeCleanup();
        // Reading on from `highest` is cheap, but a row that committed late with a lower id is
        // below it: so whenever we have caught up (and at least once a second while a long
        // backlog drains) read from the start instead, skipping only the rows in flight.
        const { rows }: pg.QueryResult<Row> = await (ahead ??
          read(rescan || Date.now() - lastRescan >= RESCAN_MS));
        ahead = undefined;
        const last = rows.at(-1);
        if (last && BigInt(last.id) > BigInt(highest)) highest = last.id;
        // A short read means we are caught up as of its snapshot.
        rescan = rows.length < batchSize;
        // A full one means there is probably more: read on from `highest` while these go out.
        // (Never a rescan here: it would return the rows about to be dispatched.)
        if (!rescan && Date.now() - lastRescan < RESCAN_MS) ahead = read(false);
        const sent: Promise<PubAck>[] = [];
        for (const row of rows) {
          while (
            (inFlight >= maxInFlight || unmarked.size >= maxUnmarked) &&
            !failure &&
            !stopping &&
            c === client
          ) {
            await settled.wait();
          }
          // After a failure nothing new goes out: a later event of the failed one's aggregate must wait.
          if (failure || stopping || c !== client) break;
          sent.push(dispatch(row));
        }
        if (sent.length) traceBatch(rows, sent);
        if (!rescan) continue;
        if (!unmarked.size && !rows.length) {
          for (const w of idleWaiters) w();
          idleWaiters = [];
        }
        await wake.wait(pollMs);
      }
    } catch (err) {
      fail(err);
    }
    await ahead?.catch(() => {});
    while (inFlight > 0 || marking) await settled.wait();
    marker.removeListener("error", fail);
    marker.on("error", () => {});
    await marker.end().catch(() => {});
    if (failure) throw failure.err;
  }

  async function open(name: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: opts.connectionString, application_name: name });
    c.on("error", () => {}); // until the caller listens: a failed connect rejects anyway
    try {
      await c.connect();
    } catch (err) {
      c.end().catch(() => {});
      throw err;
    }
    return c;
  }

  function traceBatch(rows: Row[], sent: Promise<PubAck>[]): void {
    const links: Link[] = [];
    for (const r of rows) {
      const sc = parseTraceparent(r.traceparent ?? undefined);
      if (sc) links.push({ context: sc });
    }
    const span = tracer().startSpan("outbox publish", {
      kind: SpanKind.PRODUCER,
      links,
      attributes: { "messaging.system": "nats", "messaging.batch.message_count": sent.length },
    });
    if (!span.isRecording()) return span.end();
    void Promise.allSettled(sent).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(failed.reason) });
      span.end();
    });
  }

  /** Deletes published rows older than the retention, in batches, on a connection of its own. */
  function maybeCleanup(): void {
    if (cleaning || Date.now() - lastCleanup < Math.min(60_000, retentionMs)) return;
    lastCleanup = Date.now();
    cleaning = (async () => {
      const c = await open("orderflow-relay-cleanup");
      c.on("error", () => {});
      try {
        // A delete lost in a crash is simply done again next time.
        await c.query("SET synchronous_commit = off");
        while (!stopping) {
          const r = await c.query(
            `DELETE FROM orderflow_outbox WHERE id IN (
               SELECT id FROM orderflow_outbox
               WHERE published_at < now() - make_interval(secs => $1) ORDER BY published_at LIMIT $2)`,
            [retentionMs / 1000, CLEANUP_BATCH],
          );
          if ((r.rowCount ?? 0) < CLEANUP_BATCH) break;
        }
      } finally {
        await c.end().catch(() => {});
      }
    })()
      .catch((err: unknown) => log?.warn({ err: describeError(err) }, "outbox cleanup failed; will retry"))
      .finally(() => {
        cleaning = undefined;
      });
  }

  async function run(): Promise<void> {
    while (!stopping) {
      try {
        const c = await session();
        if (!c) {
          await wake.wait(pollMs);
          continue;
        }
        await drain(c);
      } catch (err) {
        if (stopping) break;
        // A row that keeps failing (its aggregate waits, the others go on) fails every round, as
        // often as every 50 ms while other rows flow: say so once a minute, not every round.
        const described = describeError(err);
        const now = Date.now();
        const repeated = described === lastFailure.described && now - lastFailure.at < REPEAT_LOG_MS;
        if (!repeated) lastFailure = { described, at: now };
        const fields = { err: described, retryInMs: backoff };
        if (repeated) log?.debug(fields, "relay round failed");
        else log?.warn(fields, "relay round failed");
        if (isDatabaseUnavailable(err)) drop();
        await sleep(backoff, undefined, { signal: aborted.signal }).catch(() => {});
        backoff = Math.min(backoff * 2, maxBackoffMs);
      }
    }
  }

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stopping = true;
      aborted.abort();
      wake.wake();
      settled.notify();
      await loop;
      await cleaning;
      const c = client;
      client = undefined;
      leader = false;
      await c?.end().catch(() => {});
    },
    get isLeader() {
      return leader;
    },
    idle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        wake.wake();
      });
    },
  };
}

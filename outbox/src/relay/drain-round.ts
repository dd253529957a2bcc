import type { JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import type { Topology } from "../topology.js";
import type { Wake } from "../wake.js";
import type { LeaderSession } from "./leader-session.js";
import type { OpenSessions } from "./open-session.js";
import { Marker } from "./marker.js";
import { OutboxReader, type UnpublishedRow } from "./outbox-reader.js";
import { PublishWindow } from "./publish-window.js";
import type { RetentionCleanup } from "./retention-cleanup.js";
import { RoundFailure } from "./round-failure.js";
import type { Signal } from "./signal.js";
import { traceSend } from "./trace-send.js";

/** What a drain round needs: the relay's settings and the parts it shares across rounds. */
export interface DrainRoundOptions {
  readonly connectionString: string;
  readonly js: Pick<JetStreamClient, "publish">;
  readonly topology: Topology;
  readonly batchSize: number;
  readonly maxInFlight: number;
  readonly maxUnmarked: number;
  readonly pollMs: number;
  readonly publishTimeoutMs: number;
  readonly beforeMark?: ((eventIds: readonly string[]) => Promise<void> | void) | undefined;
  readonly onMarked: (count: number) => void;
  readonly onPubAck?: ((seconds: number) => void) | undefined;
  readonly session: LeaderSession;
  /** Every session the relay has open (leader, marks, cleanup): a stop that cannot wait closes them. */
  readonly open: OpenSessions;
  readonly retention: RetentionCleanup;
  /** Woken by NOTIFY, by a lost session, by `idle()` and at every failure. */
  readonly wake: Wake;
  /** Notified whenever a publish or a run of marks settles, a session is lost, or the relay stops. */
  readonly settled: Signal;
  /** Notified when a round finds nothing left to publish. */
  readonly idle: Signal;
  /** Aborted when the relay stops. */
  readonly signal: AbortSignal;
}

/**
 * One round as the leader, on its session `c`: reads rows, sends them through the publish window
 * and has them marked, until the relay stops, the session is lost, or something fails. Throws
 * the round's first failure once everything in flight has settled.
 */
export async function drainRound(c: pg.Client, opts: DrainRoundOptions): Promise<void> {
  const { wake, settled } = opts;
  const unmarked = new Set<string>(); // row ids read and not yet marked: in flight or acknowledged
  const round = new RoundFailure(() => {
    wake.wake();
    settled.notify();
  });
  const marker = await Marker.open({
    connectionString: opts.connectionString,
    open: opts.open,
    batchSize: opts.batchSize,
    unmarked,
    signal: opts.signal,
    round,
    beforeMark: opts.beforeMark,
    onMarked: opts.onMarked,
    onSettled: () => {
      settled.notify();
      if (!unmarked.size && opts.idle.waiting) wake.wake();
    },
  });
  const window = new PublishWindow({
    js: opts.js,
    topology: opts.topology,
    publishTimeoutMs: opts.publishTimeoutMs,
    maxInFlight: opts.maxInFlight,
    maxUnmarked: opts.maxUnmarked,
    unmarked,
    marker,
    round,
    settled,
    onPubAck: opts.onPubAck,
  });
  const reader = new OutboxReader(c, opts.batchSize, unmarked);
  const going = (): boolean => !opts.signal.aborted && !round.failed && opts.session.holds(c);
  try {
    while (going()) {
      opts.retention.maybeStart();
      const rows = await reader.next();
      await sendInOrder(rows, window, settled, going, opts.topology);
      if (!reader.caughtUp) continue;
      if (!unmarked.size && !rows.length) opts.idle.notify();
      await wake.wait(opts.pollMs);
    }
  } catch (err) {
    round.fail(err);
  }
  await reader.settle();
  while (window.inFlight > 0 || marker.busy) await settled.wait();
  await marker.close();
  round.throwIfFailed();
}

/** Dispatches `rows` in order as the window makes room, until `going()` turns false. */
async function sendInOrder(
  rows: readonly UnpublishedRow[],
  window: PublishWindow,
  settled: Signal,
  going: () => boolean,
  topology: Topology,
): Promise<void> {
  for (const row of rows) {
    while (window.full && going()) await settled.wait();
    // After a failure nothing new goes out: a later event of the failed one's aggregate must wait.
    if (!going()) break;
    traceSend(row, topology.subject(row.subject), window.dispatch(row));
  }
}

import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "./logger.js";
import { isDatabaseUnavailable } from "./errors.js";
import { OutageLog } from "./outage-log.js";
import { drainRound, type DrainRoundOptions } from "./relay/drain-round.js";
import { LeaderSession } from "./relay/leader-session.js";
import { RetentionCleanup, runtimeRetention, type RetentionRule } from "./relay/retention-cleanup.js";

export const DEFAULT_INBOX_RETENTION_MS = 7 * 86_400_000;
import type { OpenSessions } from "./relay/open-session.js";
import { RoundBackoff } from "./relay/round-backoff.js";
import { destroyConnection, settlesWithin } from "./settles-within.js";
import { Signal } from "./relay/signal.js";
import { Topology } from "./topology.js";
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
  /** How long published rows are kept for `republish` (default 24 h). */
  readonly retentionMs?: number;
  /**
   * How long inbox rows are kept (default 7 days): a duplicate of an event arriving later than this
   * after it was applied would be applied again. Keep it longer than any redelivery or republish.
   */
  readonly inboxRetentionMs?: number;
  /** More tables whose rows expire (e.g. a service's idempotency keys), pruned with the outbox. */
  readonly retention?: readonly RetentionRule[];
  readonly publishTimeoutMs?: number;
  /** Longest pause between retries after a failure; keep it well under the stream's duplicate window. */
  readonly maxBackoffMs?: number;
  /**
   * How long `stop()` waits for the round in flight (default 2000 ms). Past it — the database does
   * not answer — the relay's sessions are closed at once: rows published and not yet marked are
   * published again by the next relay, and JetStream drops them as duplicates.
   */
  readonly stopTimeoutMs?: number;
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
  /** Finishes the batch in flight (`stopTimeoutMs` at most), then closes its sessions. */
  stop(): Promise<void>;
  readonly isLeader: boolean;
  /** Resolves once a drain round finds nothing left to publish (tests, benchmarks). */
  idle(): Promise<void>;
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
  const { connectionString, logger } = opts;
  const batchSize = opts.batchSize ?? 500;
  const maxInFlight = opts.maxInFlight ?? 1000;
  const wake = new Wake();
  const settled = new Signal();
  const idle = new Signal();
  const aborted = new AbortController();
  const outage = new OutageLog({ what: "relay", logger });
  const open: OpenSessions = new Set();
  const backoff = new RoundBackoff(opts.maxBackoffMs ?? 5000, logger, outage);
  const session = new LeaderSession({
    connectionString,
    listen: opts.listen !== false,
    logger,
    outage,
    open,
    onNotify: () => wake.wake(),
    onLost: () => {
      wake.wake();
      settled.notify();
    },
  });
  const retention = new RetentionCleanup({
    connectionString,
    rules: [
      ...runtimeRetention(
        opts.retentionMs ?? 24 * 3_600_000,
        opts.inboxRetentionMs ?? DEFAULT_INBOX_RETENTION_MS,
      ),
      ...(opts.retention ?? []),
    ],
    signal: aborted.signal,
    logger,
    outage,
    open,
  });
  const round: DrainRoundOptions = {
    connectionString,
    js: opts.js,
    topology: opts.topology ?? new Topology(),
    batchSize,
    maxInFlight,
    // Rows read but not yet marked: the publish window plus acknowledged rows waiting for their UPDATE.
    maxUnmarked: maxInFlight + 8 * batchSize,
    pollMs: opts.pollIntervalMs ?? 1000,
    publishTimeoutMs: opts.publishTimeoutMs ?? 5000,
    beforeMark: opts.beforeMark,
    onMarked: (count) => {
      backoff.reset();
      outage.reachable();
      opts.onPublished?.(count);
    },
    session,
    open,
    retention,
    wake,
    settled,
    idle,
    signal: aborted.signal,
  };
  let loop: Promise<void> | undefined;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 2000;

  return {
    start() {
      loop ??= lead(round, backoff, outage);
    },
    async stop() {
      aborted.abort();
      wake.wake();
      settled.notify();
      const finished = (async () => {
        await loop;
        await retention.settled();
      })();
      if (!(await settlesWithin(finished, stopTimeoutMs))) {
        logger?.warn(
          { sessions: open.size, waitedMs: stopTimeoutMs },
          "relay: the database did not answer in time; closing its sessions (rows not yet marked are published again, deduplicated)",
        );
        for (const c of open) destroyConnection(c);
        await settlesWithin(finished, 1000);
      }
      await session.close();
    },
    get isLeader() {
      return session.isLeader;
    },
    idle() {
      const done = idle.wait();
      wake.wake();
      return done;
    },
  };
}

/** Leads whenever it can: waits for the lock, drains, and after a failed round backs off and goes on. */
async function lead(round: DrainRoundOptions, backoff: RoundBackoff, outage: OutageLog): Promise<void> {
  const { session, signal, wake } = round;
  while (!signal.aborted) {
    try {
      const c = await session.acquire();
      outage.reachable();
      if (!c) {
        await wake.wait(round.pollMs);
        continue;
      }
      await drainRound(c, round);
    } catch (err) {
      if (signal.aborted) break;
      backoff.report(err);
      if (isDatabaseUnavailable(err)) session.drop();
      await backoff.pause(signal);
    }
  }
}

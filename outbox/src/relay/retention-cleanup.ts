import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";
import type { OutageLog } from "../outage-log.js";
import { endWithin } from "../settles-within.js";
import { openSession, type OpenSessions } from "./open-session.js";

const CLEANUP_BATCH = 5000;
const CLEANUP_EVERY_MS = 60_000;

/**
 * A table whose rows expire: what the relay's cleanup deletes, in batches, once they are older than
 * `retentionMs`.
 * @example
 * { name: "idempotency_keys", retentionMs: 7 * 86_400_000,
 *   deleteBatch: "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)" }
 */
export interface RetentionRule {
  /** Names it in logs and in `orderflow_retention`, where the horizon of its last cleanup is kept. */
  readonly name: string;
  readonly retentionMs: number;
  /** Deletes at most `$2` rows older than `$1` (a timestamptz); fewer than `$2` deleted ends the cleanup. */
  readonly deleteBatch: string;
}

/** The runtime's own expiring rows: published outbox rows (for `republish`) and inbox rows (for duplicates). */
export function runtimeRetention(outboxMs: number, inboxMs: number): RetentionRule[] {
  return [
    {
      name: "outbox",
      retentionMs: outboxMs,
      deleteBatch: `DELETE FROM orderflow_outbox WHERE id IN (
        SELECT id FROM orderflow_outbox WHERE published_at < $1 ORDER BY published_at LIMIT $2)`,
    },
    {
      name: "inbox",
      retentionMs: inboxMs,
      deleteBatch: `DELETE FROM orderflow_inbox WHERE (consumer, event_id) IN (
        SELECT consumer, event_id FROM orderflow_inbox WHERE processed_at < $1 LIMIT $2)`,
    },
  ];
}

export interface RetentionCleanupOptions {
  readonly connectionString: string;
  /** What expires, and when. */
  readonly rules: readonly RetentionRule[];
  /** Aborted when the relay stops: a cleanup under way ends after its current batch. */
  readonly signal: AbortSignal;
  readonly logger?: Logger | undefined;
  /** Where a failure because the database is unreachable goes (logged once per outage). */
  readonly outage?: OutageLog | undefined;
  /** The relay's sessions: the cleanup's is among them while it lasts. */
  readonly open?: OpenSessions | undefined;
}

/**
 * Deletes the rows of each rule older than its retention, in batches, on a session of its own; at
 * most once a minute (or once per retention, if that is shorter). Before deleting, it records the
 * cutoff as the rule's horizon in `orderflow_retention` (`replayEvents` applies no event older than
 * the inbox's: its inbox row may be gone). A delete lost in a crash or a failed cleanup is simply
 * done again next time.
 */
export class RetentionCleanup {
  readonly #opts: RetentionCleanupOptions;
  readonly #everyMs: number;
  #cleaning: Promise<void> | undefined;
  #lastCleanup = 0;

  constructor(opts: RetentionCleanupOptions) {
    this.#opts = opts;
    this.#everyMs = Math.min(CLEANUP_EVERY_MS, ...opts.rules.map((r) => r.retentionMs));
  }

  /** Starts a cleanup in the background, unless one runs or ran recently. */
  maybeStart(): void {
    const { logger } = this.#opts;
    if (this.#cleaning || Date.now() - this.#lastCleanup < this.#everyMs) return;
    this.#lastCleanup = Date.now();
    this.#cleaning = this.#clean()
      .catch((err: unknown) => {
        if (!this.#opts.outage?.failure(err))
          logger?.warn({ err: describeError(err) }, "retention cleanup failed; will retry");
      })
      .finally(() => {
        this.#cleaning = undefined;
      });
  }

  /** Resolves once the cleanup under way, if any, has ended. */
  async settled(): Promise<void> {
    await this.#cleaning;
  }

  async #clean(): Promise<void> {
    const { connectionString, signal } = this.#opts;
    const c = await openSession(connectionString, "orderflow-relay-cleanup", this.#opts.open);
    try {
      await c.query("SET synchronous_commit = off");
      for (const rule of this.#opts.rules) {
        if (signal.aborted) break;
        // Recorded before deleting (and WAL keeps commit order, synchronous or not): no row older
        // than the horizon is gone while the horizon is not recorded.
        const { rows } = await c.query<{ cutoff: Date }>(
          `INSERT INTO orderflow_retention (name, pruned_before)
           VALUES ($1, now() - make_interval(secs => $2))
           ON CONFLICT (name) DO UPDATE
             SET pruned_before = greatest(orderflow_retention.pruned_before, excluded.pruned_before)
           RETURNING pruned_before AS cutoff`,
          [rule.name, rule.retentionMs / 1000],
        );
        const cutoff = rows[0]!.cutoff;
        while (!signal.aborted) {
          const r = await c.query(rule.deleteBatch, [cutoff, CLEANUP_BATCH]);
          if ((r.rowCount ?? 0) < CLEANUP_BATCH) break;
        }
      }
    } finally {
      await endWithin(c, 1000).catch(() => {});
    }
  }
}

import type { Logger } from "../logger.js";
import { describeError } from "../errors.js";
import type { OutageLog } from "../outage-log.js";
import { endWithin } from "../settles-within.js";
import { openSession, type OpenSessions } from "./open-session.js";

const CLEANUP_BATCH = 5000;
const CLEANUP_EVERY_MS = 60_000;

export interface RetentionCleanupOptions {
  readonly connectionString: string;
  /** How long published rows are kept. */
  readonly retentionMs: number;
  /** Aborted when the relay stops: a cleanup under way ends after its current batch. */
  readonly signal: AbortSignal;
  readonly logger?: Logger | undefined;
  /** Where a failure because the database is unreachable goes (logged once per outage). */
  readonly outage?: OutageLog | undefined;
  /** The relay's sessions: the cleanup's is among them while it lasts. */
  readonly open?: OpenSessions | undefined;
}

/**
 * Deletes published rows older than the retention, in batches, on a session of its own; at most
 * once a minute (or once per retention, if that is shorter). A delete lost in a crash or a failed
 * cleanup is simply done again next time.
 */
export class RetentionCleanup {
  readonly #opts: RetentionCleanupOptions;
  #cleaning: Promise<void> | undefined;
  #lastCleanup = 0;

  constructor(opts: RetentionCleanupOptions) {
    this.#opts = opts;
  }

  /** Starts a cleanup in the background, unless one runs or ran recently. */
  maybeStart(): void {
    const { retentionMs, logger } = this.#opts;
    if (this.#cleaning || Date.now() - this.#lastCleanup < Math.min(CLEANUP_EVERY_MS, retentionMs)) return;
    this.#lastCleanup = Date.now();
    this.#cleaning = this.#clean()
      .catch((err: unknown) => {
        if (!this.#opts.outage?.failure(err))
          logger?.warn({ err: describeError(err) }, "outbox cleanup failed; will retry");
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
    const { connectionString, retentionMs, signal } = this.#opts;
    const c = await openSession(connectionString, "orderflow-relay-cleanup", this.#opts.open);
    try {
      await c.query("SET synchronous_commit = off");
      while (!signal.aborted) {
        const r = await c.query(
          `DELETE FROM orderflow_outbox WHERE id IN (
             SELECT id FROM orderflow_outbox
             WHERE published_at < now() - make_interval(secs => $1) ORDER BY published_at LIMIT $2)`,
          [retentionMs / 1000, CLEANUP_BATCH],
        );
        if ((r.rowCount ?? 0) < CLEANUP_BATCH) break;
      }
    } finally {
      await endWithin(c, 1000).catch(() => {});
    }
  }
}

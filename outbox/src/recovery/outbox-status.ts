import { sql } from "kysely";
import type { AnyDb } from "../types.js";

export interface OutboxStatus {
  /** Rows not yet published. */
  readonly backlog: number;
  /** Age of the oldest unpublished row in ms; null when the backlog is empty. */
  readonly oldestUnpublishedMs: number | null;
  /** Published rows still retained (what `republishOutbox` can re-feed). */
  readonly retained: number;
  readonly oldestRetained: string | null;
}

/**
 * Backlog and retention of one service's outbox.
 * @example
 * const { backlog, oldestUnpublishedMs } = await outboxStatus(db);
 */
export async function outboxStatus(db: AnyDb): Promise<OutboxStatus> {
  const { rows } = await sql<{
    backlog: string;
    oldest_ms: string | null;
    retained: string;
    oldest_retained: Date | null;
  }>`
    SELECT count(*) FILTER (WHERE published_at IS NULL) AS backlog,
           (extract(epoch FROM now() - min(created_at) FILTER (WHERE published_at IS NULL)) * 1000)::bigint AS oldest_ms,
           count(*) FILTER (WHERE published_at IS NOT NULL) AS retained,
           min(published_at) AS oldest_retained
    FROM orderflow_outbox`.execute(db);
  const r = rows[0]!;
  return {
    backlog: Number(r.backlog),
    oldestUnpublishedMs: r.oldest_ms === null ? null : Number(r.oldest_ms),
    retained: Number(r.retained),
    oldestRetained: r.oldest_retained?.toISOString() ?? null,
  };
}

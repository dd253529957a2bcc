import type { JetStreamManager } from "@nats-io/jetstream";
import { outboxStatus, type AnyDb, type Topology } from "@orderflow/outbox";
import type { Messaging } from "./messaging.js";
import type { Metrics } from "./metrics.js";
import { succeedsWithin } from "./succeeds-within.js";

export interface MetricsRefreshOptions {
  readonly metrics: Metrics;
  readonly db: AnyDb;
  readonly jsm: Pick<JetStreamManager, "consumers" | "streams">;
  readonly messaging: Pick<Messaging, "relay" | "consumer">;
  readonly topology: Topology;
  /** Scrapes closer together than this reuse the last reading (default 1000 ms). */
  readonly minIntervalMs?: number;
  /** How long each read may take before it counts as failed (default 1000 ms). */
  readonly timeoutMs?: number;
}

/**
 * Reads the gauges that live elsewhere — outbox backlog and oldest row (one SQL statement), each
 * durable's num_pending and num_ack_pending and the dead-letter stream's depth (one JetStream
 * request each), relay leadership — for a scrape. Bounded: the reads run side by side, each with a
 * timeout, and at most once per `minIntervalMs` however often Prometheus scrapes. A failed read
 * leaves its gauge as it was and counts in `orderflow_metrics_refresh_failures_total`.
 */
export function createMetricsRefresh(opts: MetricsRefreshOptions): () => Promise<void> {
  const { metrics, messaging } = opts;
  const minIntervalMs = opts.minIntervalMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 1000;
  let last: { at: number; done: Promise<void> } | undefined;

  const read = async (source: string, fn: () => Promise<void>) => {
    if (!(await succeedsWithin(fn(), timeoutMs))) metrics.refreshFailures.inc({ source });
  };

  const refresh = async () => {
    metrics.leader.set(messaging.relay.isLeader ? 1 : 0);
    const durables = messaging.consumer?.durables ?? [];
    await Promise.all([
      read("outbox", async () => {
        const status = await outboxStatus(opts.db);
        metrics.backlog.set(status.backlog);
        metrics.oldestUnpublished.set((status.oldestUnpublishedMs ?? 0) / 1000);
      }),
      read("dead_letters", async () => {
        const stream = opts.topology.deadLetterStream;
        const info = await opts.jsm.streams.info(stream);
        metrics.deadLetters.set({ stream }, info.state.messages);
      }),
      ...durables.map((d) =>
        read("consumer", async () => {
          const info = await opts.jsm.consumers.info(d.stream, d.consumer);
          const labels = { stream: d.stream, consumer: d.consumer };
          metrics.pending.set(labels, info.num_pending);
          metrics.ackPending.set(labels, info.num_ack_pending);
        }),
      ),
    ]);
  };

  return () => {
    const now = Date.now();
    if (!last || now - last.at >= minIntervalMs) last = { at: now, done: refresh() };
    return last.done;
  };
}

import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { streamNameOf } from "@orderflow/events";
import type { Topology } from "@orderflow/outbox";
import pg from "pg";
import { readStream } from "./stream-reader.js";

export interface RepublishOptions {
  readonly databaseUrl: string;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  readonly since: Date;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RepublishResult {
  /** Retained outbox rows created since `since`. */
  readonly candidates: number;
  /** Of those, already in their stream (matched by `ce-id`). */
  readonly present: number;
  readonly published: number;
}

// Stream clocks and database clocks differ; read the streams from a little earlier than asked.
const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * Re-feeds streams from a service's retained outbox rows after the broker lost data. Rows whose
 * event id is still in the stream are skipped (JetStream's duplicate window is minutes; this check
 * covers any age), the rest are published in outbox order with their original `Nats-Msg-Id`.
 */
export async function republish(opts: RepublishOptions): Promise<RepublishResult> {
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      event_id: string;
      subject: string;
      headers: Record<string, string>;
      payload: Buffer;
    }>(
      `SELECT event_id, subject, headers, payload FROM orderflow_outbox
       WHERE published_at IS NOT NULL AND created_at >= $1 ORDER BY id`,
      [opts.since],
    );
    const streams = new Set(rows.map((r) => opts.topology.stream(streamNameOf(r.subject.split(".")[0]!))));
    const present = new Set<string>();
    for (const stream of streams) {
      const exists = await opts.jsm.streams.info(stream).then(
        () => true,
        () => false,
      );
      if (!exists) continue;
      await readStream(
        opts.js,
        opts.jsm,
        stream,
        { startTime: new Date(opts.since.getTime() - CLOCK_SLACK_MS), headersOnly: true },
        (m) => {
          const id = m.headers?.get("ce-id");
          if (id) present.add(id);
        },
      );
    }
    const missing = rows.filter((r) => !present.has(r.event_id));
    let published = 0;
    const window = new Set<Promise<unknown>>();
    for (const r of missing) {
      while (window.size >= 256) await Promise.race(window);
      const h = natsHeaders();
      for (const [k, v] of Object.entries(r.headers)) h.set(k, v);
      const p = opts.js
        .publish(opts.topology.subject(r.subject), r.payload, { msgID: r.event_id, headers: h })
        .then(() => {
          published++;
          opts.onProgress?.(published, missing.length);
        });
      window.add(p);
      void p.finally(() => window.delete(p)).catch(() => {});
    }
    await Promise.all(window);
    return { candidates: rows.length, present: rows.length - missing.length, published };
  } finally {
    await client.end();
  }
}

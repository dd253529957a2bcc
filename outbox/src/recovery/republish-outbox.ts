import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { sql } from "kysely";
import { Topology } from "../topology.js";
import type { AnyDb } from "../types.js";
import { readStream } from "./read-stream.js";

export interface RepublishOptions {
  /** The service's database (see `openDatabase`). */
  readonly db: AnyDb;
  readonly js: Pick<JetStreamClient, "publish" | "consumers">;
  readonly jsm: Pick<JetStreamManager, "streams">;
  readonly topology?: Topology;
  /** Retained rows created since then are candidates. */
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
const MAX_IN_FLIGHT = 256;

/**
 * Re-feeds streams from a service's retained outbox rows after the broker lost data. Rows whose
 * event id is still in their stream are skipped (JetStream's duplicate window is minutes; this check
 * covers any age); the rest are published in outbox order with their original `Nats-Msg-Id`.
 * @example
 * await republishOutbox({ db, js, jsm, since: new Date(Date.now() - 24 * 3_600_000) });
 */
export async function republishOutbox(opts: RepublishOptions): Promise<RepublishResult> {
  const topology = opts.topology ?? new Topology();
  const { rows } = await sql<{
    event_id: string;
    subject: string;
    headers: Record<string, string>;
    payload: Buffer;
  }>`
    SELECT event_id, subject, headers, payload FROM orderflow_outbox
    WHERE published_at IS NOT NULL AND created_at >= ${opts.since} ORDER BY id`.execute(opts.db);
  const present = await idsInStreams(opts, new Set(rows.map((r) => topology.subject(r.subject))));
  const missing = rows.filter((r) => !present.has(r.event_id));
  let published = 0;
  const window = new Set<Promise<unknown>>();
  for (const r of missing) {
    while (window.size >= MAX_IN_FLIGHT) await Promise.race(window);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(r.headers)) h.set(k, v);
    const p = opts.js
      .publish(topology.subject(r.subject), r.payload, { msgID: r.event_id, headers: h })
      .then(() => {
        published++;
        opts.onProgress?.(published, missing.length);
      });
    window.add(p);
    void p.finally(() => window.delete(p)).catch(() => {});
  }
  await Promise.all(window);
  return { candidates: rows.length, present: rows.length - missing.length, published };
}

/** The event ids (`ce-id`) stored since about `since` in the streams holding `subjects`. */
async function idsInStreams(opts: RepublishOptions, subjects: Set<string>): Promise<Set<string>> {
  const streams = new Set<string>();
  // The broker says which stream holds a subject; one it has lost holds nothing.
  for (const s of subjects)
    await opts.jsm.streams.find(s).then(
      (name) => streams.add(name),
      () => {},
    );
  const ids = new Set<string>();
  const startTime = new Date(opts.since.getTime() - CLOCK_SLACK_MS);
  for (const stream of streams) {
    await readStream({ js: opts.js, jsm: opts.jsm, stream, startTime, headersOnly: true }, (m) => {
      const id = m.headers?.get("ce-id");
      if (id) ids.add(id);
    });
  }
  return ids;
}

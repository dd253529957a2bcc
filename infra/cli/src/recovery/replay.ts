import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { streamNameOf, type AnyCatalog, type AnyCloudEvent } from "@orderflow/events";
import { createMetrics, parseConfig } from "@orderflow/host";
import {
  applyEvent,
  applyEvents,
  createOutbox,
  PreparingClient,
  type AnyDb,
  type Topology,
} from "@orderflow/outbox";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { CliError } from "../errors.js";
import type { AnyDefinition } from "./context.js";
import { readStream } from "./stream-reader.js";

export interface ReplayOptions {
  readonly definition: AnyDefinition;
  readonly env: Record<string, string | undefined>;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  /** Catalog stream name (ORDERS…); default every stream the service consumes. */
  readonly stream?: string;
  readonly fromSeq?: number;
  readonly since?: Date;
  readonly until?: Date;
  readonly subject?: string;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  readonly read: number;
  readonly applied: number;
  readonly duplicate: number;
  readonly ignored: number;
  readonly invalid: number;
}

/** Events applied per transaction. */
const BATCH = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The catalog streams holding events the service handles. */
export function consumedStreams(handlers: object, catalog: AnyCatalog): string[] {
  return [...new Set(Object.keys(handlers).map((n) => streamNameOf(catalog.get(n)!.context)))];
}

/**
 * Re-delivers stored events to one service's handlers through the same exactly-once path as its
 * consumers (inbox + handlers + emits, a batch per transaction): events it already applied change
 * nothing. Runs beside the live service; both may apply the same event, and the inbox lets only one
 * win. A handler that fails stops the replay at that event, with everything before it applied.
 */
export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const def = opts.definition;
  const config = parseConfig(opts.env, def);
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: 4,
    ...(config.preparedStatements ? { Client: PreparingClient } : {}),
  });
  pool.on("error", () => {});
  const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
  const catalog: AnyCatalog = def.consumes ?? def.publishes;
  const outbox = createOutbox({ catalog: def.publishes, source: def.source ?? `/${def.name}` });
  const deps = {
    db,
    outbox,
    logger: pino({ level: "silent" }),
    config,
    metrics: createMetrics(def.name),
    now: () => new Date(),
  };
  const handlers = def.handlers?.(deps) ?? {};
  const streams = opts.stream ? [opts.stream] : consumedStreams(handlers, catalog);
  const totals = { read: 0, applied: 0, duplicate: 0, ignored: 0, invalid: 0 };
  const target = { name: def.name, db, outbox, handlers };
  let batch: JsMsg[] = [];
  // One batch is applied while the next is read; batches still commit one after the other.
  let applying: Promise<void> = Promise.resolve();
  const flush = async () => {
    const msgs = batch;
    batch = [];
    await applying;
    applying = apply(msgs);
    applying.catch(() => {}); // surfaces at the next await of `applying`, not as unhandled
  };
  const apply = async (msgs: JsMsg[]) => {
    // Events already in the inbox are skipped before decoding: re-running a replay costs little
    // more than reading the stream. The inbox decides again in applyEvents for the rest.
    const ids = msgs.map((m) => m.headers?.get("ce-id") ?? "").filter((id) => UUID.test(id));
    const { rows } = await sql<{ event_id: string }>`
      SELECT event_id FROM orderflow_inbox WHERE consumer = ${def.name} AND event_id = ANY(${ids}::uuid[])`.execute(
      db,
    );
    const seen = new Set(rows.map((r) => r.event_id));
    const events: AnyCloudEvent[] = [];
    for (const m of msgs) {
      if (seen.has(m.headers?.get("ce-id").toLowerCase() ?? "")) {
        totals.duplicate++;
        continue;
      }
      const decoded = catalog.decode({ subject: m.subject, headers: m.headers, data: m.data });
      if (decoded.ok) events.push(decoded.event);
      else totals.invalid++;
    }
    try {
      for (const r of await applyEvents(target, events)) totals[r]++;
    } catch {
      // Find the failing event: apply one by one, so what precedes it lands and its error surfaces.
      for (const e of events) totals[await applyEvent(target, e)]++;
    }
  };
  try {
    const states = [];
    for (const s of streams)
      states.push({ s, ...(await opts.jsm.streams.info(opts.topology.stream(s))).state });
    const from = opts.fromSeq;
    if (from !== undefined && states.length > 0 && states.every((st) => from > st.last_seq)) {
      const ends = states.map((st) => `${st.s} (last ${st.last_seq})`).join(" and ");
      throw new CliError("BAD_CONFIG", `--from-seq ${from} is past the end of ${ends}`);
    }
    const expected = states.reduce((n, st) => n + st.messages, 0);
    // An unreachable database fails here, before a long stream is read.
    await sql`SELECT 1`.execute(db);
    for (const s of streams) {
      await readStream(
        opts.js,
        opts.jsm,
        opts.topology.stream(s),
        {
          ...(opts.subject ? { filter: opts.topology.subject(opts.subject) } : {}),
          ...(opts.fromSeq ? { startSeq: opts.fromSeq } : {}),
          ...(opts.since ? { startTime: opts.since } : {}),
        },
        async (m) => {
          totals.read++;
          if (opts.until && m.info.timestampNanos / 1e6 > opts.until.getTime()) {
            totals.ignored++;
            return;
          }
          batch.push(m);
          if (batch.length >= BATCH) {
            await flush();
            opts.onProgress?.(totals.read, expected);
          }
        },
      );
      await flush();
      await applying;
    }
    opts.onProgress?.(totals.read, totals.read);
    return totals;
  } finally {
    await db.destroy();
  }
}

import type { AnyCatalog } from "@orderflow/events";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { AnyCloudEvent as CloudEvent } from "@orderflow/events";
import { sql } from "kysely";
import { applyEvent, applyEvents, type ApplyOptions } from "../apply.js";
import { Topology } from "../topology.js";
import { handledStreams } from "./catalog.js";
import { readStream } from "./read-stream.js";

export interface ReplayOptions extends ApplyOptions {
  readonly js: Pick<JetStreamClient, "consumers">;
  readonly jsm: Pick<JetStreamManager, "streams">;
  readonly topology?: Topology;
  /** Catalog stream names (ORDERS…); default every stream holding an event the handlers handle. */
  readonly streams?: readonly string[];
  readonly fromSeq?: number;
  readonly since?: Date;
  /** Events stored after this are read but not applied (counted `ignored`). */
  readonly until?: Date;
  /** A catalog subject filter, e.g. `orders.order.created`. */
  readonly subject?: string;
  /** The events the handlers take: what stored messages decode with. */
  readonly catalog: AnyCatalog;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  readonly read: number;
  readonly applied: number;
  readonly duplicate: number;
  readonly ignored: number;
  readonly invalid: number;
  /**
   * Stored before the inbox's retention horizon (its rows older than that may be pruned, so
   * whether the event was applied cannot be told): not applied. Delete `orderflow_retention`'s
   * `inbox` row to replay them anyway, knowing they may apply twice.
   */
  readonly expired: number;
}

/** Events applied per transaction. */
const BATCH = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Re-delivers stored events to a consumer's handlers through the same exactly-once path as the
 * consumer runtime (`applyEvents`: inbox + handlers + emits, a batch per transaction): events it
 * already applied change nothing. Runs beside the live consumer; both may apply the same event, and
 * the inbox lets only one win. A handler that fails stops the replay at that event, with everything
 * before it applied, and its error surfaces.
 * @example
 * const r = await replayEvents({ name: "inventory", db, outbox, handlers, js, jsm, streams: ["ORDERS"] });
 */
export async function replayEvents(opts: ReplayOptions): Promise<ReplayResult> {
  const topology = opts.topology ?? new Topology();
  const streams = opts.streams ?? handledStreams(opts.handlers, opts.catalog);
  const totals = { read: 0, applied: 0, duplicate: 0, ignored: 0, invalid: 0, expired: 0 };
  let expected = 0;
  for (const s of streams) expected += (await opts.jsm.streams.info(topology.stream(s))).state.messages;
  // An unreachable database fails here, before a long stream is read.
  const horizon = await inboxHorizon(opts.db);
  const batches = batchApplier(opts, totals);
  for (const s of streams) {
    await readStream(
      {
        js: opts.js,
        jsm: opts.jsm,
        stream: topology.stream(s),
        ...(opts.subject ? { filter: topology.subject(opts.subject) } : {}),
        ...(opts.fromSeq ? { startSeq: opts.fromSeq } : {}),
        ...(opts.since ? { startTime: opts.since } : {}),
      },
      async (m) => {
        totals.read++;
        const storedMs = m.info.timestampNanos / 1e6;
        if (opts.until && storedMs > opts.until.getTime()) {
          totals.ignored++;
          return;
        }
        if (storedMs < horizon) {
          totals.expired++;
          return;
        }
        if (await batches.add(m)) opts.onProgress?.(totals.read, expected);
      },
    );
    await batches.drain();
  }
  opts.onProgress?.(totals.read, totals.read);
  return totals;
}

/** The server clocks of NATS and PostgreSQL may differ by this much. */
const CLOCK_SKEW_MS = 3_600_000;

/**
 * Events stored before this (ms) may have had their inbox rows pruned: an inbox row is written after
 * its event was stored, so rows pruned before the horizon belong to events stored before it.
 */
async function inboxHorizon(db: ReplayOptions["db"]): Promise<number> {
  const { rows } = await sql<{ at: Date | null }>`
    SELECT (SELECT pruned_before FROM orderflow_retention WHERE name = 'inbox') AS at`.execute(db);
  const at = rows[0]?.at;
  return at ? at.getTime() + CLOCK_SKEW_MS : -Infinity;
}

/** Collects messages into batches; one batch is applied while the next is read, commits in order. */
function batchApplier(opts: ReplayOptions, totals: { -readonly [K in keyof ReplayResult]: number }) {
  const decode = opts.catalog.decode;
  let batch: JsMsg[] = [];
  let applying: Promise<void> = Promise.resolve();
  const apply = async (msgs: JsMsg[]) => {
    // Events already in the inbox are skipped before decoding: re-running a replay costs little
    // more than reading the stream. The inbox decides again in applyEvents for the rest.
    const ids = msgs.map((m) => m.headers?.get("ce-id") ?? "").filter((id) => UUID.test(id));
    const { rows } = await sql<{ event_id: string }>`
      SELECT event_id FROM orderflow_inbox WHERE consumer = ${opts.name} AND event_id = ANY(${ids}::uuid[])`.execute(
      opts.db,
    );
    const seen = new Set(rows.map((r) => r.event_id));
    const events: CloudEvent[] = [];
    for (const m of msgs) {
      if (seen.has(m.headers?.get("ce-id").toLowerCase() ?? "")) {
        totals.duplicate++;
        continue;
      }
      const decoded = decode({ subject: m.subject, headers: m.headers, data: m.data });
      if (decoded.ok) events.push(decoded.event);
      else totals.invalid++;
    }
    try {
      for (const r of await applyEvents(opts, events)) totals[r]++;
    } catch {
      // Find the failing event: apply one by one, so what precedes it lands and its error surfaces.
      for (const e of events) totals[await applyEvent(opts, e)]++;
    }
  };
  const flush = async () => {
    const msgs = batch;
    batch = [];
    await applying;
    applying = apply(msgs);
    applying.catch(() => {}); // surfaces at the next await of `applying`, not as unhandled
  };
  return {
    /** Adds a message; true when that completed a batch. */
    async add(m: JsMsg): Promise<boolean> {
      batch.push(m);
      if (batch.length < BATCH) return false;
      await flush();
      return true;
    },
    async drain(): Promise<void> {
      await flush();
      await applying;
    },
  };
}

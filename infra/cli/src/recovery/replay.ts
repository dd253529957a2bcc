import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { AnyCatalog } from "@orderflow/events";
import { createMetrics, parseConfig, serviceSource } from "@orderflow/host";
import {
  createOutbox,
  handledStreams,
  replayEvents,
  type AnyHandlers,
  type ReplayResult,
  type Topology,
} from "@orderflow/outbox";
import { pino } from "pino";
import { CliError } from "../errors.js";
import { openServiceDatabase, type AnyDefinition } from "./context.js";

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

/** `orderflow replay`: the service's handlers, built as its host builds them, run by `replayEvents`. */
export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const def = opts.definition;
  const config = parseConfig(opts.env, def);
  await using db = openServiceDatabase(config);
  const catalog: AnyCatalog = def.consumes ?? def.publishes;
  const outbox = createOutbox({ catalog: def.publishes, source: serviceSource(def) });
  const logger = pino({ level: "silent" });
  const deps = { db, outbox, logger, config, metrics: createMetrics(def.name), now: () => new Date() };
  const handlers = def.handlers?.(deps) ?? {};
  const streams = opts.stream ? [opts.stream] : handledStreams(handlers, catalog);
  if (opts.fromSeq !== undefined) await assertStartInRange(opts, streams, opts.fromSeq);
  // Awaited here: `db` is disposed when this function returns.
  return await replayEvents({
    name: def.name,
    catalog,
    db,
    outbox,
    handlers: handlers as AnyHandlers,
    js: opts.js,
    jsm: opts.jsm,
    topology: opts.topology,
    streams,
    fromSeq: opts.fromSeq,
    since: opts.since,
    until: opts.until,
    subject: opts.subject,
    onProgress: opts.onProgress,
  });
}

async function assertStartInRange(opts: ReplayOptions, streams: string[], from: number): Promise<void> {
  const ends = [];
  for (const s of streams) {
    const { last_seq } = (await opts.jsm.streams.info(opts.topology.stream(s))).state;
    if (from <= last_seq) return;
    ends.push(`${s} (last ${last_seq})`);
  }
  if (ends.length)
    throw new CliError("BAD_CONFIG", `--from-seq ${from} is past the end of ${ends.join(" and ")}`);
}

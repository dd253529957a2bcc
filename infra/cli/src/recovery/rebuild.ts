import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNameOf } from "@orderflow/events";
import { dropDatabase, ensureDatabase } from "@orderflow/infra";
import { migrate, PreparingClient, type AnyDb, type Topology } from "@orderflow/outbox";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { control } from "./control.js";
import type { AnyDefinition } from "./context.js";
import { readStream } from "./stream-reader.js";

export interface RebuildOptions {
  readonly definition: AnyDefinition;
  /** PostgreSQL server URL and the service's database name on it. */
  readonly serverUrl: string;
  readonly database: string;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RebuildResult {
  readonly events: number;
  readonly applied: number;
  /** Whether a running instance was paused and resumed around the rebuild. */
  readonly coordinated: boolean;
  readonly ms: number;
}

const BATCH = 500;

/**
 * Rebuilds a service's database from the events it published: a service's state is the fold of its
 * own events (operator changes included), so replaying them in stream order reproduces it exactly —
 * unlike re-running its inputs, whose decisions could differ on another interleaving. Nothing is
 * emitted: the events are recorded in the new outbox as already published, and their causes in the
 * inbox, so a later redelivery of an input that was already handled is skipped.
 */
export async function rebuild(opts: RebuildOptions): Promise<RebuildResult> {
  const started = Date.now();
  const def = opts.definition;
  const projection = def.projection;
  if (!projection) throw new RangeError(`service ${def.name} cannot be rebuilt from its events`);
  const source = def.source ?? `/${def.name}`;
  const stream = opts.topology.stream(streamNameOf(projection.context));
  const { state } = await opts.jsm.streams.info(stream);

  const coordinated = (await control(opts.nc, opts.topology, def.name, "pause")) === "paused";
  try {
    await dropDatabase(opts.serverUrl, opts.database);
    const url = await ensureDatabase(opts.serverUrl, opts.database);
    const pool = new pg.Pool({ connectionString: url, max: 2, Client: PreparingClient });
    pool.on("error", () => {});
    const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
    try {
      await migrate(db, def.migrations);
      let seen = 0;
      let applied = 0;
      let batch: Parameters<Parameters<typeof readStream>[4]>[0][] = [];
      const flush = async () => {
        const msgs = batch;
        batch = [];
        await db.transaction().execute(async (trx) => {
          const published: Record<string, unknown>[] = [];
          const causes: { consumer: string; event_id: string }[] = [];
          for (const m of msgs) {
            const decoded = def.publishes.decode({ subject: m.subject, headers: m.headers, data: m.data });
            if (!decoded.ok || decoded.event.source !== source) continue;
            const e = decoded.event;
            await projection.apply(trx, e);
            const headers: Record<string, string> = {};
            for (const [k, vs] of m.headers ?? []) headers[k] = vs[0] ?? "";
            published.push({
              event_id: e.id,
              subject: opts.topology.unprefix(m.subject),
              headers: JSON.stringify(headers),
              payload: Buffer.from(m.data),
              published_at: sql`now()`,
            });
            if (e.causationId) causes.push({ consumer: def.name, event_id: e.causationId });
            applied++;
          }
          if (published.length) {
            await trx
              .insertInto("orderflow_outbox")
              .values(published)
              .onConflict((oc) => oc.column("event_id").doNothing())
              .execute();
          }
          if (causes.length) {
            await trx
              .insertInto("orderflow_inbox")
              .values(causes)
              .onConflict((oc) => oc.doNothing())
              .execute();
          }
        });
      };
      await readStream(opts.js, opts.jsm, stream, {}, async (m) => {
        batch.push(m);
        seen++;
        if (batch.length >= BATCH) {
          await flush();
          opts.onProgress?.(seen, state.messages);
        }
      });
      await flush();
      opts.onProgress?.(seen, state.messages);
      return { events: seen, applied, coordinated, ms: Date.now() - started };
    } finally {
      await db.destroy();
    }
  } finally {
    if (coordinated) await control(opts.nc, opts.topology, def.name, "resume");
  }
}

import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { SpanKind, SpanStatusCode, type Link } from "@opentelemetry/api";
import pg from "pg";
import type { Logger } from "pino";
import { describeError } from "./errors.js";
import { OUTBOX_CHANNEL } from "./migrations.js";
import { Topology } from "./topology.js";
import { parseTraceparent, tracer } from "./trace.js";
import { Wake } from "./wake.js";

export interface RelayOptions {
  /** The service database; the relay holds one dedicated session on it (leader lock + LISTEN). */
  readonly connectionString: string;
  readonly js: Pick<JetStreamClient, "publish">;
  readonly topology?: Topology;
  readonly logger?: Logger;
  /** Rows read per round trip. */
  readonly batchSize?: number;
  /** Publishes awaiting their PubAck at once. */
  readonly maxInFlight?: number;
  /** Fallback poll when no NOTIFY arrives; also the standby's retry period. */
  readonly pollIntervalMs?: number;
  /** Wake on LISTEN/NOTIFY (default) or poll only. */
  readonly listen?: boolean;
  /** How long published rows are kept for `republish`. */
  readonly retentionMs?: number;
  readonly publishTimeoutMs?: number;
  /** Longest pause between retries after a failure; keep it well under the stream's duplicate window. */
  readonly maxBackoffMs?: number;
  readonly onPublished?: (count: number) => void;
}

export interface Relay {
  start(): void;
  /** Finishes the batch in flight, then closes its session. */
  stop(): Promise<void>;
  readonly isLeader: boolean;
  /** Resolves once a drain round finds nothing left to publish (tests, benchmarks). */
  idle(): Promise<void>;
}

// Any int64 works; it only has to be the same for every relay of one database.
const LEADER_LOCK_KEY = 0x6f726465; // "orde"

interface Row {
  id: string;
  event_id: string;
  subject: string;
  headers: Record<string, string>;
  payload: Buffer;
}

/**
 * Drains a service's outbox into JetStream.
 *
 * Ordering: one relay per database publishes at a time (a session advisory lock; others stand by),
 * rows go out in id order, and two rows with the same `ce-subject` (aggregate) are never in flight
 * together, so a failed publish cannot be overtaken by a later event of the same aggregate.
 * Rows are never skipped: the relay reads `published_at IS NULL`, not a high-water mark, so a row
 * that commits late (lower id, later commit) is picked up by the next round.
 */
export function createRelay(opts: RelayOptions): Relay {
  const batchSize = opts.batchSize ?? 500;
  const maxInFlight = opts.maxInFlight ?? 1000;
  const pollMs = opts.pollIntervalMs ?? 1000;
  const retentionMs = opts.retentionMs ?? 24 * 3_600_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 5000;
  const topology = opts.topology ?? new Topology();
  const log = opts.logger;
  const wake = new Wake();
  let client: pg.Client | undefined;
  let leader = false;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let lastCleanup = 0;
  let idleWaiters: (() => void)[] = [];

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: opts.connectionString, application_name: "orderflow-relay" });
    c.on("error", (err) => {
      log?.warn({ err: describeError(err) }, "relay session lost");
      if (client === c) drop();
    });
    c.on("notification", () => wake.wake());
    c.on("end", () => {
      if (client === c) drop();
    });
    await c.connect();
    if (opts.listen !== false) await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
    return c;
  }

  function drop(): void {
    const c = client;
    client = undefined;
    leader = false;
    c?.end().catch(() => {});
  }

  async function session(): Promise<pg.Client | undefined> {
    client ??= await connect();
    if (!leader) {
      const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [LEADER_LOCK_KEY]);
      leader = r.rows[0]?.ok === true;
      if (leader) log?.info("relay is the leader of this outbox");
    }
    return leader ? client : undefined;
  }

  async function drainOnce(c: pg.Client): Promise<number> {
    const { rows } = await c.query<Row>(
      `SELECT id, event_id, subject, headers, payload FROM orderflow_outbox
       WHERE published_at IS NULL ORDER BY id LIMIT $1`,
      [batchSize],
    );
    if (!rows.length) return 0;
    const links: Link[] = [];
    for (const r of rows) {
      const sc = parseTraceparent(r.headers.traceparent);
      if (sc) links.push({ context: sc });
    }
    return tracer().startActiveSpan(
      "outbox publish",
      { kind: SpanKind.PRODUCER, links, attributes: { "messaging.system": "nats", "messaging.batch.message_count": rows.length } },
      async (span) => {
        try {
          const acked = await publishAll(rows);
          if (acked.length) {
            await c.query("UPDATE orderflow_outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [acked]);
            opts.onPublished?.(acked.length);
          }
          if (acked.length < rows.length) throw new Error(`${rows.length - acked.length} of ${rows.length} publishes failed`);
          return rows.length;
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Publishes with a bounded window; returns the ids of rows JetStream acknowledged. */
  async function publishAll(rows: Row[]): Promise<string[]> {
    const acked: string[] = [];
    const inFlight = new Set<Promise<unknown>>();
    const lastOfKey = new Map<string, Promise<PubAck>>();
    let firstError: unknown;
    for (const row of rows) {
      if (firstError) break;
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      const key = row.headers["ce-subject"] ?? "";
      const before = lastOfKey.get(key);
      const send = (): Promise<PubAck> => {
        const h = natsHeaders();
        for (const [k, v] of Object.entries(row.headers)) h.set(k, v);
        return opts.js.publish(topology.subject(row.subject), row.payload, {
          msgID: row.event_id,
          headers: h,
          timeout: opts.publishTimeoutMs ?? 5000,
        });
      };
      // Same aggregate: wait for the previous ack; if it failed, this one is not sent at all.
      const p = before ? before.then(send) : send();
      lastOfKey.set(key, p);
      const tracked = p.then(
        () => void acked.push(row.id),
        (err: unknown) => {
          firstError ??= err;
        },
      );
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
    }
    await Promise.all(inFlight);
    if (firstError) log?.warn({ err: describeError(firstError) }, "publish failed; will retry");
    return acked;
  }

  async function cleanup(c: pg.Client): Promise<void> {
    if (Date.now() - lastCleanup < Math.min(60_000, retentionMs)) return;
    lastCleanup = Date.now();
    for (;;) {
      const r = await c.query(
        `DELETE FROM orderflow_outbox WHERE id IN (
           SELECT id FROM orderflow_outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 5000)`,
        [retentionMs / 1000],
      );
      if ((r.rowCount ?? 0) < 5000 || stopping) return;
    }
  }

  async function run(): Promise<void> {
    let backoff = 50;
    while (!stopping) {
      try {
        const c = await session();
        if (!c) {
          await wake.wait(pollMs);
          continue;
        }
        const n = await drainOnce(c);
        backoff = 50;
        if (n === batchSize) continue;
        await cleanup(c);
        if (n === 0) {
          for (const w of idleWaiters) w();
          idleWaiters = [];
        }
        if (n === 0) await wake.wait(pollMs);
      } catch (err) {
        if (stopping) break;
        log?.warn({ err: describeError(err), retryInMs: backoff }, "relay round failed");
        if (isConnectionError(err)) drop();
        await wake.wait(backoff);
        backoff = Math.min(backoff * 2, maxBackoffMs);
      }
    }
  }

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stopping = true;
      wake.wake();
      await loop;
      const c = client;
      client = undefined;
      leader = false;
      await c?.end().catch(() => {});
    },
    get isLeader() {
      return leader;
    },
    idle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        wake.wake();
      });
    },
  };
}

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  // Class 08 connection exceptions, 57P admin shutdown, or the client's own "not queryable" errors.
  return (
    typeof e?.code === "string" && (e.code.startsWith("08") || e.code.startsWith("57P"))
  ) || /terminat|not queryable|Connection|ECONNRE/i.test(e?.message ?? "");
}

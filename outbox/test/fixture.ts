import { catalog } from "@orderflow/contracts";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { CloudEvent } from "@orderflow/contracts";
import {
  dropDatabase,
  EmbeddedPostgresServer,
  ensureDatabase,
  isInfraError,
  testDatabase,
  testNats,
  type TestNats,
} from "@orderflow/testing";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { ensureStreams, migrate, PreparingClient, type AnyDb, type HandlerContext } from "../src/index.js";

export interface Rig {
  readonly nats: TestNats;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly db: AnyDb;
  readonly databaseUrl: string;
  streamCount(stream: string): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RigOptions {
  /** A PostgreSQL server to create the database on (e.g. a private one a test restarts); default: the shared one. */
  readonly postgresUrl?: string;
}

/** A private nats-server with the catalog's streams and a fresh, migrated database. */
export async function rig(migrations = {}, opts: RigOptions = {}): Promise<Rig> {
  const nats = await testNats();
  const database = opts.postgresUrl ? await databaseOn(opts.postgresUrl) : await testDatabase("outbox");
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, { streams: catalog.streams });
  // As the service host does: statements prepared, transactions pipelined.
  const pool = new pg.Pool({ connectionString: database.url, max: 20, Client: PreparingClient });
  pool.on("error", () => {});
  // As the service host does: a checked-out client losing its server must not throw uncaught.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
  await migrate(db, migrations);
  return {
    nats,
    nc,
    js: jetstream(nc),
    jsm,
    db,
    databaseUrl: database.url,
    streamCount: async (stream) => (await jsm.streams.info(stream)).state.messages,
    async [Symbol.asyncDispose]() {
      await db.destroy();
      await nc.close();
      await nats[Symbol.asyncDispose]();
      await database[Symbol.asyncDispose]();
    },
  };
}

async function databaseOn(serverUrl: string) {
  const name = `outbox_${randomBytes(6).toString("hex")}`;
  const url = await ensureDatabase(serverUrl, name);
  return { url, [Symbol.asyncDispose]: () => dropDatabase(serverUrl, name).catch(() => {}) };
}

export const countRows = async (db: AnyDb, where = "true"): Promise<number> =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM orderflow_outbox WHERE ${sql.raw(where)}`.execute(db))
      .rows[0]!.n,
  );

/** Event ids of outbox rows matching `where`. */
export const eventIds = async (db: AnyDb, where = "true"): Promise<string[]> =>
  (
    await sql<{
      event_id: string;
    }>`SELECT event_id FROM orderflow_outbox WHERE ${sql.raw(where)} ORDER BY id`.execute(db)
  ).rows.map((r) => r.event_id);

export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  /** ce-id (= Nats-Msg-Id). */
  readonly id: string;
  /** ce-subject: the aggregate. */
  readonly aggregate: string;
  readonly data: unknown;
}

/** Every message of `stream`, in stream order. */
export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<StoredMessage[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMessage[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (!m) continue;
    out.push({
      seq,
      subject: m.subject,
      id: m.header.get("ce-id"),
      aggregate: decodeURIComponent(m.header.get("ce-subject")),
      data: parseJson(new TextDecoder().decode(m.data)),
    });
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The effects every fault test counts: one row per applied event, with a counter that a second
 * application of the same event would push past 1.
 */
export async function createEffects(db: AnyDb): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS effects (
      event_id uuid PRIMARY KEY,
      aggregate text NOT NULL,
      n int NOT NULL DEFAULT 1
    )`.execute(db);
}

/** A handler that records its event in `effects` through the inbox transaction. */
export async function recordEffect(event: CloudEvent, { trx }: Pick<HandlerContext, "trx">): Promise<void> {
  await sql`
    INSERT INTO effects (event_id, aggregate) VALUES (${event.id}, ${event.subject})
    ON CONFLICT (event_id) DO UPDATE SET n = effects.n + 1`.execute(trx);
}

export async function effectCounts(db: AnyDb): Promise<{ rows: number; applied: number; maxN: number }> {
  const r = await sql<{ rows: string; applied: string | null; max_n: number | null }>`
    SELECT count(*) AS rows, sum(n) AS applied, max(n) AS max_n FROM effects`.execute(db);
  const row = r.rows[0]!;
  return { rows: Number(row.rows), applied: Number(row.applied ?? 0), maxN: row.max_n ?? 0 };
}

export interface PrivatePostgres {
  readonly server: EmbeddedPostgresServer;
  readonly url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A PostgreSQL server of this test alone, for tests that restart it. Like the testkit's
 * `testPostgres()`, plus one workaround: where /tmp is not world-writable the unprivileged server
 * user cannot put its socket lock file there and the first start fails; the data directory is then
 * initialised, so we turn the Unix socket off (we connect over TCP) and start again.
 */
export async function privatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-outbox-pg-"));
  let server: EmbeddedPostgresServer;
  try {
    server = await EmbeddedPostgresServer.start({ dataDir: dir });
  } catch (err) {
    if (!isInfraError(err) || !existsSync(join(dir, "PG_VERSION"))) throw err;
    appendFileSync(join(dir, "postgresql.conf"), "\nunix_socket_directories = ''\n");
    server = await EmbeddedPostgresServer.start({ dataDir: dir });
  }
  return {
    server,
    url: server.url,
    async [Symbol.asyncDispose]() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

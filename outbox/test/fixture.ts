import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { testDatabase, testNats, type TestNats } from "@orderflow/infra";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { ensureStreams, migrate, type AnyDb } from "../src/index.js";

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

/** A private nats-server with the catalog's streams and a fresh, migrated database. */
export async function rig(migrations = {}): Promise<Rig> {
  const nats = await testNats();
  const database = await testDatabase("outbox");
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
  const pool = new pg.Pool({ connectionString: database.url, max: 20 });
  pool.on("error", () => {});
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

export const countRows = async (db: AnyDb, where = "true"): Promise<number> =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM orderflow_outbox WHERE ${sql.raw(where)}`.execute(db)).rows[0]!.n);

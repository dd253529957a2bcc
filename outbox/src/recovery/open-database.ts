import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { PreparingClient } from "../prepared.js";
import { destroyConnection, settlesWithin } from "../settles-within.js";

export interface OpenDatabaseOptions {
  /** The service's own database, e.g. `postgres://postgres@127.0.0.1:5432/inventory`. */
  readonly connectionString: string;
  /** Pool size (default 4). */
  readonly max?: number;
  /**
   * The runtime's `PreparingClient` (default), as the services use; false for a plain pg client
   * behind a pooler that cannot keep named statements (`DATABASE_PREPARED_STATEMENTS=false`).
   */
  readonly preparedStatements?: boolean;
  /** Give up connecting after this long (default: pg's, no limit). */
  readonly connectTimeoutMs?: number;
  /** A connection lost, idle or mid-transaction (default: ignored; the statement in flight fails anyway). */
  readonly onConnectionError?: (err: Error) => void;
  /**
   * How long ending the pool (destroying the kysely instance) waits for its connections to be
   * released and closed (default 1000 ms); then they are dropped: their statements fail and their
   * transactions roll back. A server that does not answer cannot hold a stop.
   */
  readonly endTimeoutMs?: number;
  /** A new connection was established: the database is reachable (e.g. again, after an outage). */
  readonly onConnect?: () => void;
}

/**
 * Opens a service's database the way the service host does: a pg pool of the runtime's
 * `PreparingClient`s under kysely. Destroying the kysely instance (or `await using`) ends the pool.
 * @example
 * await using db = openDatabase({ connectionString: config.databaseUrl });
 * const { backlog } = await outboxStatus(db);
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function openDatabase<DB = any>(opts: OpenDatabaseOptions): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 4,
    ...(opts.connectTimeoutMs ? { connectionTimeoutMillis: opts.connectTimeoutMs } : {}),
    ...((opts.preparedStatements ?? true) ? { Client: PreparingClient } : {}),
  });
  // The pool listens only while a client is idle; a checked-out client losing its server would
  // otherwise emit 'error' with nobody listening: an uncaught exception.
  const onError = opts.onConnectionError ?? (() => {});
  pool.on("error", onError);
  const clients = new Set<pg.PoolClient>();
  pool.on("connect", (client) => {
    clients.add(client);
    client.on("error", onError);
    opts.onConnect?.();
  });
  pool.on("remove", (client) => clients.delete(client));
  const end = pool.end.bind(pool);
  const endTimeoutMs = opts.endTimeoutMs ?? 1000;
  pool.end = async () => {
    const ending = end();
    if (await settlesWithin(ending, endTimeoutMs)) return ending;
    for (const c of clients) destroyConnection(c);
    await settlesWithin(ending, 1000);
  };
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** The database a connection string names (its path, decoded). */
export const databaseName = (connectionString: string): string =>
  decodeURIComponent(new URL(connectionString).pathname.slice(1));

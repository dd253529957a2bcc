import { connect, type NatsConnection } from "@nats-io/transport-node";
import { describeError, PreparingClient } from "@orderflow/outbox";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Logger } from "pino";

/** A service's database: a pg pool (of `PreparingClient`s unless turned off) under kysely. */
export function openServiceDatabase<DB>(
  connectionString: string,
  opts: { max: number; preparedStatements: boolean; logger: Logger },
): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max,
    ...(opts.preparedStatements ? { Client: PreparingClient } : {}),
  });
  // A client losing its server must not crash the process. The pool listens only while a client
  // is idle; a checked-out client (mid-transaction) emits 'error' with nobody listening, which
  // would be an uncaught exception. The statement in flight fails anyway, and the pool drops the
  // client when it comes back unusable.
  pool.on("error", (err) => opts.logger.warn({ err: describeError(err) }, "idle database connection lost"));
  pool.on("connect", (client) => {
    client.on("error", (err) => opts.logger.warn({ err: describeError(err) }, "database connection lost"));
  });
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** The service's NATS connection: reconnects forever. */
export function connectNats(servers: string, service: string): Promise<NatsConnection> {
  return connect({
    servers,
    name: `orderflow-${service}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Otherwise every publish and pull request builds two Error objects up front for their
    // stack traces: a third of the relay's CPU in the outbox benchmark.
    noAsyncTraces: true,
  });
}

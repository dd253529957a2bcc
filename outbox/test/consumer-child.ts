import { catalog } from "@orderflow/contracts";
/**
 * A consumer in its own process, for tests that SIGKILL it. Env: DATABASE_URL, NATS_URL,
 * CONSUMER_NAME, ACK_WAIT_MS. Its handler records each order.created in `effects` (the table must
 * exist). With BLOCK_AFTER_COMMIT=1 it prints `{"afterCommit": eventId, "result": ...}` once the
 * inbox transaction committed and then never acks, so the test can kill it between commit and ack.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { createConsumer, createOutbox, type AnyDb } from "../src/index.js";
import { recordEffect } from "./fixture.js";

const env = process.env;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const nc = await connect({ servers: env.NATS_URL, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
pool.on("error", () => {});
pool.on("connect", (client) => client.on("error", () => {}));
const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
const consumer = createConsumer({
  catalog,
  name: env.CONSUMER_NAME ?? "child",
  db,
  js: jetstream(nc),
  jsm: await jetstreamManager(nc),
  outbox: createOutbox({ catalog, source: "/orderflow/test" }),
  handlers: { "order.created": recordEffect },
  concurrency: 1,
  ackWaitMs: Number(env.ACK_WAIT_MS ?? 30_000),
  afterCommit:
    env.BLOCK_AFTER_COMMIT === "1"
      ? async (event, result) => {
          say({ afterCommit: event.id, result });
          // Hold here until the test kills us: committed, never acknowledged.
          await new Promise(() => {});
        }
      : undefined,
});
await consumer.start();
say({ started: true });

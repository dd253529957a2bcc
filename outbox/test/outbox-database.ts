import { testDatabase } from "@orderflow/testing";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { migrate, type AnyDb } from "../src/index.js";

export interface OutboxDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fresh, migrated database and a small pool on it, for tests of the relay's parts (no NATS). */
export async function outboxDatabase(): Promise<OutboxDatabase> {
  const database = await testDatabase("relay");
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on("error", () => {});
  const db: AnyDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
  const dispose = async () => {
    await db.destroy(); // ends the pool
    await database[Symbol.asyncDispose]();
  };
  try {
    await migrate(db);
  } catch (err) {
    await dispose();
    throw err;
  }
  return { url: database.url, pool, [Symbol.asyncDispose]: dispose };
}

export interface InsertedRow {
  readonly id: string;
  readonly event_id: string;
}

/** Inserts an outbox row with these headers and payload. */
export async function insertRow(
  on: pg.Pool | pg.ClientBase,
  headers: Record<string, string> = {},
  payload = "{}",
): Promise<InsertedRow> {
  const r = await on.query<InsertedRow>(
    `INSERT INTO orderflow_outbox (event_id, subject, headers, payload)
     VALUES (gen_random_uuid(), 'orders.order.created', $1::jsonb, convert_to($2, 'UTF8'))
     RETURNING id, event_id`,
    [JSON.stringify(headers), payload],
  );
  return r.rows[0]!;
}

export const unpublishedIds = async (pool: pg.Pool): Promise<string[]> =>
  (
    await pool.query<{ id: string }>("SELECT id FROM orderflow_outbox WHERE published_at IS NULL ORDER BY id")
  ).rows.map((r) => r.id);

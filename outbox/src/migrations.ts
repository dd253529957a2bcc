import { sql, type Kysely, type Migration, Migrator } from "kysely";
import { OutboxError } from "./errors.js";
import type { AnyDb } from "./types.js";

export const OUTBOX_TABLE = "orderflow_outbox";
export const INBOX_TABLE = "orderflow_inbox";
/** NOTIFY channel the relay listens on; a statement trigger fires it on commit of any enqueue. */
export const OUTBOX_CHANNEL = "orderflow_outbox";

export interface OutboxTable {
  id: string; // bigserial
  event_id: string;
  subject: string;
  headers: Record<string, string>;
  payload: Uint8Array;
  created_at: Date;
  published_at: Date | null;
}

export interface InboxTable {
  consumer: string;
  event_id: string;
  processed_at: Date;
}

/** The runtime's own tables, applied before a service's migrations. */
export const runtimeMigrations: Record<string, Migration> = {
  "0000_orderflow_outbox": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE orderflow_outbox (
          id bigserial PRIMARY KEY,
          event_id uuid NOT NULL UNIQUE,
          subject text NOT NULL,
          headers jsonb NOT NULL,
          payload bytea NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          published_at timestamptz
        )`.execute(db);
      await sql`CREATE INDEX orderflow_outbox_unpublished ON orderflow_outbox (id) WHERE published_at IS NULL`.execute(
        db,
      );
      await sql`CREATE INDEX orderflow_outbox_published_at ON orderflow_outbox (published_at) WHERE published_at IS NOT NULL`.execute(
        db,
      );
      await sql`
        CREATE FUNCTION orderflow_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('orderflow_outbox', ''); RETURN NULL; END $$`.execute(db);
      await sql`
        CREATE TRIGGER orderflow_outbox_notify AFTER INSERT ON orderflow_outbox
        FOR EACH STATEMENT EXECUTE FUNCTION orderflow_outbox_notify()`.execute(db);
      await sql`
        CREATE TABLE orderflow_inbox (
          consumer text NOT NULL,
          event_id uuid NOT NULL,
          processed_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (consumer, event_id)
        )`.execute(db);
    },
  },
  "0000_orderflow_retention": {
    // Per expiring table (outbox, inbox, a service's own): rows older than pruned_before may be gone.
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE orderflow_retention (
          name text PRIMARY KEY,
          pruned_before timestamptz NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX orderflow_inbox_processed_at ON orderflow_inbox (processed_at)`.execute(db);
    },
  },
  "0000_orderflow_outbox_autovacuum": {
    // The outbox is a queue: every row is inserted, updated once (published_at) and deleted after
    // the retention. With the default thresholds (20 % of the table) dead index entries pile up
    // between vacuums and the relay's reads of unpublished rows slow down; vacuum it far sooner.
    async up(db: Kysely<unknown>) {
      await sql`
        ALTER TABLE orderflow_outbox SET (
          autovacuum_vacuum_scale_factor = 0.01,
          autovacuum_vacuum_threshold = 1000,
          autovacuum_vacuum_insert_scale_factor = 0.01,
          autovacuum_analyze_scale_factor = 0.02,
          autovacuum_vacuum_cost_delay = 0
        )`.execute(db);
    },
  },
};

/**
 * Runs the runtime's migrations ("0000_…") and the service's, in name order, with kysely's Migrator;
 * one missing from an existing database runs even if executed ones sort after it.
 * Concurrent starts are safe: the Migrator takes a lock.
 */
export async function migrate(db: AnyDb, migrations: Record<string, Migration> = {}): Promise<string[]> {
  const all = { ...runtimeMigrations, ...migrations };
  // Unordered: a runtime migration added later ("0000_…") sorts before a service's executed ones.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => all },
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new OutboxError("MIGRATION_FAILED", `migration ${failed} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

import { testDatabase } from "@orderflow/testing";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrate } from "./index.js";

describe("runtime migrations", () => {
  it("a runtime migration missing from a database whose service migrations already ran is applied", async () => {
    await using database = await testDatabase("outbox");
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }),
    });
    try {
      const service = {
        "0001_things": {
          up: async (k: Kysely<unknown>) => void (await sql`CREATE TABLE things (id int)`.execute(k)),
        },
      };
      await migrate(db, service);
      // As a database migrated before the autovacuum migration existed.
      await sql`DELETE FROM kysely_migration WHERE name = '0000_orderflow_outbox_autovacuum'`.execute(db);
      await sql`ALTER TABLE orderflow_outbox RESET (autovacuum_vacuum_scale_factor)`.execute(db);

      expect(await migrate(db, service)).toEqual(["0000_orderflow_outbox_autovacuum"]);
      const { rows } = await sql<{ reloptions: string[] }>`
        SELECT reloptions FROM pg_class WHERE relname = 'orderflow_outbox'`.execute(db);
      expect(rows[0]!.reloptions).toContain("autovacuum_vacuum_scale_factor=0.01");
      expect(await migrate(db, service)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

import { testDatabase } from "@orderflow/infra";
import { describe, expect, it } from "vitest";
import { PreparingClient } from "./index.js";

describe("PreparingClient", () => {
  it("prepares a parameterised query on its second use, up to a bound per connection", async () => {
    await using database = await testDatabase("outbox");
    const client = new PreparingClient({ connectionString: database.url });
    await client.connect();
    try {
      const prepared = async () =>
        (
          await client.query<{ statement: string }>(
            "SELECT statement FROM pg_prepared_statements ORDER BY statement",
          )
        ).rows.map((r) => r.statement);
      const q = "SELECT $1::int + 1 AS n";
      expect((await client.query<{ n: number }>(q, [1])).rows).toEqual([{ n: 2 }]);
      expect(await prepared()).toEqual([]);
      expect((await client.query<{ n: number }>(q, [2])).rows).toEqual([{ n: 3 }]);
      expect((await client.query<{ n: number }>(q, [3])).rows).toEqual([{ n: 4 }]);
      expect(await prepared()).toEqual([q]);

      // Texts that keep varying stop being prepared at the bound.
      for (let i = 0; i < 300; i++)
        for (let k = 0; k < 2; k++) await client.query(`SELECT $1::int + ${i}`, [k]);
      expect((await prepared()).length).toBe(256);
      expect((await client.query<{ n: number }>("SELECT $1::int + 299 AS n", [1])).rows).toEqual([
        { n: 300 },
      ]);
    } finally {
      await client.end();
    }
  });

  it("a statement whose result columns a migration changed fails once, then is prepared afresh", async () => {
    await using database = await testDatabase("outbox");
    const client = new PreparingClient({ connectionString: database.url });
    await client.connect();
    try {
      await client.query("CREATE TABLE t (a int)");
      await client.query("INSERT INTO t VALUES (1)");
      const q = "SELECT * FROM t WHERE a = $1";
      for (let i = 0; i < 2; i++) expect((await client.query(q, [1])).rows).toEqual([{ a: 1 }]);
      await client.query("ALTER TABLE t ADD COLUMN b int DEFAULT 2");
      await expect(client.query(q, [1])).rejects.toMatchObject({ code: "0A000" });
      for (let i = 0; i < 3; i++) expect((await client.query(q, [1])).rows).toEqual([{ a: 1, b: 2 }]);
    } finally {
      await client.end();
    }
  });
});

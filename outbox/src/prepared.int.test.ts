import { testDatabase } from "@orderflow/testing";
import { describe, expect, it } from "vitest";
import { PreparingClient } from "./index.js";
import { deferredMark, deferredOwnerOf, setStatementOwner } from "./prepared.js";

/** The mark a statement of handler `owner` (or of nobody) starts with. */
const markOf = (owner?: number) => {
  const trx = {};
  setStatementOwner(trx, owner);
  return deferredMark(trx);
};
const DEFERRED_MARK = markOf();

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

  it("in a transaction, deferred statements are not waited for; their error comes with the next statement or COMMIT", async () => {
    await using database = await testDatabase("outbox");
    const client = new PreparingClient({ connectionString: database.url });
    await client.connect();
    const q = (text: string) => client.query(text, []);
    const count = async () =>
      Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM t", [])).rows[0]!.n);
    try {
      await q("CREATE TABLE t (a int PRIMARY KEY)");
      // Outside a transaction the mark changes nothing: the statement is waited for.
      await expect(q(`${DEFERRED_MARK}INSERT INTO t VALUES (1), (1)`)).rejects.toMatchObject({
        code: "23505",
      });
      expect((await q(`${DEFERRED_MARK}SELECT 1 AS n`)).rows).toEqual([{ n: 1 }]);

      // Answered before the server answers: a SELECT's rows never arrive.
      await q("begin");
      expect((await q(`${DEFERRED_MARK}SELECT 1 AS n`)).rows).toEqual([]);
      await q(`${markOf(7)}INSERT INTO t VALUES (2), (2)`);
      const next = await q("SELECT 1").catch((err: unknown) => err);
      expect(next).toMatchObject({ code: "23505" });
      expect(deferredOwnerOf(next)).toBe(7);
      await q("rollback");

      // The COMMIT of a transaction whose deferred statement failed throws that error, not success.
      await q("begin");
      await q(`${DEFERRED_MARK}INSERT INTO t VALUES (3)`);
      await q(`${DEFERRED_MARK}INSERT INTO t VALUES (3)`);
      await expect(q("commit")).rejects.toMatchObject({ code: "23505" });
      expect(await count()).toBe(0);

      // A ROLLBACK discards a deferred failure; the connection goes on as new.
      await q("begin");
      await q(`${DEFERRED_MARK}INSERT INTO t VALUES (4), (4)`);
      await q("rollback");
      await q("begin");
      await q(`${DEFERRED_MARK}INSERT INTO t VALUES (5)`);
      await q("commit");
      expect((await q("SELECT a FROM t")).rows).toEqual([{ a: 5 }]);

      // A transaction ended in pg's other call forms is over too: nothing is deferred after it.
      await q("begin");
      await client.query("COMMIT");
      expect((await q(`${DEFERRED_MARK}SELECT 1 AS n`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await client.end();
    }
  });
});

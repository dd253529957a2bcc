import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { testDatabase, testNats, testPostgres } from "./testkit.js";

describe("testkit", () => {
  it("spawns a private nats-server with JetStream that survives a restart", async () => {
    await using nats = await testNats();
    const nc = await connect({ servers: nats.url });
    const info = nc.info;
    expect(info?.jetstream).toBe(true);
    await nc.close();
    await nats.server.restart();
    const nc2 = await connect({ servers: nats.url });
    expect(nc2.info?.jetstream).toBe(true);
    await nc2.close();
  });

  it("gives each caller its own database and drops it on dispose", async () => {
    let name: string;
    {
      await using db = await testDatabase();
      name = db.name;
      const c = new pg.Client(db.url);
      await c.connect();
      const r = await c.query<{ d: string }>("select current_database() as d");
      expect(r.rows[0]?.d).toBe(db.name);
      await c.end();
    }
    const { testPostgresServer } = await import("./testkit.js");
    const c = new pg.Client((await testPostgresServer()).url);
    await c.connect();
    const r = await c.query("select 1 from pg_database where datname = $1", [name]);
    expect(r.rowCount).toBe(0);
    await c.end();
  });

  it("runs embedded PostgreSQL (as root too) and keeps data across a restart", async () => {
    await using pgx = await testPostgres();
    const url = await pgx.database("keep");
    const c = new pg.Client(url);
    await c.connect();
    await c.query("create table t(x int); insert into t values (42)");
    await c.end();
    await pgx.server.restart();
    const c2 = new pg.Client(url);
    await c2.connect();
    expect((await c2.query("select x from t")).rows).toEqual([{ x: 42 }]);
    await c2.end();
  }, 60_000);
});

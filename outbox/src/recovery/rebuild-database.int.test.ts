import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { databaseUrl, testDatabase, testNats, testPostgresServer } from "@orderflow/testing";
import pg from "pg";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import {
  controlSubject,
  ensureStreams,
  openDatabase,
  outboxStatus,
  rebuildDatabase,
  Topology,
  type AnyDb,
} from "../index.js";

const migrations = {
  "0001_stock": {
    async up(db: AnyDb) {
      await sql`CREATE TABLE stock (sku text PRIMARY KEY, available int NOT NULL)`.execute(db);
    },
  },
};

describe("rebuildDatabase", () => {
  it("recreates the database from migrations and folds only the service's own events, recording them as published and their causes in the inbox", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("rebuild");
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, { streams: catalog.streams });
    {
      await using db = openDatabase({ connectionString: database.url, max: 1 });
      await sql`CREATE TABLE leftover (x int)`.execute(db);
    }
    const cause = newEventId();
    const publish = async (source: string, sku: string, available: number, causationId?: string) => {
      const e = catalog.encode(
        "stock.set",
        { sku, available },
        { id: newEventId(), source, time: new Date(), correlationId: sku, causationId },
      );
      const h = natsHeaders();
      for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
      await js.publish(e.subject, e.data, { headers: h });
      return e.headers["ce-id"];
    };
    const own = [
      await publish("/orderflow/inventory", "a", 5),
      await publish("/orderflow/inventory", "a", 3, cause),
    ];
    await publish("/orderflow/intruder", "b", 9);
    // A running instance, as the service host answers control requests.
    const commands: string[] = [];
    const sub = nc.subscribe(controlSubject(new Topology(), "inventory"), {
      callback: (_err, msg) => {
        commands.push(msg.string());
        msg.respond(msg.string() === "pause" ? "paused" : "running");
      },
    });

    const result = await rebuildDatabase({
      catalog,
      connectionString: database.url,
      migrations,
      service: "inventory",
      source: "/orderflow/inventory",
      stream: "INVENTORY",
      apply: async (trx, e) => {
        const { sku, available } = e.data as { sku: string; available: number };
        await sql`INSERT INTO stock VALUES (${sku}, ${available})
                  ON CONFLICT (sku) DO UPDATE SET available = excluded.available`.execute(trx);
      },
      js,
      jsm,
      nc,
    });
    sub.unsubscribe();
    expect(result).toMatchObject({ events: 3, applied: 2, coordinated: true });
    expect(commands).toEqual(["pause", "resume"]);

    await using db = openDatabase({ connectionString: database.url, max: 1 });
    expect((await sql`SELECT * FROM stock`.execute(db)).rows).toEqual([{ sku: "a", available: 3 }]);
    expect(await outboxStatus(db)).toMatchObject({ backlog: 0, retained: 2 });
    const outboxIds = await sql<{
      event_id: string;
    }>`SELECT event_id FROM orderflow_outbox ORDER BY id`.execute(db);
    expect(outboxIds.rows.map((r) => r.event_id)).toEqual(own);
    const inbox = await sql`SELECT consumer, event_id FROM orderflow_inbox`.execute(db);
    expect(inbox.rows).toEqual([{ consumer: "inventory", event_id: cause }]);
    const leftover = await sql`SELECT to_regclass('leftover') AS t`.execute(db);
    expect(leftover.rows).toEqual([{ t: null }]);
    await nc.close();
  });

  it("with adminConnectionString, an operator role drops and creates the database, and the rebuilt one and its tables belong to the service's role", async () => {
    await using nats = await testNats();
    const server = (await testPostgresServer()).url;
    const database = await testDatabase("rebuild_roles");
    const owner = `${database.name}_owner`;
    const operator = `${database.name}_op`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    const withUser = (url: string, user: string, db: string) => {
      const u = new URL(databaseUrl(url, db));
      u.username = user;
      u.password = "pw-not-a-secret";
      return u.toString();
    };
    const serviceUrl = withUser(server, owner, database.name);
    const nc = await connect({ servers: nats.url });
    try {
      // As orderflow up sets them up: the owner owns the database, alone may connect; the operator is
      // a NOINHERIT member of it with CREATEDB.
      await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'pw-not-a-secret'`);
      await admin.query(`CREATE ROLE ${operator} LOGIN NOINHERIT CREATEDB PASSWORD 'pw-not-a-secret'`);
      await admin.query(`GRANT ${owner} TO ${operator}`);
      await admin.query(`ALTER DATABASE ${database.name} OWNER TO ${owner}`);
      await admin.query(`REVOKE ALL ON DATABASE ${database.name} FROM PUBLIC`);
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm, { streams: catalog.streams });
      const e = catalog.encode(
        "stock.set",
        { sku: "r", available: 4 },
        { id: newEventId(), source: "/orderflow/inventory", time: new Date(), correlationId: "r" },
      );
      const h = natsHeaders();
      for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
      await js.publish(e.subject, e.data, { headers: h });

      const result = await rebuildDatabase({
        catalog,
        connectionString: serviceUrl,
        adminConnectionString: withUser(server, operator, "postgres"),
        migrations,
        service: "inventory",
        source: "/orderflow/inventory",
        stream: "INVENTORY",
        apply: async (trx, ev) => {
          const { sku, available } = ev.data as { sku: string; available: number };
          await sql`INSERT INTO stock VALUES (${sku}, ${available})`.execute(trx);
        },
        js,
        jsm,
      });
      expect(result).toMatchObject({ events: 1, applied: 1 });
      const { rows } = await admin.query(
        `SELECT pg_get_userbyid(datdba) AS owner, has_database_privilege('public', oid, 'CONNECT') AS public_connect
         FROM pg_database WHERE datname = $1`,
        [database.name],
      );
      expect(rows).toEqual([{ owner, public_connect: false }]);
      const service = new pg.Client({ connectionString: serviceUrl });
      await service.connect();
      try {
        expect((await service.query("SELECT * FROM stock")).rows).toEqual([{ sku: "r", available: 4 }]);
        const owners = await service.query(
          "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
        );
        expect(owners.rows).toEqual([{ tableowner: owner }]);
      } finally {
        await service.end();
      }
      // Credentials that do not work stop it before anything is dropped.
      const wrongUser = withUser(server, `${database.name}_nobody`, database.name);
      await expect(
        rebuildDatabase({
          catalog,
          connectionString: wrongUser,
          adminConnectionString: withUser(server, operator, "postgres"),
          migrations,
          service: "inventory",
          source: "/orderflow/inventory",
          stream: "INVENTORY",
          apply: async () => {},
          js,
          jsm,
        }),
      ).rejects.toMatchObject({ code: expect.stringMatching(/^28/) as unknown });
      expect(
        (await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database.name])).rowCount,
      ).toBe(1);
    } finally {
      await nc.close();
      await database[Symbol.asyncDispose]();
      await admin.query(`DROP ROLE IF EXISTS ${operator}`);
      await admin.query(`DROP ROLE IF EXISTS ${owner}`);
      await admin.end();
    }
  });
});

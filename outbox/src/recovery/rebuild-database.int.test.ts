import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { testDatabase, testNats } from "@orderflow/testing";
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
});

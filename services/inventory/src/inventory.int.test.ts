import { inventoryEvents, type InventoryEvents } from "@orderflow/contracts";
import type { CloudEventOf } from "@orderflow/events";
import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { type EventData } from "@orderflow/contracts";
import {
  eventsOf,
  publish,
  testDatabase,
  testNats,
  waitFor,
  type StoredEvent,
  type TestDatabase,
  type TestNats,
} from "@orderflow/testing";
import { migrate } from "@orderflow/outbox";
import { startService, type RunningService } from "@orderflow/host";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InventoryDb } from "./migrations.js";
import { definition } from "./service.js";

type Line = { sku: string; quantity: number };
const order = (orderId: string, lines: Line[]): EventData<"order.created"> => ({
  orderId,
  customerId: "alice",
  items: lines.map((l) => ({ ...l, unitPriceCents: 100 })),
  totalCents: 100 * lines.reduce((n, l) => n + l.quantity, 0),
  currency: "USD",
});

const TOKEN = "operator-token-for-int-tests";

describe("inventory service over real NATS and PostgreSQL", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let svc: RunningService<InventoryDb>;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const logs: { level: number; msg: string }[] = [];
  const retries = () => logs.filter((l) => l.msg === "handler failed; retrying").length;

  beforeAll(async () => {
    nats = await testNats();
    database = await testDatabase("inventory");
    svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        DATABASE_URL: process.env.DATABASE_URL,
        INVENTORY_DATABASE_URL: database.url,
        INVENTORY_PORT: "0",
        LOG_LEVEL: "silent",
        OPERATOR_TOKEN: TOKEN,
        RELAY_POLL_MS: "100",
      },
      logger: pino(
        { level: "warn" },
        { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
      ),
    });
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await svc?.stop();
    await nats?.[Symbol.asyncDispose]();
    await database?.[Symbol.asyncDispose]();
  }, 30_000);

  /** As the operator (with the token) unless `auth` says otherwise. */
  const http = async (
    method: string,
    path: string,
    body?: unknown,
    auth: string | null = `Bearer ${TOKEN}`,
  ) => {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      headers: {
        ...(auth === null ? {} : { authorization: auth }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    return {
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
      ...(r.status === 401 ? { wwwAuthenticate: r.headers.get("www-authenticate") } : {}),
    };
  };
  const stock = async (sku: string) => (await http("GET", `/stock/${encodeURIComponent(sku)}`)).body;
  const put = async (sku: string, available: number) => {
    const r = await http("PUT", `/stock/${sku}`, { available });
    expect(r.status).toBe(200);
    return r.body;
  };
  const send = <N extends "order.created" | "order.approve.requested" | "inventory.release.requested">(
    name: N,
    data: EventData<N>,
    meta: { id?: string; msgId?: string } = {},
  ) => publish(js, catalog, name, data, { ...meta, correlationId: data.orderId });
  const dlq = async () => (await jsm.streams.info("DLQ")).state.messages;
  /** Waits until inventory consumed everything published to it and published its whole outbox. */
  const settle = () =>
    waitFor("inventory caught up and published", async () => {
      for (const stream of ["ORDERS", "SAGA"]) {
        const c = await jsm.consumers.info(stream, "inventory");
        if (c.num_pending + c.num_ack_pending > 0) return false;
      }
      const r = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM orderflow_outbox WHERE published_at IS NULL`.execute(svc.db);
      return Number(r.rows[0]!.n) === 0;
    });
  const published = async (aggregate: string): Promise<StoredEvent[]> => {
    await settle();
    return eventsOf(jsm, catalog, "INVENTORY", aggregate);
  };
  const names = async (aggregate: string) => (await published(aggregate)).map((e) => e.name);

  describe("PUT and GET /stock/:sku", () => {
    it("PUT needs the operator token: none or ill-formed → 401 + WWW-Authenticate, a wrong one → 403; nothing changes", async () => {
      expect((await http("PUT", "/stock/sku-guarded", { available: 5 })).status).toBe(200);
      for (const auth of [null, "/stock/sku-guarded", "Bearer", `Token ${TOKEN}`]) {
        const r = await http("PUT", "/stock/sku-guarded", { available: 1 }, auth);
        expect(r.status, String(auth)).toBe(401);
        expect(r.wwwAuthenticate).toMatch(/^Bearer/);
        expect(r.body).toEqual({ error: expect.any(String) as string, issues: [] });
      }
      for (const auth of [
        `Bearer ${TOKEN}x`,
        "Bearer operator-token-for-int-test",
        `Bearer ${TOKEN.toUpperCase()}`,
      ]) {
        const r = await http("PUT", "/stock/sku-guarded", { available: 1 }, auth);
        expect(r.status, auth).toBe(403);
        expect(r.body).toEqual({ error: "operator token rejected", issues: [] });
      }
      expect((await http("GET", "/stock/sku-guarded")).body).toMatchObject({ available: 5 });
    });

    it("404 for an unknown SKU; PUT sets what is available and publishes stock.set once per change", async () => {
      const sku = `sku-${newEventId()}`;
      expect(await http("GET", `/stock/${sku}`)).toEqual({
        status: 404,
        body: { error: `unknown sku ${sku}` },
      });
      expect(await put(sku, 7)).toEqual({ sku, available: 7, reserved: 0 });
      expect(await stock(sku)).toEqual({ sku, available: 7, reserved: 0 });
      expect(await put(sku, 7)).toEqual({ sku, available: 7, reserved: 0 });
      expect(await put(sku, 0)).toEqual({ sku, available: 0, reserved: 0 });
      const events = await published(sku);
      expect(events.map((e) => [e.name, e.subject, e.data])).toEqual([
        ["stock.set", "inventory.stock.set", { sku, available: 7 }],
        ["stock.set", "inventory.stock.set", { sku, available: 0 }],
      ]);
    });

    it.each([
      [{ available: -1 }, "available"],
      [{ available: 1.5 }, "available"],
      [{ available: "3" }, "available"],
      [{ available: 1_000_000_001 }, "available"],
      [{}, "available"],
    ])("400 for %j naming %s; nothing changes", async (body, path) => {
      await put("sku-bad-input", 3);
      const r = await http("PUT", "/stock/sku-bad-input", body);
      expect(r.status).toBe(400);
      expect(r.body.error).toBeTypeOf("string");
      expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual([path]);
      expect(await stock("sku-bad-input")).toMatchObject({ available: 3 });
    });

    it("400 naming sku for a SKU longer than orders allow, on PUT and GET; 400 for malformed JSON", async () => {
      const long = "s".repeat(65);
      for (const r of [
        await http("PUT", `/stock/${long}`, { available: 1 }),
        await http("GET", `/stock/${long}`),
      ]) {
        expect(r.status).toBe(400);
        expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["sku"]);
      }
      const malformed = await http("PUT", "/stock/x", `{"available": `);
      expect(malformed.status).toBe(400);
      expect((await http("GET", "/stock/x")).status).toBe(404);
    });

    it.each([101, 1000, 8000])(
      "400 naming sku for a %i-character SKU, past the router's default parameter limit",
      async (length) => {
        const long = "s".repeat(length);
        for (const r of [
          await http("PUT", `/stock/${long}`, { available: 1 }),
          await http("GET", `/stock/${long}`),
        ]) {
          expect(r.status).toBe(400);
          expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["sku"]);
        }
      },
    );

    it("431 in the {error, issues} shape for a request line past Node's header limit; still serving", async () => {
      const r = await http("GET", `/stock/${"s".repeat(100_000)}`);
      expect(r.status).toBe(431);
      expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["url"]);
      expect((await http("GET", "/stock/never-set")).status).toBe(404);
    });

    it("400 naming sku for a NUL in the SKU, on PUT and GET; nothing stored", async () => {
      for (const r of [
        await http("PUT", "/stock/a%00b", { available: 1 }),
        await http("GET", "/stock/a%00b"),
      ]) {
        expect(r.status).toBe(400);
        expect(r.body.error).toBeTypeOf("string");
        const issues = r.body.issues as { path: string; message: string }[];
        expect(issues.map((i) => i.path)).toEqual(["sku"]);
        expect(issues[0]!.message).toMatch(/NUL/);
      }
      expect((await http("GET", "/stock/ab")).status).toBe(404);
    });

    it.each(["/stock/%FF%FE", "/stock/%", "/stock/%E0%A4%A"])(
      "400 {error, issues} naming the url for bad percent-encoding: %s",
      async (path) => {
        for (const r of [await http("PUT", path, { available: 1 }), await http("GET", path)]) {
          expect(r.status).toBe(400);
          expect(r.body.error).toBeTypeOf("string");
          expect(r.body).not.toHaveProperty("code");
          expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["url"]);
        }
      },
    );

    it("415 with issues naming content-type for a body that is not JSON or has no content type", async () => {
      for (const init of [
        {
          headers: { "content-type": "text/plain", authorization: `Bearer ${TOKEN}` },
          body: `{"available":1}`,
        },
        {
          headers: { "content-type": "", authorization: `Bearer ${TOKEN}` },
          body: new TextEncoder().encode(`{"available":1}`),
        },
      ]) {
        const r = await fetch(`${svc.url}/stock/sku-not-json`, { method: "PUT", ...init });
        expect(r.status).toBe(415);
        const body = (await r.json()) as { error: string; issues: { path: string; message: string }[] };
        expect(body.error).toBe("content type must be application/json");
        expect(body.issues.map((i) => i.path)).toEqual(["content-type"]);
      }
      expect((await http("GET", "/stock/sku-not-json")).status).toBe(404);
    });
  });

  describe("order.created", () => {
    it("reserves every line, repeated SKUs summed, and answers inventory.reserved caused by the order", async () => {
      const [a, b] = [`a-${newEventId()}`, `b-${newEventId()}`];
      await put(a, 5);
      await put(b, 5);
      const orderId = newEventId();
      const createdId = await send(
        "order.created",
        order(orderId, [
          { sku: b, quantity: 1 },
          { sku: a, quantity: 2 },
          { sku: a, quantity: 1 },
        ]),
      );
      const events = await published(orderId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        name: "inventory.reserved",
        subject: "inventory.reservation.reserved",
        correlationId: orderId,
        causationId: createdId,
        data: {
          orderId,
          items: [
            { sku: a, quantity: 3 },
            { sku: b, quantity: 1 },
          ].sort((x, y) => (x.sku < y.sku ? -1 : 1)),
        },
      });
      expect(await stock(a)).toEqual({ sku: a, available: 2, reserved: 3 });
      expect(await stock(b)).toEqual({ sku: b, available: 4, reserved: 1 });
    });

    it("reserves nothing when one line is short; a repeated order.created after a restock changes nothing", async () => {
      const [a, c] = [`a-${newEventId()}`, `c-${newEventId()}`];
      await put(a, 5);
      await put(c, 1);
      const orderId = newEventId();
      const lines = [
        { sku: a, quantity: 1 },
        { sku: c, quantity: 2 },
      ];
      await send("order.created", order(orderId, lines));
      const events = await published(orderId);
      expect(events.map((e) => [e.name, e.data])).toEqual([
        [
          "inventory.rejected",
          { orderId, sku: c, reason: `insufficient stock for ${c}: requested 2, available 1` },
        ],
      ]);
      expect(await stock(a)).toEqual({ sku: a, available: 5, reserved: 0 });

      await put(c, 10);
      await send("order.created", order(orderId, lines));
      expect(await names(orderId)).toEqual(["inventory.rejected"]);
      expect(await stock(c)).toEqual({ sku: c, available: 10, reserved: 0 });
    });

    it("an unknown SKU has 0 available", async () => {
      const orderId = newEventId();
      const sku = `nowhere-${newEventId()}`;
      await send("order.created", order(orderId, [{ sku, quantity: 5 }]));
      expect((await published(orderId)).map((e) => e.data)).toEqual([
        { orderId, sku, reason: `insufficient stock for ${sku}: requested 5, available 0` },
      ]);
      expect((await http("GET", `/stock/${sku}`)).status).toBe(404);
    });

    it("the same event delivered twice (same ce-id, JetStream de-duplication bypassed) reserves once", async () => {
      const sku = `dup-${newEventId()}`;
      await put(sku, 10);
      const orderId = newEventId();
      const id = newEventId();
      const data = order(orderId, [{ sku, quantity: 3 }]);
      await send("order.created", data, { id });
      await send("order.created", data, { id, msgId: `${id}-again` });
      await settle();
      // Both copies were stored and consumed: the inbox, not JetStream, dropped the second.
      expect((await eventsOf(jsm, catalog, "ORDERS", orderId)).map((e) => e.id)).toEqual([id, id]);
      expect(await names(orderId)).toEqual(["inventory.reserved"]);
      expect(await stock(sku)).toEqual({ sku, available: 7, reserved: 3 });

      const releaseId = newEventId();
      const release = { orderId, reason: "order cancelled: declined" };
      await send("inventory.release.requested", release, { id: releaseId });
      await send("inventory.release.requested", release, { id: releaseId, msgId: `${releaseId}-again` });
      expect(await names(orderId)).toEqual(["inventory.reserved", "inventory.released"]);
      expect(await stock(sku)).toEqual({ sku, available: 10, reserved: 0 });
    });
  });

  describe("the saga's requests", () => {
    it("release: once, the stock comes back; a commit after the release does nothing", async () => {
      const sku = `r-${newEventId()}`;
      await put(sku, 4);
      const orderId = newEventId();
      await send("order.created", order(orderId, [{ sku, quantity: 3 }]));
      expect(await names(orderId)).toEqual(["inventory.reserved"]);
      expect(await stock(sku)).toMatchObject({ available: 1, reserved: 3 });

      // Consumers work in parallel: each step waits for the one before, as the saga would. The two
      // requests (distinct event ids) race each other: either may be the one that releases.
      const release = { orderId, reason: "order cancelled: declined" };
      const releaseIds = [
        await send("inventory.release.requested", release),
        await send("inventory.release.requested", release),
      ];
      expect(await names(orderId)).toEqual(["inventory.reserved", "inventory.released"]);
      await send("order.approve.requested", { orderId });
      const events = await published(orderId);
      expect(events.map((e) => e.name)).toEqual(["inventory.reserved", "inventory.released"]);
      expect(releaseIds).toContain(events[1]!.causationId);
      expect(events[1]!.data).toEqual({ orderId, items: [{ sku, quantity: 3 }] });
      expect(await stock(sku)).toEqual({ sku, available: 4, reserved: 0 });
    });

    it("commit: once, the stock leaves for good; a release after the commit does nothing", async () => {
      const sku = `c-${newEventId()}`;
      await put(sku, 4);
      const orderId = newEventId();
      await send("order.created", order(orderId, [{ sku, quantity: 3 }]));
      expect(await names(orderId)).toEqual(["inventory.reserved"]);
      await send("order.approve.requested", { orderId });
      await send("order.approve.requested", { orderId });
      expect(await names(orderId)).toEqual(["inventory.reserved", "inventory.committed"]);
      await send("inventory.release.requested", { orderId, reason: "too late" });
      expect(await names(orderId)).toEqual(["inventory.reserved", "inventory.committed"]);
      expect(await stock(sku)).toEqual({ sku, available: 1, reserved: 0 });
      // Restocking afterwards sets what is available; nothing is owed to the committed order.
      expect(await put(sku, 10)).toEqual({ sku, available: 10, reserved: 0 });
    });

    it("an approval of an order inventory never saw does nothing and dead-letters nothing", async () => {
      const before = await dlq();
      const orderId = newEventId();
      await send("order.approve.requested", { orderId });
      expect(await names(orderId)).toEqual([]);
      expect(await dlq()).toBe(before);
    });

    it("a release before its order: nothing published, then the order is rejected and reserves nothing", async () => {
      const before = await dlq();
      const sku = `early-${newEventId()}`;
      await put(sku, 5);
      const orderId = newEventId();
      await send("inventory.release.requested", { orderId, reason: "order cancelled: timed out" });
      await send("inventory.release.requested", { orderId, reason: "order cancelled: timed out" });
      expect(await names(orderId)).toEqual([]);
      const tombstones = () =>
        svc.db.selectFrom("tombstones").select("reason").where("order_id", "=", orderId).execute();
      expect(await tombstones()).toEqual([{ reason: "order cancelled: timed out" }]);

      const createdId = await send("order.created", order(orderId, [{ sku, quantity: 2 }]));
      const events = await published(orderId);
      expect(events.map((e) => [e.name, e.causationId, e.data])).toEqual([
        [
          "inventory.rejected",
          createdId,
          {
            orderId,
            sku,
            reason: "release requested before the order was reserved (order cancelled: timed out)",
          },
        ],
      ]);
      expect(await stock(sku)).toEqual({ sku, available: 5, reserved: 0 });
      expect(await tombstones()).toEqual([]);
      await send("inventory.release.requested", { orderId, reason: "again" });
      expect(await names(orderId)).toEqual(["inventory.rejected"]);
      expect(await dlq()).toBe(before);
    });
  });

  describe("concurrency", () => {
    it("twenty orders racing for five units: exactly five reserve, available never below zero", async () => {
      const sku = `last-${newEventId()}`;
      await put(sku, 5);
      const retried = retries();
      const ids = Array.from({ length: 20 }, () => newEventId());
      // Watch the stock while the orders race.
      const seen: number[] = [];
      let racing = true;
      const watcher = (async () => {
        while (racing) seen.push((await stock(sku)).available as number);
      })();
      await Promise.all(ids.map((id) => send("order.created", order(id, [{ sku, quantity: 1 }]))));
      await settle();
      racing = false;
      await watcher;
      const answers = (await Promise.all(ids.map((id) => eventsOf(jsm, catalog, "INVENTORY", id)))).map(
        (es) => es.map((e) => e.name),
      );
      expect(answers.filter((a) => a.length === 1 && a[0] === "inventory.reserved")).toHaveLength(5);
      expect(answers.filter((a) => a.length === 1 && a[0] === "inventory.rejected")).toHaveLength(15);
      expect(await stock(sku)).toEqual({ sku, available: 0, reserved: 5 });
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
      // The losers waited on the row lock and saw the stock gone: nobody failed and retried.
      expect(retries()).toBe(retried);
    });

    it("releases racing their own orders: whichever comes first, nothing stays reserved", async () => {
      const sku = `racing-${newEventId()}`;
      await put(sku, 100);
      const before = await dlq();
      const retried = retries();
      const ids = Array.from({ length: 20 }, () => newEventId());
      await Promise.all(
        ids.flatMap((id) => [
          send("order.created", order(id, [{ sku, quantity: 2 }])),
          send("inventory.release.requested", { orderId: id, reason: "order cancelled: raced" }),
        ]),
      );
      await settle();
      for (const id of ids) {
        const answer = (await eventsOf(jsm, catalog, "INVENTORY", id)).map((e) => e.name);
        expect([["inventory.reserved", "inventory.released"], ["inventory.rejected"]]).toContainEqual(answer);
      }
      expect(await stock(sku)).toEqual({ sku, available: 100, reserved: 0 });
      expect(await dlq()).toBe(before);
      expect(retries()).toBe(retried);
    });

    it("orders over the same SKUs in opposite line orders, in parallel: no deadlock, stock conserved", async () => {
      const skus = ["x", "y", "z"].map((s) => `${s}-${newEventId()}`);
      for (const s of skus) await put(s, 12);
      const before = await dlq();
      const retried = retries();
      const orders = Array.from({ length: 40 }, (_, i) => ({
        id: newEventId(),
        lines: (i % 2 ? [...skus].reverse() : [...skus.slice(1), skus[0]!]).map((sku, j) => ({
          sku,
          quantity: 1 + ((i + j) % 2),
        })),
      }));
      await Promise.all(orders.map((o) => send("order.created", order(o.id, o.lines))));
      await settle();
      const reservedBy = new Map(skus.map((s) => [s, 0]));
      let reservedOrders = 0;
      for (const o of orders) {
        const es = await eventsOf(jsm, catalog, "INVENTORY", o.id);
        expect(es.map((e) => e.name)).toHaveLength(1);
        if (es[0]!.name !== "inventory.reserved") continue;
        reservedOrders++;
        for (const l of es[0]!.data.items as Line[])
          reservedBy.set(l.sku, reservedBy.get(l.sku)! + l.quantity);
      }
      expect(reservedOrders).toBeGreaterThan(0);
      expect(reservedOrders).toBeLessThan(orders.length);
      for (const s of skus) {
        const level = await stock(s);
        expect(level.reserved).toBe(reservedBy.get(s));
        expect((level.available as number) + (level.reserved as number)).toBe(12);
      }
      expect(await dlq()).toBe(before);
      // A deadlock would show as a failed, retried handler.
      expect(retries()).toBe(retried);
    });
  });

  describe("bad input", () => {
    it("an undecodable order.created is dead-lettered; the service goes on with the next one", async () => {
      const before = await dlq();
      await js.publish("orders.order.created", new TextEncoder().encode("{not json"), {
        msgID: newEventId(),
      });
      await waitFor("dead letter", async () => (await dlq()) === before + 1);
      const sku = `after-${newEventId()}`;
      await put(sku, 1);
      const orderId = newEventId();
      await send("order.created", order(orderId, [{ sku, quantity: 1 }]));
      expect(await names(orderId)).toEqual(["inventory.reserved"]);
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    });
  });

  describe("rebuild", () => {
    it("folding the published INVENTORY events into an empty database reproduces the tables", async () => {
      await settle();
      const events: CloudEventOf<InventoryEvents>[] = [];
      const { state } = await jsm.streams.info("INVENTORY");
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage("INVENTORY", { seq });
        const d = inventoryEvents.decode({ subject: m!.subject, headers: m!.header, data: m!.data });
        if (!d.ok) throw d.error;
        events.push(d.event);
      }
      expect(new Set(events.map((e) => e.name))).toEqual(
        new Set([
          "stock.set",
          "inventory.reserved",
          "inventory.rejected",
          "inventory.released",
          "inventory.committed",
        ]),
      );

      await using fresh = await testDatabase("inventory_rebuild");
      const rebuilt = new Kysely<InventoryDb>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url, max: 1 }) }),
      });
      try {
        await migrate(rebuilt, definition.migrations);
        await rebuilt.transaction().execute(async (trx) => {
          for (const e of events) await definition.projection!.apply(trx, e);
        });
        // Tombstones are not published (see the README): every other table is the fold of the stream.
        const tables = async (k: Kysely<InventoryDb>) => [
          await k.selectFrom("stock").selectAll().orderBy("sku").execute(),
          await k.selectFrom("reservations").selectAll().orderBy("order_id").orderBy("sku").execute(),
          await k.selectFrom("rejections").selectAll().orderBy("order_id").execute(),
        ];
        const live = await tables(svc.db);
        expect(live[1]!.length).toBeGreaterThan(0);
        expect(await tables(rebuilt)).toEqual(live);
      } finally {
        await rebuilt.destroy();
      }
    });
  });
});

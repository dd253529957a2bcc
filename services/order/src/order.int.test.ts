import { catalog } from "@orderflow/contracts";
import { request } from "node:http";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import {
  eventsOf,
  publish,
  testDatabase,
  testNats,
  waitFor,
  type TestDatabase,
  type TestNats,
} from "@orderflow/testing";
import { startService, type RunningService } from "@orderflow/host";
import { sql, type Kysely } from "kysely";
import {
  createOutbox,
  openDatabase,
  rebuildDatabase,
  type AnyDb,
  type RebuildOptions,
} from "@orderflow/outbox";
import type { CreateOrderRequest } from "./create-order.js";
import { placeOrder } from "./order-store.js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrderDb } from "./migrations.js";
import type { OrderView } from "./order-store.js";
import { definition } from "./service.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const apple = { sku: "sku-apple", quantity: 2, unitPriceCents: 150 };
const pear = { sku: "sku-pear", quantity: 3, unitPriceCents: 99 };
const TOKEN = "order-int-test-operator-token";
const operator = { authorization: `Bearer ${TOKEN}` };

describe("order service over real NATS and PostgreSQL", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let svc: RunningService<OrderDb>;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const logs: { level: number; msg: string; orderId?: string }[] = [];

  beforeAll(async () => {
    nats = await testNats();
    database = await testDatabase("order");
    svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        ORDER_DATABASE_URL: database.url,
        ORDER_PORT: "0",
        LOG_LEVEL: "silent",
        RELAY_POLL_MS: "100",
        OPERATOR_TOKEN: TOKEN,
      },
      logger: pino(
        { level: "warn" },
        { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
      ),
    });
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    for (const [sku, unitPriceCents] of [
      [apple.sku, apple.unitPriceCents],
      [pear.sku, pear.unitPriceCents],
      ["sku-\u{10FFFF}", 150],
    ] as const)
      expect((await putPrice(sku, { unitPriceCents }, operator)).status).toBe(200);
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await svc?.stop();
    await nats?.[Symbol.asyncDispose]();
    await database?.[Symbol.asyncDispose]();
  }, 30_000);

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${svc.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> };
  };
  const putPrice = async (sku: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${svc.url}/prices/${encodeURIComponent(sku)}`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> };
  };
  const getPrice = async (sku: string) => {
    const r = await fetch(`${svc.url}/prices/${encodeURIComponent(sku)}`);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const ordersStored = async () =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM orders`.execute(svc.db)).rows[0]!.n);
  const get = async (orderId: string) => {
    const r = await fetch(`${svc.url}/orders/${orderId}`);
    return { status: r.status, body: (await r.json()) as OrderView & { error?: string } };
  };
  const place = async (items = [apple], customerId = "alice") => {
    const r = await post({ customerId, items });
    expect(r.status).toBe(201);
    return r.body.orderId as string;
  };
  const outboxRows = async () =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM orderflow_outbox`.execute(svc.db)).rows[0]!.n);
  /** Waits until the service consumed everything on SAGA and published its whole outbox. */
  const settle = () =>
    waitFor("order service caught up and published", async () => {
      const c = await jsm.consumers.info("SAGA", "order");
      if (c.num_pending + c.num_ack_pending > 0) return false;
      const r = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM orderflow_outbox WHERE published_at IS NULL`.execute(svc.db);
      return Number(r.rows[0]!.n) === 0;
    });
  const streamMessages = async () => (await jsm.streams.info("ORDERS")).state.messages;
  const orderEvents = async (orderId: string) => {
    await settle();
    return eventsOf(jsm, catalog, "ORDERS", orderId);
  };
  const statusIs = (orderId: string, status: string) =>
    waitFor(`order ${orderId} ${status}`, async () => {
      const r = await get(orderId);
      return r.body.status === status ? r.body : undefined;
    });

  describe("POST /orders", () => {
    it("creates the order PENDING and publishes order.created (v2) with its total", async () => {
      const r = await post({ customerId: "alice", items: [apple, pear] });
      expect(r.status).toBe(201);
      const orderId = r.body.orderId as string;
      expect(r.body).toEqual({ orderId, status: "PENDING" });
      expect(orderId).toMatch(UUID_V7);

      const events = await orderEvents(orderId);
      expect(events.map((e) => e.name)).toEqual(["order.created"]);
      expect(events[0]).toMatchObject({
        subject: "orders.order.created",
        correlationId: orderId,
        data: {
          orderId,
          customerId: "alice",
          items: [apple, pear],
          totalCents: 2 * 150 + 3 * 99,
          currency: "USD",
        },
      });

      const o = await get(orderId);
      expect(o.status).toBe(200);
      expect(o.body).toEqual({
        orderId,
        customerId: "alice",
        status: "PENDING",
        items: [apple, pear],
        totalCents: 597,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        updatedAt: o.body.createdAt,
      });
      expect("reason" in o.body).toBe(false);
    });

    it("the same Idempotency-Key returns the same order and enqueues nothing more", async () => {
      const key = `key-${newEventId()}`;
      const before = await outboxRows();
      const first = await post({ customerId: "bob", items: [apple] }, { "Idempotency-Key": key });
      expect(first.status).toBe(201);
      // Formatting and key order do not make a different request.
      const again = await post(
        `{"items":[{"unitPriceCents":150,"quantity":2,"sku":"sku-apple"}],  "customerId":"bob"}`,
        { "Idempotency-Key": key },
      );
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(await outboxRows()).toBe(before + 1);
      expect((await orderEvents(first.body.orderId as string)).map((e) => e.name)).toEqual(["order.created"]);

      // Another key, same body: another order.
      const other = await post({ customerId: "bob", items: [apple] }, { "Idempotency-Key": `${key}-2` });
      expect(other.body.orderId).not.toBe(first.body.orderId);
    });

    it("the same Idempotency-Key with another body → 422, nothing created", async () => {
      const key = `key-${newEventId()}`;
      const first = await post({ customerId: "carol", items: [apple] }, { "Idempotency-Key": key });
      const before = await outboxRows();
      const r = await post({ customerId: "carol", items: [pear] }, { "Idempotency-Key": key });
      expect(r.status).toBe(422);
      expect(r.body.error).toMatch(/Idempotency-Key/);
      expect(await outboxRows()).toBe(before);
      expect((await get(first.body.orderId as string)).body.items).toEqual([apple]);
    });

    it("a __proto__ key in the body is dropped, not a malformed-JSON error", async () => {
      const r = await post(
        `{"__proto__":{"polluted":1},"customerId":"frank","items":[${JSON.stringify(apple)}]}`,
      );
      expect(r.status).toBe(201);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it("an Idempotency-Key sent twice → 400 naming it, nothing created", async () => {
      const before = await outboxRows();
      const body = JSON.stringify({ customerId: "erin", items: [apple] });
      const status = await new Promise<number>((resolve, reject) => {
        const r = request(`${svc.url}/orders`, {
          method: "POST",
          // Two header lines (fetch would join them into one).
          headers: { "content-type": "application/json", "Idempotency-Key": ["a", "b"] },
        });
        r.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on("error", reject);
        r.end(body);
      });
      expect(status).toBe(400);
      expect(await outboxRows()).toBe(before);
    });

    it("concurrent requests with one Idempotency-Key create one order", async () => {
      const key = `key-${newEventId()}`;
      const before = await outboxRows();
      const rs = await Promise.all(
        Array.from({ length: 12 }, () =>
          post({ customerId: "dave", items: [pear] }, { "Idempotency-Key": key }),
        ),
      );
      expect(rs.map((r) => r.status)).toEqual(Array(12).fill(201));
      expect(new Set(rs.map((r) => r.body.orderId)).size).toBe(1);
      expect(await outboxRows()).toBe(before + 1);
      const n = await svc.db
        .selectFrom("orders")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("customer_id", "=", "dave")
        .executeTakeFirstOrThrow();
      expect(Number(n.n)).toBe(1);
    });

    it.each([
      [{ items: [apple] }, ["customerId"]],
      [{ customerId: "", items: [apple] }, ["customerId"]],
      [{ customerId: "alice", items: [] }, ["items"]],
      [{ customerId: "alice" }, ["items"]],
      [{ customerId: "alice", items: Array(101).fill(apple) }, ["items"]],
      [{ customerId: "alice", items: [{ ...apple, quantity: 0 }] }, ["items.0.quantity"]],
      [{ customerId: "alice", items: [apple, { ...pear, unitPriceCents: -5 }] }, ["items.1.unitPriceCents"]],
      [{ customerId: "alice", items: [{ ...apple, sku: "s".repeat(65) }] }, ["items.0.sku"]],
      [{ customerId: "x\u0000y", items: [apple] }, ["customerId"]],
      [{ customerId: "alice", items: [apple, { ...pear, sku: "sku\u0000pear" }] }, ["items.1.sku"]],
      [{ customerId: "\ud800", items: [apple] }, ["customerId"]],
      [{ customerId: "alice\udc00", items: [{ ...apple, sku: "\udbff" }] }, ["customerId", "items.0.sku"]],
      [{ customerId: 7, items: [{ quantity: 1.5 }] }, ["customerId", "items.0.sku", "items.0.quantity"]],
    ])("400 for %j, naming %j", async (body, paths) => {
      const before = await outboxRows();
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.body.error).toBeTypeOf("string");
      const issues = r.body.issues as { path: string; message: string }[];
      expect(issues.map((i) => i.path)).toEqual(paths);
      for (const i of issues) expect(i.message).toBeTypeOf("string");
      expect(await outboxRows()).toBe(before);
    });

    it("400 for malformed JSON and for an empty Idempotency-Key; 413 for a body over the limit", async () => {
      const malformed = await post(`{"customerId": "alice", "items": [`);
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toMatch(/malformed JSON/);

      const emptyKey = await post({ customerId: "alice", items: [apple] }, { "Idempotency-Key": "" });
      expect(emptyKey.status).toBe(400);
      expect((emptyKey.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["idempotency-key"]);

      const huge = await post({ customerId: "alice", items: [apple], padding: "x".repeat(300 * 1024) });
      expect(huge.status).toBe(413);
      expect((huge.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["body"]);
    });

    it("accepts text outside the Basic Multilingual Plane (surrogate pairs) and stores it as sent", async () => {
      const customerId = "cust-\u{1F600}";
      const sku = "sku-\u{10FFFF}";
      const orderId = await place([{ ...apple, sku }], customerId);
      const o = (await get(orderId)).body;
      expect(o.customerId).toBe(customerId);
      expect(o.items.map((i) => i.sku)).toEqual([sku]);
    });
  });

  describe("the price list", () => {
    it("PUT /prices/:sku needs the operator token: none → 401, a wrong one → 403, the price unchanged", async () => {
      expect((await getPrice("sku-apple")).body).toEqual({ sku: "sku-apple", unitPriceCents: 150 });
      const none = await putPrice("sku-apple", { unitPriceCents: 1 });
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(none.body).toEqual({ error: expect.any(String) as string, issues: [] });
      const wrong = await putPrice(
        "sku-apple",
        { unitPriceCents: 1 },
        { authorization: `Bearer ${TOKEN}-not` },
      );
      expect(wrong.status).toBe(403);
      expect(wrong.body).toEqual({ error: expect.any(String) as string, issues: [] });
      expect((await getPrice("sku-apple")).body).toEqual({ sku: "sku-apple", unitPriceCents: 150 });
    });

    it("PUT sets and changes a price; GET answers it, 404 for an unknown sku; 400 naming a bad field", async () => {
      expect((await getPrice("sku-kiwi")).status).toBe(404);
      expect((await putPrice("sku-kiwi", { unitPriceCents: 40 }, operator)).body).toEqual({
        sku: "sku-kiwi",
        unitPriceCents: 40,
      });
      expect((await putPrice("sku-kiwi", { unitPriceCents: 45 }, operator)).status).toBe(200);
      expect((await getPrice("sku-kiwi")).body).toEqual({ sku: "sku-kiwi", unitPriceCents: 45 });
      for (const body of [{}, { unitPriceCents: -1 }, { unitPriceCents: 1.5 }, { unitPriceCents: "45" }]) {
        const r = await putPrice("sku-kiwi", body, operator);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["unitPriceCents"]);
      }
      expect((await getPrice("sku-kiwi")).body).toEqual({ sku: "sku-kiwi", unitPriceCents: 45 });
    });

    it("POST /orders without prices takes them from the list; order.created carries them and the total", async () => {
      const orderId = await place([
        { sku: "sku-apple", quantity: 2 },
        { sku: "sku-pear", quantity: 3 },
      ] as (typeof apple)[]);
      const [created] = await orderEvents(orderId);
      expect(created!.data).toMatchObject({ items: [apple, pear], totalCents: 597 });
      expect((await get(orderId)).body).toMatchObject({ items: [apple, pear], totalCents: 597 });
    });

    it("a stated price that is not the listed one → 409 naming the line; no order, no event", async () => {
      const [orders, outbox, stream] = [await ordersStored(), await outboxRows(), await streamMessages()];
      const r = await post({ customerId: "mallory", items: [apple, { ...pear, unitPriceCents: 1 }] });
      expect(r.status).toBe(409);
      expect(r.body.issues).toEqual([
        { path: "items.1.unitPriceCents", message: "sku-pear is listed at 99, not 1" },
      ]);
      // Also with an idempotency key, which stays unused.
      const keyed = await post(
        { customerId: "mallory", items: [{ ...apple, unitPriceCents: 0 }] },
        { "Idempotency-Key": `k-${newEventId()}` },
      );
      expect(keyed.status).toBe(409);
      await settle();
      expect([await ordersStored(), await outboxRows(), await streamMessages()]).toEqual([
        orders,
        outbox,
        stream,
      ]);
    });

    it("an unknown sku → 400 naming items.N.sku, nothing created", async () => {
      const [orders, outbox] = [await ordersStored(), await outboxRows()];
      const r = await post({ customerId: "alice", items: [apple, { sku: "sku-ghost", quantity: 1 }] });
      expect(r.status).toBe(400);
      expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["items.1.sku"]);
      expect([await ordersStored(), await outboxRows()]).toEqual([orders, outbox]);
    });

    it("a retry with its Idempotency-Key after a price change replays the order instead of a 409", async () => {
      await putPrice("sku-fig", { unitPriceCents: 10 }, operator);
      const key = `key-${newEventId()}`;
      const body = { customerId: "fig-fan", items: [{ sku: "sku-fig", quantity: 1, unitPriceCents: 10 }] };
      const first = await post(body, { "Idempotency-Key": key });
      expect(first.status).toBe(201);
      await putPrice("sku-fig", { unitPriceCents: 12 }, operator);
      const again = await post(body, { "Idempotency-Key": key });
      expect(again.status).toBe(201);
      expect(again.body.orderId).toBe(first.body.orderId);
      expect((await post(body)).status).toBe(409);
    });
  });

  describe("GET /orders/:orderId", () => {
    it("404 with an error for an unknown id, a non-UUID id and an id that is almost a UUID", async () => {
      for (const id of [
        newEventId(),
        "not-an-order",
        "0190f3b4-2c1e-7e5a-9b1d-3f0c2a4b5c6",
        "'; DROP TABLE orders; --",
      ]) {
        const r = await get(encodeURIComponent(id));
        expect(r.status, id).toBe(404);
        expect(r.body.error, id).toMatch(/unknown order/);
      }
    });

    it("404 for an id of any length, also past the router's default parameter limit", async () => {
      for (const length of [65, 101, 8000]) {
        const r = await get("o".repeat(length));
        expect(r.status, String(length)).toBe(404);
        expect(r.body.error).toMatch(/unknown order/);
      }
    });

    it("400 naming orderId for a NUL in the id; 400 naming the url for bad percent-encoding", async () => {
      const nul = await get("a%00b");
      expect(nul.status).toBe(400);
      expect((nul.body as unknown as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
        "orderId",
      ]);
      const bad = await get("%FF");
      expect(bad.status).toBe(400);
      expect((bad.body as unknown as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
        "url",
      ]);
    });
  });

  describe("the saga's decisions", () => {
    it("order.approve.requested → CONFIRMED and order.confirmed; later decisions change nothing", async () => {
      const orderId = await place([apple, pear], "erin");
      const approveId = await publish(
        js,
        catalog,
        "order.approve.requested",
        { orderId },
        { correlationId: orderId, source: "/orderflow/saga" },
      );
      const o = await statusIs(orderId, "CONFIRMED");
      expect("reason" in o).toBe(false);
      expect(Date.parse(o.updatedAt)).toBeGreaterThanOrEqual(Date.parse(o.createdAt));

      let events = await orderEvents(orderId);
      expect(events.map((e) => e.name)).toEqual(["order.created", "order.confirmed"]);
      expect(events[1]).toMatchObject({
        data: { orderId, customerId: "erin", totalCents: 597 },
        correlationId: orderId,
        causationId: approveId,
      });

      // A duplicate approval (new event id) and a cancel after the confirmation: ignored.
      await publish(js, catalog, "order.approve.requested", { orderId }, { correlationId: orderId });
      await publish(
        js,
        catalog,
        "order.cancel.requested",
        { orderId, reason: "too late" },
        { correlationId: orderId },
      );
      events = await orderEvents(orderId);
      expect(events.map((e) => e.name)).toEqual(["order.created", "order.confirmed"]);
      expect((await get(orderId)).body.status).toBe("CONFIRMED");
      // The conflicting decision is logged as a warning; the repeated one is not.
      expect(logs.filter((l) => l.orderId === orderId).map((l) => [l.level, l.msg])).toEqual([
        [40, "order.cancel.requested ignored: order already CONFIRMED"],
      ]);
    });

    it("order.cancel.requested → CANCELLED with the reason and order.cancelled", async () => {
      const orderId = await place([apple], "frank");
      const reason = "out of stock: insufficient stock for sku-apple: requested 2, available 1";
      await publish(js, catalog, "order.cancel.requested", { orderId, reason }, { correlationId: orderId });
      const o = await statusIs(orderId, "CANCELLED");
      expect(o.reason).toBe(reason);
      const events = await orderEvents(orderId);
      expect(events.map((e) => e.name)).toEqual(["order.created", "order.cancelled"]);
      expect(events[1]!.data).toEqual({ orderId, customerId: "frank", reason });

      // An approval after the cancellation is ignored.
      await publish(js, catalog, "order.approve.requested", { orderId }, { correlationId: orderId });
      expect((await orderEvents(orderId)).map((e) => e.name)).toEqual(["order.created", "order.cancelled"]);
      expect((await get(orderId)).body).toMatchObject({ status: "CANCELLED", reason });
    });

    it("a decision about an order this service never took is dead-lettered, not retried", async () => {
      const before = (await jsm.streams.info("DLQ")).state.messages;
      const unknown = newEventId();
      await publish(js, catalog, "order.approve.requested", { orderId: unknown }, { correlationId: unknown });
      await waitFor("dead letter", async () => (await jsm.streams.info("DLQ")).state.messages === before + 1);
      const m = await jsm.streams.getMessage("DLQ", { seq: (await jsm.streams.info("DLQ")).state.last_seq });
      expect(m?.header.get("Orderflow-Dlq-Code")).toBe("PERMANENT");
      expect(m?.header.get("Orderflow-Dlq-Reason")).toContain(`unknown order ${unknown}`);
    });
  });

  describe("rebuild", () => {
    it("rebuildDatabase folds ORDERS into orders, idempotency keys and prices identical to the live ones; keys answer as before", async () => {
      // Two outcomes, a keyed order and its replay, a price change: everything the projection restores.
      const key = `key-${newEventId()}`;
      const keyed = await post({ customerId: "gina", items: [pear] }, { "Idempotency-Key": key });
      expect(keyed.status).toBe(201);
      expect((await putPrice("sku-rebuilt", { unitPriceCents: 77 }, operator)).status).toBe(200);
      expect((await putPrice("sku-rebuilt", { unitPriceCents: 78 }, operator)).status).toBe(200);
      const cancelled = await place([apple], "hank");
      await publish(
        js,
        catalog,
        "order.cancel.requested",
        { orderId: cancelled, reason: "payment declined: insufficient funds" },
        { correlationId: cancelled },
      );
      const confirmed = await place([pear], "hank");
      await publish(
        js,
        catalog,
        "order.approve.requested",
        { orderId: confirmed },
        { correlationId: confirmed },
      );
      await statusIs(cancelled, "CANCELLED");
      await statusIs(confirmed, "CONFIRMED");
      await settle();

      await using fresh = await testDatabase("order_rebuild");
      const result = await rebuildDatabase({
        connectionString: fresh.url,
        migrations: definition.migrations,
        service: "order",
        source: definition.source!,
        stream: "ORDERS",
        apply: definition.projection!.apply as RebuildOptions["apply"],
        catalog: definition.publishes,
        js,
        jsm,
      });
      expect(result.applied).toBe(await streamMessages());
      await using rebuilt = openDatabase({ connectionString: fresh.url, max: 1 });
      const tables = async (k: AnyDb) => [
        (await sql`SELECT * FROM orders ORDER BY id`.execute(k)).rows,
        (await sql`SELECT * FROM idempotency_keys ORDER BY key`.execute(k)).rows,
        (await sql`SELECT * FROM prices ORDER BY sku`.execute(k)).rows,
        (await sql`SELECT event_id FROM orderflow_outbox ORDER BY event_id`.execute(k)).rows,
      ];
      const live = await tables(svc.db);
      const statuses = new Set((live[0] as { status: string }[]).map((o) => o.status));
      expect(statuses).toEqual(new Set(["PENDING", "CONFIRMED", "CANCELLED"]));
      expect(live[1]!.length).toBeGreaterThan(0);
      expect(await tables(rebuilt)).toEqual(live);
      // The decisions applied are in the rebuilt inbox: their redelivery is skipped.
      const inbox = (k: AnyDb) =>
        sql<{ event_id: string }>`SELECT event_id FROM orderflow_inbox ORDER BY event_id`.execute(k);
      const liveInbox = new Set((await inbox(svc.db)).rows.map((r) => r.event_id));
      const rebuiltInbox = (await inbox(rebuilt)).rows.map((r) => r.event_id);
      expect(rebuiltInbox.length).toBeGreaterThan(0);
      for (const id of rebuiltInbox) expect(liveInbox.has(id)).toBe(true);

      // The rebuilt keys answer as the live ones: same key and body → the same order, another body → refused.
      const outbox = createOutbox({ catalog: definition.publishes, source: definition.source! });
      const again = (body: CreateOrderRequest) =>
        placeOrder(rebuilt as Kysely<OrderDb>, body, {
          outbox,
          now: () => new Date(),
          newId: newEventId,
          idempotencyKey: key,
        });
      expect(await again({ customerId: "gina", items: [pear] })).toEqual({
        kind: "replayed",
        orderId: keyed.body.orderId,
        status: "PENDING",
      });
      expect(await again({ customerId: "gina", items: [apple] })).toEqual({ kind: "key-reused" });
    });
  });
});

describe("order service limits and closed operator routes", () => {
  it("no OPERATOR_TOKEN: PUT /prices → 403 naming it; a burst over RATE_LIMIT_PER_MINUTE → 429 with Retry-After after the valid orders", async () => {
    await using nats = await testNats();
    await using database = await testDatabase("order_limits");
    const svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        ORDER_DATABASE_URL: database.url,
        ORDER_PORT: "0",
        RATE_LIMIT_PER_MINUTE: "3",
      },
      logger: pino({ level: "silent" }),
    });
    try {
      const put = await fetch(`${svc.url}/prices/sku-apple`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: "Bearer anything-at-all-here" },
        body: JSON.stringify({ unitPriceCents: 1 }),
      });
      expect(put.status).toBe(403);
      expect(((await put.json()) as { error: string }).error).toMatch(/set OPERATOR_TOKEN/);
      expect((await fetch(`${svc.url}/prices/sku-apple`)).status).toBe(404);

      await svc.db.insertInto("prices").values({ sku: "sku-apple", unit_price_cents: 150 }).execute();
      const post = () =>
        fetch(`${svc.url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ customerId: "burst", items: [{ sku: "sku-apple", quantity: 1 }] }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post()).status);
      expect(statuses).toEqual([201, 201, 201]);
      const over = await Promise.all(Array.from({ length: 5 }, post));
      for (const r of over) {
        expect(r.status).toBe(429);
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(await r.json()).toEqual({ error: expect.stringMatching(/rate limit/i) as string, issues: [] });
      }
      const stored = await svc.db
        .selectFrom("orders")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .executeTakeFirstOrThrow();
      expect(Number(stored.n)).toBe(3);
      // Other routes are not limited.
      expect((await fetch(`${svc.url}/prices/sku-apple`)).status).toBe(200);
    } finally {
      await svc.stop();
    }
  }, 30_000);
});

import { billingEvents, type BillingEvents } from "@orderflow/contracts";
import type { CloudEventOf } from "@orderflow/events";
import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { newEventId } from "@orderflow/events";
import { encode, type EventData } from "@orderflow/contracts";
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
import type { BillingDb } from "./migrations.js";
import { definition } from "./service.js";

const order = (
  orderId: string,
  customerId: string,
  totalCents: number,
  currency = "USD",
): EventData<"order.created"> => ({
  orderId,
  customerId,
  items: [{ sku: "sku-apple", quantity: 1, unitPriceCents: totalCents }],
  totalCents,
  currency,
});

const TOKEN = "operator-token-for-int-tests";

describe("billing service over real NATS and PostgreSQL", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let svc: RunningService<BillingDb>;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const logs: { level: number; msg: string }[] = [];
  const retries = () => logs.filter((l) => l.msg === "handler failed; retrying").length;

  beforeAll(async () => {
    nats = await testNats();
    database = await testDatabase("billing");
    svc = await startService(definition, {
      env: {
        NATS_URL: nats.url,
        DATABASE_URL: process.env.DATABASE_URL,
        BILLING_DATABASE_URL: database.url,
        BILLING_PORT: "0",
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
  const balance = async (customerId: string) =>
    (await http("GET", `/accounts/${encodeURIComponent(customerId)}`)).body.balanceCents;
  const put = async (customerId: string, balanceCents: number) => {
    const r = await http("PUT", `/accounts/${customerId}`, { balanceCents });
    expect(r.status).toBe(200);
    return r.body;
  };
  const send = <N extends "order.created" | "payment.refund.requested">(
    name: N,
    data: EventData<N>,
    meta: { id?: string; msgId?: string } = {},
  ) => publish(js, catalog, name, data, { ...meta, correlationId: data.orderId });
  const customer = () => `cust-${newEventId()}`;
  const dlq = async () => (await jsm.streams.info("DLQ")).state.messages;
  /** Waits until billing consumed everything published to it and published its whole outbox. */
  const settle = () =>
    waitFor("billing caught up and published", async () => {
      for (const stream of ["ORDERS", "SAGA"]) {
        const c = await jsm.consumers.info(stream, "billing");
        if (c.num_pending + c.num_ack_pending > 0) return false;
      }
      const r = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM orderflow_outbox WHERE published_at IS NULL`.execute(svc.db);
      return Number(r.rows[0]!.n) === 0;
    });
  const published = async (aggregate: string): Promise<StoredEvent[]> => {
    await settle();
    return eventsOf(jsm, catalog, "BILLING", aggregate);
  };
  const names = async (aggregate: string) => (await published(aggregate)).map((e) => e.name);

  describe("PUT and GET /accounts/:customerId", () => {
    it("PUT needs the operator token: none or ill-formed → 401 + WWW-Authenticate, a wrong one → 403; nothing changes", async () => {
      expect((await http("PUT", "/accounts/cust-guarded", { balanceCents: 500 })).status).toBe(200);
      for (const auth of [null, "/accounts/cust-guarded", "Bearer", `Token ${TOKEN}`]) {
        const r = await http("PUT", "/accounts/cust-guarded", { balanceCents: 1 }, auth);
        expect(r.status, String(auth)).toBe(401);
        expect(r.wwwAuthenticate).toMatch(/^Bearer/);
        expect(r.body).toEqual({ error: expect.any(String) as string, issues: [] });
      }
      for (const auth of [
        `Bearer ${TOKEN}x`,
        "Bearer operator-token-for-int-test",
        `Bearer ${TOKEN.toUpperCase()}`,
      ]) {
        const r = await http("PUT", "/accounts/cust-guarded", { balanceCents: 1 }, auth);
        expect(r.status, auth).toBe(403);
        expect(r.body).toEqual({ error: "operator token rejected", issues: [] });
      }
      expect((await http("GET", "/accounts/cust-guarded")).body).toMatchObject({ balanceCents: 500 });
    });

    it("404 for an unknown customer; PUT opens or sets the balance, publishing once per change", async () => {
      const c = customer();
      expect(await http("GET", `/accounts/${c}`)).toEqual({
        status: 404,
        body: { error: `unknown customer ${c}` },
      });
      expect(await put(c, 1500)).toEqual({ customerId: c, balanceCents: 1500 });
      expect(await http("GET", `/accounts/${c}`)).toEqual({
        status: 200,
        body: { customerId: c, balanceCents: 1500 },
      });
      await put(c, 1500);
      expect(await put(c, Number.MAX_SAFE_INTEGER)).toEqual({
        customerId: c,
        balanceCents: Number.MAX_SAFE_INTEGER,
      });
      expect(await balance(c)).toBe(Number.MAX_SAFE_INTEGER);
      const events = await published(c);
      expect(events.map((e) => [e.name, e.subject, e.data])).toEqual([
        ["account.balance.set", "billing.account.balance-set", { customerId: c, balanceCents: 1500 }],
        [
          "account.balance.set",
          "billing.account.balance-set",
          { customerId: c, balanceCents: Number.MAX_SAFE_INTEGER },
        ],
      ]);
    });

    it.each([
      [{ balanceCents: -1 }],
      [{ balanceCents: 0.5 }],
      [{ balanceCents: "100" }],
      [{ balanceCents: Number.MAX_SAFE_INTEGER + 1 }],
      [{ balance: 100 }],
    ])("400 for %j naming balanceCents; nothing changes", async (body) => {
      await put("cust-bad-input", 300);
      const r = await http("PUT", "/accounts/cust-bad-input", body);
      expect(r.status).toBe(400);
      expect(r.body.error).toBeTypeOf("string");
      expect(new Set((r.body.issues as { path: string }[]).map((i) => i.path))).toEqual(
        new Set(["balanceCents"]),
      );
      expect(await balance("cust-bad-input")).toBe(300);
    });

    it("400 naming customerId for an id longer than orders allow, on PUT and GET; 400 for malformed JSON", async () => {
      const long = "c".repeat(65);
      for (const r of [
        await http("PUT", `/accounts/${long}`, { balanceCents: 1 }),
        await http("GET", `/accounts/${long}`),
      ]) {
        expect(r.status).toBe(400);
        expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["customerId"]);
      }
      expect((await http("PUT", "/accounts/x", `{"balanceCents": `)).status).toBe(400);
      expect((await http("GET", "/accounts/x")).status).toBe(404);
    });

    it.each(["c".repeat(101), "c".repeat(8000), "a%00b", "%00"])(
      "400 naming customerId for %s (too long or holding a NUL), on PUT and GET; nothing stored",
      async (customerId) => {
        for (const r of [
          await http("PUT", `/accounts/${customerId}`, { balanceCents: 1 }),
          await http("GET", `/accounts/${customerId}`),
        ]) {
          expect(r.status).toBe(400);
          expect(r.body.error).toBeTypeOf("string");
          expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["customerId"]);
        }
        expect((await http("GET", "/accounts/ab")).status).toBe(404);
      },
    );

    it("400 naming the url for bad percent-encoding in the customer id", async () => {
      for (const r of [
        await http("PUT", "/accounts/%FF", { balanceCents: 1 }),
        await http("GET", "/accounts/%E2%82"),
      ]) {
        expect(r.status).toBe(400);
        expect((r.body.issues as { path: string }[]).map((i) => i.path)).toEqual(["url"]);
      }
    });
  });

  describe("order.created", () => {
    it("charges the total when the balance covers it: payment.charged caused by the order", async () => {
      const c = customer();
      await put(c, 500);
      const orderId = newEventId();
      const createdId = await send("order.created", order(orderId, c, 200));
      const events = await published(orderId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        name: "payment.charged",
        subject: "billing.payment.charged",
        correlationId: orderId,
        causationId: createdId,
        data: { orderId, customerId: c, amountCents: 200 },
      });
      expect(await balance(c)).toBe(300);

      // Down to zero exactly.
      const second = newEventId();
      await send("order.created", order(second, c, 300));
      expect(await names(second)).toEqual(["payment.charged"]);
      expect(await balance(c)).toBe(0);
    });

    it("declines what the balance does not cover, a customer without an account, another currency", async () => {
      const c = customer();
      await put(c, 500);
      const [short, nobody, euro] = [newEventId(), newEventId(), newEventId()];
      const stranger = customer();
      await send("order.created", order(short, c, 501));
      await send("order.created", order(nobody, stranger, 1));
      await send("order.created", order(euro, c, 100, "EUR"));
      await settle();
      const reasons = async (id: string) =>
        (await eventsOf(jsm, catalog, "BILLING", id)).map((e) => [e.name, e.data.reason]);
      expect(await reasons(short)).toEqual([
        ["payment.declined", "insufficient funds: balance 500, total 501"],
      ]);
      expect(await reasons(nobody)).toEqual([["payment.declined", "insufficient funds: balance 0, total 1"]]);
      expect(await reasons(euro)).toEqual([["payment.declined", "unsupported currency EUR"]]);
      expect(await balance(c)).toBe(500);
      expect((await http("GET", `/accounts/${stranger}`)).status).toBe(404);

      // Topped up, the same order (a new event id) gets no second answer.
      await put(c, 10_000);
      await send("order.created", order(short, c, 501));
      expect(await names(short)).toEqual(["payment.declined"]);
      expect(await balance(c)).toBe(10_000);
    });
  });

  describe("payment.refund.requested", () => {
    it("refunds a charge once; the balance comes back", async () => {
      const c = customer();
      await put(c, 1000);
      const orderId = newEventId();
      await send("order.created", order(orderId, c, 400));
      expect(await names(orderId)).toEqual(["payment.charged"]);
      expect(await balance(c)).toBe(600);
      // Two requests (distinct event ids) race each other: either may be the one that refunds.
      const refund = { orderId, reason: "order cancelled: out of stock" };
      const refundIds = [
        await send("payment.refund.requested", refund),
        await send("payment.refund.requested", refund),
      ];
      const events = await published(orderId);
      expect(events.map((e) => e.name)).toEqual(["payment.charged", "payment.refunded"]);
      expect(refundIds).toContain(events[1]!.causationId);
      expect(events[1]!.data).toEqual({ orderId, customerId: c, amountCents: 400 });
      expect(await balance(c)).toBe(1000);
      await send("payment.refund.requested", { orderId, reason: "again" });
      expect(await names(orderId)).toEqual(["payment.charged", "payment.refunded"]);
      expect(await balance(c)).toBe(1000);
    });

    it("refunds nothing that was not charged: a declined order", async () => {
      const c = customer();
      await put(c, 100);
      const declined = newEventId();
      await send("order.created", order(declined, c, 200));
      expect(await names(declined)).toEqual(["payment.declined"]);
      const before = await dlq();
      await send("payment.refund.requested", { orderId: declined, reason: "order cancelled" });
      expect(await names(declined)).toEqual(["payment.declined"]);
      expect(await balance(c)).toBe(100);
      expect(await dlq()).toBe(before);
    });

    it("a refund before its order: nothing published, then the order is declined and charges nothing", async () => {
      const before = await dlq();
      const c = customer();
      await put(c, 1000);
      const orderId = newEventId();
      await send("payment.refund.requested", { orderId, reason: "order cancelled: timed out" });
      await send("payment.refund.requested", { orderId, reason: "order cancelled: timed out" });
      expect(await names(orderId)).toEqual([]);
      const tombstones = () =>
        svc.db.selectFrom("tombstones").select("reason").where("order_id", "=", orderId).execute();
      expect(await tombstones()).toEqual([{ reason: "order cancelled: timed out" }]);

      const createdId = await send("order.created", order(orderId, c, 300));
      const events = await published(orderId);
      expect(events.map((e) => [e.name, e.causationId, e.data])).toEqual([
        [
          "payment.declined",
          createdId,
          {
            orderId,
            customerId: c,
            amountCents: 300,
            reason: "refund requested before the order was charged (order cancelled: timed out)",
          },
        ],
      ]);
      expect(await balance(c)).toBe(1000);
      expect(await tombstones()).toEqual([]);
      await send("payment.refund.requested", { orderId, reason: "again" });
      expect(await names(orderId)).toEqual(["payment.declined"]);
      expect(await dlq()).toBe(before);
    });

    it("the same events delivered twice (same ce-id, JetStream de-duplication bypassed) charge and refund once", async () => {
      const c = customer();
      await put(c, 1000);
      const orderId = newEventId();
      const id = newEventId();
      await send("order.created", order(orderId, c, 400), { id });
      await send("order.created", order(orderId, c, 400), { id, msgId: `${id}-again` });
      await settle();
      // Both copies were stored and consumed: the inbox, not JetStream, dropped the second.
      expect((await eventsOf(jsm, catalog, "ORDERS", orderId)).map((e) => e.id)).toEqual([id, id]);
      expect(await names(orderId)).toEqual(["payment.charged"]);
      expect(await balance(c)).toBe(600);

      const refundId = newEventId();
      const refund = { orderId, reason: "order cancelled: out of stock" };
      await send("payment.refund.requested", refund, { id: refundId });
      await send("payment.refund.requested", refund, { id: refundId, msgId: `${refundId}-again` });
      expect(await names(orderId)).toEqual(["payment.charged", "payment.refunded"]);
      expect(await balance(c)).toBe(1000);
    });
  });

  describe("concurrency", () => {
    it("ten orders of 300 racing for a balance of 1000: exactly three charged, never below zero", async () => {
      const c = customer();
      await put(c, 1000);
      const retried = retries();
      const ids = Array.from({ length: 10 }, () => newEventId());
      // Watch the balance while the orders race.
      const seen: number[] = [];
      let racing = true;
      const watcher = (async () => {
        while (racing) seen.push((await balance(c)) as number);
      })();
      await Promise.all(ids.map((id) => send("order.created", order(id, c, 300))));
      await settle();
      racing = false;
      await watcher;
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
      const answers = await Promise.all(
        ids.map(async (id) => (await eventsOf(jsm, catalog, "BILLING", id)).map((e) => e.name)),
      );
      expect(answers.filter((a) => a.length === 1 && a[0] === "payment.charged")).toHaveLength(3);
      expect(answers.filter((a) => a.length === 1 && a[0] === "payment.declined")).toHaveLength(7);
      expect(await balance(c)).toBe(100);
      // The others waited on the account's row lock: nobody failed and retried.
      expect(retries()).toBe(retried);
    });

    it("refunds racing their own orders: whichever comes first, nothing stays charged", async () => {
      const c = customer();
      await put(c, 10_000);
      const before = await dlq();
      const retried = retries();
      const ids = Array.from({ length: 20 }, () => newEventId());
      await Promise.all(
        ids.flatMap((id) => [
          send("order.created", order(id, c, 100)),
          send("payment.refund.requested", { orderId: id, reason: "order cancelled: raced" }),
        ]),
      );
      await settle();
      for (const id of ids) {
        const answer = (await eventsOf(jsm, catalog, "BILLING", id)).map((e) => e.name);
        expect([["payment.charged", "payment.refunded"], ["payment.declined"]]).toContainEqual(answer);
      }
      expect(await balance(c)).toBe(10_000);
      expect(await dlq()).toBe(before);
      expect(retries()).toBe(retried);
    });
  });

  describe("bad input", () => {
    it("an event whose data breaks its schema is dead-lettered; the service goes on", async () => {
      const before = await dlq();
      const id = newEventId();
      const valid = encode(
        "payment.refund.requested",
        { orderId: "x", reason: "r" },
        { id, source: "/orderflow/saga", time: new Date(), correlationId: "x" },
      );
      const h = natsHeaders();
      for (const [k, v] of Object.entries(valid.headers)) h.set(k, v);
      await js.publish(valid.subject, new TextEncoder().encode(JSON.stringify({ orderId: "", reason: 7 })), {
        headers: h,
        msgID: id,
      });
      await waitFor("dead letter", async () => (await dlq()) === before + 1);

      const c = customer();
      await put(c, 50);
      const orderId = newEventId();
      await send("order.created", order(orderId, c, 50));
      expect(await names(orderId)).toEqual(["payment.charged"]);
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    });
  });

  describe("rebuild", () => {
    it("folding the published BILLING events into an empty database reproduces the tables", async () => {
      await settle();
      const events: CloudEventOf<BillingEvents>[] = [];
      const { state } = await jsm.streams.info("BILLING");
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage("BILLING", { seq });
        const d = billingEvents.decode({ subject: m!.subject, headers: m!.header, data: m!.data });
        if (!d.ok) throw d.error;
        events.push(d.event);
      }
      expect(new Set(events.map((e) => e.name))).toEqual(
        new Set(["account.balance.set", "payment.charged", "payment.declined", "payment.refunded"]),
      );

      await using fresh = await testDatabase("billing_rebuild");
      const rebuilt = new Kysely<BillingDb>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url, max: 1 }) }),
      });
      try {
        await migrate(rebuilt, definition.migrations);
        await rebuilt.transaction().execute(async (trx) => {
          for (const e of events) await definition.projection!.apply(trx, e);
        });
        // Tombstones are not published (see the README): every other table is the fold of the stream.
        const tables = async (k: Kysely<BillingDb>) => [
          await k.selectFrom("accounts").selectAll().orderBy("customer_id").execute(),
          await k.selectFrom("payments").selectAll().orderBy("order_id").execute(),
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

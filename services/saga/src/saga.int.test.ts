import type { EventName } from "@orderflow/contracts";
import { catalog } from "@orderflow/contracts";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { derivedEventId, newEventId } from "@orderflow/events";
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
import { startService, type RunningService } from "@orderflow/host";
import { sql } from "kysely";
import { openDatabase, rebuildDatabase, type AnyDb, type RebuildOptions } from "@orderflow/outbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SagaDb } from "./migrations.js";
import { definition } from "./service.js";
import type { SagaView } from "./saga-store.js";

interface Rig {
  readonly svc: RunningService<SagaDb>;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  close(): Promise<void>;
}

async function startSaga(env: Record<string, string> = {}): Promise<Rig> {
  const nats: TestNats = await testNats();
  const db: TestDatabase = await testDatabase("saga");
  const svc = await startService(definition, {
    env: {
      NATS_URL: nats.url,
      SAGA_DATABASE_URL: db.url,
      SAGA_PORT: "0",
      LOG_LEVEL: "silent",
      RELAY_POLL_MS: "100",
      ...env,
    },
  });
  const nc: NatsConnection = await connect({ servers: nats.url });
  return {
    svc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    async close() {
      await nc.close();
      await svc.stop();
      await nats[Symbol.asyncDispose]();
      await db[Symbol.asyncDispose]();
    },
  };
}

const created = (orderId: string): EventData<"order.created"> => ({
  orderId,
  customerId: "alice",
  items: [{ sku: "sku-rare", quantity: 5, unitPriceCents: 100 }],
  totalCents: 500,
  currency: "USD",
});
const reserved = (orderId: string) => ({ orderId, items: [{ sku: "sku-rare", quantity: 5 }] });
const rejected = (orderId: string) => ({
  orderId,
  sku: "sku-rare",
  reason: "insufficient stock for sku-rare: requested 5, available 1",
});
const charged = (orderId: string) => ({ orderId, customerId: "alice", amountCents: 500 });
const declined = (orderId: string) => ({
  orderId,
  customerId: "alice",
  amountCents: 500,
  reason: "insufficient funds",
});

function helpers(rig: () => Rig) {
  const send = <N extends EventName>(name: N, data: EventData<N>, id?: string) =>
    publish(rig().js, catalog, name, data, {
      correlationId: (data as { orderId: string }).orderId,
      ...(id ? { id } : {}),
    });
  const get = async (orderId: string) => {
    const r = await fetch(`${rig().svc.url}/sagas/${encodeURIComponent(orderId)}`);
    return { status: r.status, body: (await r.json()) as SagaView & { error?: string } };
  };
  const sagaIs = (orderId: string, predicate: (s: SagaView) => boolean, what: string) =>
    waitFor(`saga ${orderId} ${what}`, async () => {
      const r = await get(orderId);
      return r.status === 200 && predicate(r.body) ? r.body : undefined;
    });
  /** Waits until the saga consumed everything published and its outbox is empty. */
  const settle = async () => {
    const { jsm, svc } = rig();
    await waitFor("saga caught up and published", async () => {
      for (const stream of ["ORDERS", "INVENTORY", "BILLING"]) {
        const c = await jsm.consumers.info(stream, "saga");
        if (c.num_pending + c.num_ack_pending > 0) return false;
      }
      const r = await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM orderflow_outbox WHERE published_at IS NULL`.execute(svc.db);
      return Number(r.rows[0]!.n) === 0;
    });
  };
  /** What the saga sent about the order (its journal, saga.transitioned, left out). */
  const commands = async (orderId: string): Promise<StoredEvent[]> => {
    await settle();
    return (await eventsOf(rig().jsm, catalog, "SAGA", orderId)).filter(
      (e) => e.name !== "saga.transitioned",
    );
  };
  /**
   * Rebuilds the saga's database from SAGA into a fresh one and compares every table with the live
   * one; returns the live sagas' states and the history's inputs, for the caller to check the mix.
   */
  const rebuildMatches = async () => {
    const { svc, js, jsm } = rig();
    await settle();
    await using fresh = await testDatabase("saga_rebuild");
    const result = await rebuildDatabase({
      connectionString: fresh.url,
      migrations: definition.migrations,
      service: "saga",
      source: definition.source!,
      stream: "SAGA",
      apply: definition.projection!.apply as RebuildOptions["apply"],
      catalog: definition.publishes,
      js,
      jsm,
    });
    expect(result.applied).toBe((await jsm.streams.info("SAGA")).state.messages);
    await using rebuilt = openDatabase({ connectionString: fresh.url, max: 1 });
    const live = svc.db as unknown as AnyDb;
    const tables = async (k: AnyDb) => [
      (await sql`SELECT * FROM sagas ORDER BY order_id`.execute(k)).rows,
      (await sql`SELECT * FROM saga_history ORDER BY order_id, seq`.execute(k)).rows,
      (await sql`SELECT event_id FROM orderflow_outbox ORDER BY event_id`.execute(k)).rows,
    ];
    const before = await tables(live);
    expect(await tables(rebuilt)).toEqual(before);
    // Every input that moved a saga is in the rebuilt inbox (its redelivery is skipped); the live inbox
    // also holds inputs that taught the saga nothing.
    const inbox = async (k: AnyDb) =>
      (await sql<{ event_id: string }>`SELECT event_id FROM orderflow_inbox`.execute(k)).rows.map(
        (r) => r.event_id,
      );
    const liveInbox = new Set(await inbox(live));
    const rebuiltInbox = await inbox(rebuilt);
    expect(rebuiltInbox.length).toBeGreaterThan(0);
    expect(rebuiltInbox.filter((id) => !liveInbox.has(id))).toEqual([]);
    return {
      states: new Set((before[0] as { state: string }[]).map((r) => r.state)),
      inputs: new Set((before[1] as { event: string }[]).map((r) => r.event)),
    };
  };
  return { send, get, sagaIs, settle, commands, rebuildMatches };
}

describe("saga coordinator over real NATS and PostgreSQL", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startSaga();
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  }, 30_000);
  const { send, get, sagaIs, commands, rebuildMatches } = helpers(() => rig);

  it("reserved + charged → one order.approve.requested; order.confirmed → CONFIRMED", async () => {
    const id = newEventId();
    await send("order.created", created(id));
    const reservedId = await send("inventory.reserved", reserved(id));
    const chargedId = await send("payment.charged", charged(id));
    await sagaIs(id, (s) => s.state === "APPROVED", "approved");

    const sent = await commands(id);
    expect(sent.map((e) => e.name)).toEqual(["order.approve.requested"]);
    expect(sent[0]).toMatchObject({
      subject: "saga.order.approve",
      data: { orderId: id },
      correlationId: id,
    });
    // Caused by whichever reply completed the pair.
    expect([reservedId, chargedId]).toContain(sent[0]!.causationId);

    await send("order.confirmed", { orderId: id, customerId: "alice", totalCents: 500 });
    const s = await sagaIs(id, (x) => x.state === "CONFIRMED", "confirmed");
    expect(s).toMatchObject({
      orderId: id,
      steps: { inventory: "RESERVED", payment: "CHARGED" },
      order: { customerId: "alice", totalCents: 500, currency: "USD" },
    });
    expect(s.reason).toBeUndefined();
    expect(s.history.map((h) => h.event).sort()).toEqual([
      "inventory.reserved",
      "order.confirmed",
      "order.created",
      "payment.charged",
    ]);
    expect(s.history.at(-1)).toMatchObject({ event: "order.confirmed", from: "APPROVED", to: "CONFIRMED" });
    expect(s.history.find((h) => h.to === "APPROVED")?.sent).toEqual(["order.approve.requested"]);
    for (const h of s.history) expect(new Date(h.at).toISOString()).toBe(h.at);
  }, 30_000);

  it("replies before order.created, duplicated: approves once; the deadline starts with the order", async () => {
    const id = newEventId();
    const reservedId = await send("inventory.reserved", reserved(id));
    await send("payment.charged", charged(id));
    await send("inventory.reserved", reserved(id), reservedId); // same id: JetStream drops it
    await send("payment.charged", charged(id)); // same content, new id: the saga ignores it
    const early = await sagaIs(id, (s) => s.state === "APPROVED", "approved before the order");
    expect(early.deadlineAt).toBeNull();
    expect(early.order).toBeUndefined();

    await send("order.created", created(id));
    const s = await sagaIs(id, (x) => x.order !== undefined, "knows the order");
    expect(s.deadlineAt).not.toBeNull();
    expect(s.state).toBe("APPROVED");
    expect((await commands(id)).map((e) => e.name)).toEqual(["order.approve.requested"]);
  }, 30_000);

  it("rejected + charged → payment.refund.requested; refunded → order.cancel.requested; acknowledgements → CANCELLED", async () => {
    const id = newEventId();
    await send("order.created", created(id));
    await send("payment.charged", charged(id));
    await send("inventory.rejected", rejected(id));
    await sagaIs(id, (s) => s.state === "COMPENSATING", "compensating");

    const reason = "out of stock: insufficient stock for sku-rare: requested 5, available 1";
    expect(await commands(id)).toMatchObject([
      { name: "payment.refund.requested", data: { orderId: id, reason: `order cancelled: ${reason}` } },
    ]);
    expect((await get(id)).body).toMatchObject({
      reason,
      steps: { inventory: "REJECTED", payment: "REFUND_REQUESTED" },
    });

    // Compensate, then cancel: the cancellation is asked for once the refund is acknowledged.
    await send("payment.refunded", { orderId: id, customerId: "alice", amountCents: 500 });
    await sagaIs(id, (s) => s.steps.payment === "REFUNDED", "refunded");
    expect((await commands(id)).map((e) => e.name)).toEqual([
      "payment.refund.requested",
      "order.cancel.requested",
    ]);
    expect((await commands(id)).at(-1)?.data).toEqual({ orderId: id, reason });
    await send("order.cancelled", { orderId: id, customerId: "alice", reason });
    const done = await sagaIs(id, (s) => s.state === "CANCELLED", "cancelled");
    expect(done.steps).toEqual({ inventory: "REJECTED", payment: "REFUNDED" });
    expect((await commands(id)).length).toBe(2);
  }, 30_000);

  it("reserved + declined → inventory.release.requested; released → order.cancel.requested", async () => {
    const id = newEventId();
    await send("order.created", created(id));
    await send("inventory.reserved", reserved(id));
    await send("payment.declined", declined(id));
    await sagaIs(id, (s) => s.state === "COMPENSATING", "compensating");
    expect((await commands(id)).map((e) => e.name)).toEqual(["inventory.release.requested"]);

    // Duplicated failures and acknowledgements change nothing more.
    await send("payment.declined", declined(id));
    await send("inventory.released", { orderId: id, items: [{ sku: "sku-rare", quantity: 5 }] });
    await send("inventory.released", { orderId: id, items: [{ sku: "sku-rare", quantity: 5 }] });
    await sagaIs(id, (s) => s.steps.inventory === "RELEASED", "released");
    const sent = await commands(id);
    expect(sent.map((e) => e.name)).toEqual(["inventory.release.requested", "order.cancel.requested"]);
    expect(sent[1]?.data).toEqual({ orderId: id, reason: "payment declined: insufficient funds" });
    await send("order.cancelled", {
      orderId: id,
      customerId: "alice",
      reason: "payment declined: insufficient funds",
    });
    const done = await sagaIs(id, (s) => s.state === "CANCELLED", "cancelled");
    expect(done.steps).toEqual({ inventory: "RELEASED", payment: "DECLINED" });
    expect((await commands(id)).length).toBe(2);
  }, 30_000);

  it("both fail → cancel only, nothing to compensate", async () => {
    const id = newEventId();
    await send("order.created", created(id));
    await send("inventory.rejected", rejected(id));
    await send("payment.declined", declined(id));
    await sagaIs(
      id,
      (s) => s.steps.inventory === "REJECTED" && s.steps.payment === "DECLINED",
      "both failed",
    );
    expect((await commands(id)).map((e) => e.name)).toEqual(["order.cancel.requested"]);
  }, 30_000);

  it("a burst of replies for many orders, in parallel and duplicated, decides each saga once", async () => {
    const ids = Array.from({ length: 20 }, () => newEventId());
    await Promise.all(
      ids.flatMap((id, i) => [
        send("order.created", created(id)),
        send("inventory.reserved", reserved(id)),
        send("inventory.reserved", reserved(id)),
        i % 2 ? send("payment.charged", charged(id)) : send("payment.declined", declined(id)),
        i % 2 ? send("payment.charged", charged(id)) : send("payment.declined", declined(id)),
      ]),
    );
    for (const [i, id] of ids.entries()) {
      await sagaIs(id, (s) => s.state === (i % 2 ? "APPROVED" : "COMPENSATING"), "decided");
      const names = (await commands(id)).map((e) => e.name).sort();
      expect(names).toEqual(i % 2 ? ["order.approve.requested"] : ["inventory.release.requested"]);
    }
  }, 60_000);

  it("acknowledgements about an order the saga never saw leave no saga behind", async () => {
    const id = newEventId();
    await send("order.confirmed", { orderId: id, customerId: "alice", totalCents: 500 });
    await send("order.cancelled", { orderId: id, customerId: "alice", reason: "whatever" });
    await send("inventory.released", { orderId: id, items: [{ sku: "sku-rare", quantity: 5 }] });
    await send("payment.refunded", charged(id));
    expect(await commands(id)).toEqual([]);
    expect((await get(id)).status).toBe(404);
  });

  it("answers 404 for an unknown saga", async () => {
    const r = await get(newEventId());
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/unknown saga/);
    expect((await get("not-an-order")).status).toBe(404);
  });

  it("404 for an id of any length, also past the router's default parameter limit", async () => {
    for (const length of [65, 101, 8000]) {
      const r = await get("o".repeat(length));
      expect(r.status, String(length)).toBe(404);
      expect(r.body.error).toMatch(/unknown saga/);
    }
  });

  it("400 naming orderId for a NUL in the id; 400 naming the url for bad percent-encoding", async () => {
    const issuePaths = async (path: string) => {
      const r = await fetch(`${rig.svc.url}/sagas/${path}`);
      const body = (await r.json()) as { error?: unknown; issues?: { path: string }[] };
      expect(body.error).toBeTypeOf("string");
      return [r.status, body.issues?.map((i) => i.path)];
    };
    expect(await issuePaths("a%00b")).toEqual([400, ["orderId"]]);
    expect(await issuePaths("%FF")).toEqual([400, ["url"]]);
    expect(await issuePaths("%")).toEqual([400, ["url"]]);
  });

  it("rebuildDatabase folds SAGA (its journal) into sagas and history identical to the live ones", async () => {
    const { states, inputs } = await rebuildMatches();
    expect([...states]).toEqual(
      expect.arrayContaining(["APPROVED", "CONFIRMED", "COMPENSATING", "CANCELLED"]),
    );
    expect(inputs).toContain("payment.refunded");
  }, 30_000);
});

describe("saga deadline", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startSaga({ SAGA_DEADLINE_MS: "400", SAGA_TICK_MS: "50" });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  }, 30_000);
  const { send, sagaIs, commands, rebuildMatches } = helpers(() => rig);

  it("a missing payment: release what was reserved, then cancel; the late charge is refunded", async () => {
    const id = newEventId();
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await publish(rig.js, catalog, "order.created", created(id), { correlationId: id, traceparent });
    await send("inventory.reserved", reserved(id));
    const s = await sagaIs(id, (x) => x.state === "COMPENSATING", "timed out");
    expect(s).toMatchObject({
      reason: "timed out waiting for payment",
      steps: { inventory: "RELEASE_REQUESTED", payment: "TIMED_OUT" },
    });
    expect(s.history.find((h) => h.event === "deadline")).toMatchObject({
      from: "AWAITING",
      to: "COMPENSATING",
      sent: ["inventory.release.requested"],
    });
    expect((await commands(id)).map((e) => e.name)).toEqual(["inventory.release.requested"]);
    expect((await commands(id))[0]!.id).toBe(derivedEventId(`${id}:deadline`, "inventory.release.requested"));
    // The deadline acts outside any message, yet in the order's trace.
    expect((await commands(id))[0]!.traceparent).toBe(traceparent);

    // The release acknowledged: now the cancellation. Then the charge shows up after all.
    const releasedId = await send("inventory.released", {
      orderId: id,
      items: [{ sku: "sku-rare", quantity: 5 }],
    });
    await sagaIs(id, (x) => x.steps.inventory === "RELEASED", "released");
    const sent = await commands(id);
    expect(sent.map((e) => e.name)).toEqual(["inventory.release.requested", "order.cancel.requested"]);
    expect(sent[1]).toMatchObject({
      id: derivedEventId(releasedId, "order.cancel.requested"),
      correlationId: id,
      data: { orderId: id, reason: "timed out waiting for payment" },
    });
    await send("order.cancelled", {
      orderId: id,
      customerId: "alice",
      reason: "timed out waiting for payment",
    });
    await sagaIs(id, (x) => x.state === "CANCELLED", "cancelled");
    await send("payment.charged", charged(id));
    await send("payment.charged", charged(id));
    await sagaIs(
      id,
      (x) => x.steps.payment === "REFUND_REQUESTED" && x.state === "COMPENSATING",
      "refund requested",
    );
    const all = await commands(id);
    expect(all.map((e) => e.name)).toEqual([
      "inventory.release.requested",
      "order.cancel.requested",
      "payment.refund.requested",
    ]);
    expect(all[2]!.data).toEqual({ orderId: id, reason: "order cancelled: timed out waiting for payment" });

    await send("payment.refunded", { orderId: id, customerId: "alice", amountCents: 500 });
    await sagaIs(id, (x) => x.state === "CANCELLED" && x.steps.payment === "REFUNDED", "cancelled again");
  }, 30_000);

  it("no reply at all: cancel with 'timed out waiting for inventory and payment', compensate nothing; late reservation released", async () => {
    const id = newEventId();
    await send("order.created", created(id));
    await sagaIs(id, (x) => x.state === "COMPENSATING", "timed out");
    expect((await commands(id)).map((e) => e.name)).toEqual(["order.cancel.requested"]);
    expect((await commands(id))[0]!.data).toEqual({
      orderId: id,
      reason: "timed out waiting for inventory and payment",
    });

    await send("inventory.reserved", reserved(id));
    await send("payment.declined", declined(id));
    await sagaIs(
      id,
      (x) => x.steps.inventory === "RELEASE_REQUESTED" && x.steps.payment === "DECLINED",
      "late replies",
    );
    expect((await commands(id)).map((e) => e.name)).toEqual([
      "order.cancel.requested",
      "inventory.release.requested",
    ]);
  }, 30_000);

  it("a saga that only saw replies has no deadline yet", async () => {
    const orphan = newEventId();
    await send("inventory.reserved", reserved(orphan));
    await sagaIs(orphan, (x) => x.steps.inventory === "RESERVED", "created by a reply");
    // A saga that learns of its order later times out; the orphan, older, still waits.
    const later = newEventId();
    await send("order.created", created(later));
    await sagaIs(later, (x) => x.state === "COMPENSATING", "later one timed out");
    const s = await sagaIs(orphan, () => true, "read");
    expect(s).toMatchObject({ state: "AWAITING", deadlineAt: null });
  }, 30_000);

  it("rebuildDatabase restores the deadline's transitions, deadlines and trace context", async () => {
    const { inputs } = await rebuildMatches();
    expect(inputs).toContain("deadline");
  }, 30_000);
});

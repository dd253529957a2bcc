import { setTimeout as slowWork } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import {
  connect,
  headers,
  nkeyAuthenticator,
  nkeys,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import { defineCatalog, defineEvent, newEventId, pickContexts } from "@orderflow/events";
import {
  controlSubject,
  DeadLetters,
  PermanentError,
  readStream,
  resetConsumer,
  Topology,
} from "@orderflow/outbox";
import { publish, testDatabase, testNats, waitFor, type TestNats } from "@orderflow/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  defineService,
  natsInboxPrefix,
  natsPermissions,
  OPERATOR_IDENTITY,
  operatorPermissions,
  startService,
  type NatsPermissions,
  type RunningService,
} from "./index.js";

// Three services of one small system, each its own NATS identity: `orders` publishes order.placed,
// `stock` and `billing` each take it and publish their own answer. A nats-server 2.9 (the one on
// PATH) is configured with one NKey user per identity holding what natsPermissions derives, and
// an operator user; no `no_auth_user`, so a connection without credentials is refused.

const order = z.object({ orderId: z.string(), qty: z.number().int() });
const shop = defineCatalog({
  typePrefix: "com.acme.shop",
  events: [
    defineEvent({
      name: "order.placed",
      context: "orders",
      aggregate: "order",
      event: "placed",
      schema: order,
      key: "orderId",
    }),
    defineEvent({
      name: "stock.reserved",
      context: "stock",
      aggregate: "reservation",
      event: "reserved",
      schema: order,
      key: "orderId",
    }),
    defineEvent({
      name: "payment.charged",
      context: "billing",
      aggregate: "payment",
      event: "charged",
      schema: order,
      key: "orderId",
    }),
  ],
});

/** How long the handler of a zero-quantity order works: past a third of the consumer's 5 s ack wait. */
const SLOW_HANDLER_MS = 2500;
/** Event ids whose redriven delivery is handled slowly. */
const slowRedrives = new Set<string>();

const answering = <N extends "stock.reserved" | "payment.charged">(name: N, context: "stock" | "billing") =>
  defineService<Record<string, never>>()({
    name: context,
    database: context,
    defaultPort: 0,
    migrations: {},
    publishes: pickContexts(shop, context),
    consumes: shop,
    handlers: () => ({
      "order.placed": async (e, { emit }) => {
        // Slow too when redriven: its term then follows a +WPI, as an ack does.
        if (slowRedrives.has(e.id)) await slowWork(SLOW_HANDLER_MS);
        if (e.data.qty < 0) throw new PermanentError("a negative quantity");
        // A slow handler (the workload, not a wait for anything): held past a third of the ack wait,
        // its message is kept alive with +WPI before its ack.
        if (e.data.qty === 0) await slowWork(SLOW_HANDLER_MS);
        await emit(name as never, e.data as never);
      },
    }),
  });
const stock = answering("stock.reserved", "stock");
const billing = answering("payment.charged", "billing");
// Publishes only; never started here: the test publishes its events under its identity.
const orders = defineService<Record<string, never>>()({
  name: "orders",
  database: "orders",
  defaultPort: 0,
  migrations: {},
  publishes: pickContexts(shop, "orders"),
});

interface Identity {
  readonly name: string;
  readonly seed: Uint8Array;
  readonly permissions: NatsPermissions;
}

function identity(name: string, permissions: NatsPermissions): Identity {
  return { name, seed: nkeys.createUser().getSeed(), permissions };
}

/** nats-server configuration: one NKey user per identity, nobody anonymous. */
function serverConfig(ids: readonly Identity[]): string {
  const users = ids.map((id) => ({
    nkey: nkeys.fromSeed(id.seed).getPublicKey(),
    permissions: id.permissions,
  }));
  // NATS_TRACE_LOG=/tmp/nats.log shows every protocol line with -DV's detail.
  const trace = process.env.NATS_TRACE_LOG
    ? { log_file: process.env.NATS_TRACE_LOG, debug: true, trace: true }
    : {};
  return JSON.stringify({ ...trace, authorization: { users } }, null, 2);
}

const silent = pino({ level: "silent" });

function connectAs(nats: TestNats, id: Identity, namespace = ""): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    authenticator: nkeyAuthenticator(id.seed),
    inboxPrefix: natsInboxPrefix(id.name, namespace),
    maxReconnectAttempts: 0,
  });
}

async function startAs(
  def: typeof stock,
  nats: TestNats,
  id: Identity,
  databaseUrl: string,
  namespace = "",
): Promise<RunningService<Record<string, never>>> {
  const prefix = def.name.toUpperCase();
  return startService(def, {
    env: {
      NATS_URL: nats.url,
      NATS_NAMESPACE: namespace,
      [`${prefix}_DATABASE_URL`]: databaseUrl,
      [`${prefix}_PORT`]: "0",
      CONSUMER_BACKOFF_MS: "50",
    },
    logger: silent,
    natsAuthenticator: nkeyAuthenticator(id.seed),
  });
}

const messages = async (jsm: JetStreamManager, stream: string) =>
  (await jsm.streams.info(stream)).state.messages;

/** What the server answers a subscription it refuses: the subscription ends with the error. */
async function refused(sub: Subscription): Promise<unknown> {
  let ended: unknown;
  void sub.closed.then((e) => (ended = e ?? "closed without an error"));
  return waitFor("the server to answer the subscription", () => ended, { timeoutMs: 2000 }).catch(
    () => "still open",
  );
}

/** Resolves when `work` has, or after `ms` (then it is left to finish): a bounded wait on a condition. */
const settledWithin = async (work: Promise<unknown>, ms: number): Promise<void> => {
  let done = false;
  void work.finally(() => (done = true)).catch(() => {});
  await waitFor("it to settle", () => done, { timeoutMs: ms }).catch(() => {});
};

describe("NATS permissions derived from service definitions, on a real nats-server", () => {
  const ids = {
    stock: identity("stock", natsPermissions(stock)),
    billing: identity("billing", natsPermissions(billing)),
    orders: identity("orders", natsPermissions(orders)),
    operator: identity(OPERATOR_IDENTITY, operatorPermissions([orders, stock, billing])),
  };
  let nats: TestNats;
  let operator: NatsConnection;
  let jsm: JetStreamManager;
  const cleanup: (() => Promise<unknown>)[] = [];
  let svc: RunningService<Record<string, never>>;

  beforeAll(async () => {
    nats = await testNats({ config: serverConfig(Object.values(ids)) });
    cleanup.push(() => nats[Symbol.asyncDispose]());
    operator = await connectAs(nats, ids.operator);
    cleanup.push(() => operator.close());
    jsm = await jetstreamManager(operator);
    // The operator made STOCK earlier with another duplicate window: the service must bring it in line.
    await jsm.streams.add({ name: "STOCK", subjects: ["stock.>"], duplicate_window: 60_000_000_000 });
    for (const def of [stock, billing]) {
      const db = await testDatabase(def.name);
      cleanup.push(() => db[Symbol.asyncDispose]());
      const running = await startAs(def, nats, ids[def.name as "stock" | "billing"], db.url);
      cleanup.push(() => running.stop());
      if (def === stock) svc = running;
    }
  }, 60_000);

  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
  });

  it("refuses a connection without credentials, or with a key it does not know", async () => {
    await expect(connect({ servers: nats.url, maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
    const stranger = nkeys.createUser().getSeed();
    await expect(
      connect({ servers: nats.url, authenticator: nkeyAuthenticator(stranger), maxReconnectAttempts: 0 }),
    ).rejects.toThrow(/authorization/i);
  });

  it("lets a service provision its streams, consume, publish through its relay, dead-letter and answer control requests", async () => {
    expect((await jsm.streams.info("STOCK")).config.duplicate_window).toBe(10 * 60_000_000_000);
    const nc = await connectAs(nats, ids.orders);
    try {
      const js = jetstream(nc);
      await publish(js, shop, "order.placed", { orderId: "o1", qty: 2 }, { correlationId: "o1" });
      await publish(js, shop, "order.placed", { orderId: "o2", qty: -1 }, { correlationId: "o2" });
    } finally {
      await nc.close();
    }
    await waitFor("stock.reserved and payment.charged for o1", async () =>
      (await messages(jsm, "STOCK")) === 1 && (await messages(jsm, "BILLING")) === 1 ? true : undefined,
    );
    const letters = await waitFor("o2 dead-lettered by both", async () => {
      const list = await new DeadLetters({ js: jetstream(operator), jsm }).list();
      return list.length === 2 ? list : undefined;
    });
    expect(letters.map((l) => l.consumer).sort()).toEqual(["billing", "stock"]);
    expect(svc.consumer?.running).toBe(true);
  });

  it("lets the operator pause and resume a service, reset its consumer and read its stream", async () => {
    const ask = async (command: string) =>
      (
        await operator.request(controlSubject(new Topology(), "stock"), command, { timeout: 20_000 })
      ).string();
    expect(await ask("pause")).toBe("paused");
    expect(await ask("resume")).toBe("running");
    await resetConsumer(jsm, "ORDERS", "stock", { seq: 1 });
    const subjects: string[] = [];
    await readStream({ js: jetstream(operator), jsm, stream: "STOCK" }, (m) => void subjects.push(m.subject));
    expect(subjects).toEqual(["stock.reservation.reserved"]);
    // The reset durable is read again by the service: o1 is a duplicate, o2 is dead-lettered again
    // (a dead letter's id is per stream sequence: the DLQ drops it as a duplicate).
    await waitFor("ORDERS re-read by stock", async () => {
      const info = await jsm.consumers.info("ORDERS", "stock");
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    });
    expect(await messages(jsm, "STOCK")).toBe(1);
  });

  describe("refuses what is not the service's", () => {
    let nc: NatsConnection;
    beforeAll(async () => {
      nc = await connectAs(nats, ids.stock);
    });
    afterAll(async () => {
      await nc.close();
    });

    it.each([
      ["another service's event", "billing.payment.charged", "BILLING"],
      ["another context's stream subject", "orders.order.placed", "ORDERS"],
      ["a subject of another stream no event names", "billing.anything.else", "BILLING"],
      ["another consumer's dead letters", "dlq.billing.orders.order.placed", "DLQ"],
    ])("publishing %s (%s) fails and stores nothing", async (_what, subject, stream) => {
      const before = await messages(jsm, stream);
      await expect(jetstream(nc).publish(subject, "{}")).rejects.toThrow(
        /permissions violation for publish/i,
      );
      expect(await messages(jsm, stream)).toBe(before);
    });

    it("requesting on another service's control subject fails", async () => {
      await expect(nc.request(controlSubject(new Topology(), "billing"), "pause")).rejects.toThrow(
        /permissions violation for publish/i,
      );
    });

    it.each([
      ["another service's inbox", `${natsInboxPrefix("billing")}.>`],
      ["the operator's inbox", `${natsInboxPrefix(OPERATOR_IDENTITY)}.>`],
      ["the default inbox", "_INBOX.>"],
      ["another service's control subject", controlSubject(new Topology(), "billing")],
      ["another context's events", "orders.>"],
    ])("subscribing to %s is refused", async (_what, subject) => {
      expect(String(await refused(nc.subscribe(subject)))).toMatch(/permissions violation for subscription/i);
    });

    it("managing another service's streams and consumers through the JetStream API fails", async () => {
      const mine = await jetstreamManager(nc);
      const denied = /permissions violation for publish/i;
      await expect(mine.consumers.delete("ORDERS", "billing")).rejects.toThrow(denied);
      await expect(mine.consumers.info("ORDERS", "billing")).rejects.toThrow(denied);
      await expect(
        mine.consumers.add("ORDERS", { durable_name: "billing", filter_subject: "orders.>" }),
      ).rejects.toThrow(denied);
      await expect(
        mine.consumers.add("ORDERS", { durable_name: "spy", filter_subject: "orders.>" }),
      ).rejects.toThrow(denied);
      await expect(mine.streams.delete("BILLING")).rejects.toThrow(denied);
      await expect(mine.streams.purge("ORDERS")).rejects.toThrow(denied);
      // It may create ORDERS and DLQ when it comes up first, but not change them.
      await expect(mine.streams.update("ORDERS", { max_age: 1_000_000_000 })).rejects.toThrow(denied);
      await expect(mine.streams.update("DLQ", { max_msgs: 1 })).rejects.toThrow(denied);
      await expect(mine.streams.delete("STOCK")).rejects.toThrow(denied);
      await expect(mine.streams.getMessage("BILLING", { seq: 1 })).rejects.toThrow(denied);
      expect((await jsm.consumers.info("ORDERS", "billing")).name).toBe("billing");
      expect((await jsm.streams.names().next()).sort()).toEqual(["BILLING", "DLQ", "ORDERS", "STOCK"]);
    });
  });
});

// Each allow natsPermissions gives is needed: the whole flow (provision with drift on its own stream,
// consume, publish through the relay, dead-letter, ack, answer control requests) works with the
// derived permissions and fails with any one of them removed. Every run has its own namespace (its
// own streams and subjects), user and database on one server.
describe("every permission natsPermissions derives is needed", () => {
  const full = (ns: string) => natsPermissions(stock, { namespace: ns });
  const without = (p: NatsPermissions, kind: "publish" | "subscribe" | "allow_responses", entry?: string) =>
    kind === "allow_responses"
      ? { publish: p.publish, subscribe: p.subscribe }
      : { ...p, [kind]: { allow: p[kind].allow.filter((a) => a !== entry) } };
  // The entries of the un-namespaced derivation, each removed (namespaced) in one run.
  const base = full("");
  const ablations = [
    ...base.publish.allow.map((entry, i) => ({ kind: "publish" as const, entry, i })),
    ...base.subscribe.allow.map((entry, i) => ({ kind: "subscribe" as const, entry, i })),
    { kind: "allow_responses" as const, entry: "allow_responses", i: 0 },
  ];
  const runs = [
    { ns: "full", what: "nothing", permissions: full("full") },
    ...ablations.map(({ kind, entry, i }, n) => {
      const ns = `a${n}`;
      const namespaced = full(ns);
      const removed = kind === "allow_responses" ? undefined : namespaced[kind].allow[i];
      return { ns, what: `${kind} ${entry}`, permissions: without(namespaced, kind, removed) };
    }),
  ];
  const ids = new Map(runs.map((r) => [r.ns, identity("stock", r.permissions)]));
  const admin = identity("admin", { publish: { allow: [">"] }, subscribe: { allow: [">"] } });
  let nats: TestNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await testNats({ config: serverConfig([admin, ...ids.values()]) });
    nc = await connect({ servers: nats.url, authenticator: nkeyAuthenticator(admin.seed) });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.[Symbol.asyncDispose]();
  });

  /**
   * The flow under namespace `ns`, on nothing provisioned yet; what failed first, or "ok". The
   * service creates its streams and durable, takes three orders (one dead-lettered, one held long
   * enough to be kept alive before its ack), answers pause and resume, and, started again after its
   * own stream drifted, brings it in line.
   */
  async function flow(ns: string): Promise<string> {
    const topology = new Topology(ns);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await using db = await testDatabase("perm");
    const start = () => startAs(stock, nats, ids.get(ns)!, db.url, ns);
    const stop = (svc: RunningService<Record<string, never>>) => settledWithin(svc.stop(), 5000);
    let svc: RunningService<Record<string, never>>;
    try {
      svc = await start();
    } catch (err) {
      return `start: ${String(err)}`;
    }
    try {
      for (const [orderId, qty] of [
        ["o1", 2],
        ["o2", -1],
        ["o3", 0],
      ] as const) {
        const id = newEventId();
        const e = shop.encode(
          "order.placed",
          { orderId, qty },
          { id, source: "/orders", time: new Date(), correlationId: orderId },
        );
        const h = headers();
        for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
        await js.publish(topology.subject(e.subject), e.data, { headers: h, msgID: id });
      }
      // Settled: o1 and o3 answered, o2 dead-lettered, and each delivered once and acked (an ack
      // refused leaves its message to be redelivered after the ack wait).
      const settled = await waitFor(
        "settled",
        async () => {
          const durable = await jsm.consumers.info(topology.stream("ORDERS"), "stock");
          if (durable.delivered.consumer_seq > 3)
            return `redelivered (${durable.delivered.consumer_seq} deliveries)`;
          return (await messages(jsm, topology.stream("STOCK"))) === 2 &&
            (await messages(jsm, topology.deadLetterStream)) === 1 &&
            durable.num_pending === 0 &&
            durable.num_ack_pending === 0
            ? true
            : undefined;
        },
        { timeoutMs: 12_000 },
      ).catch((err: unknown) => `flow: ${String(err)}`);
      if (settled !== true) return settled;
      // The dead letter redriven to the stock consumer alone: its redrive durable takes it, it fails
      // again and is dead-lettered again under its origin.
      const dlq = new DeadLetters({ js, jsm, topology });
      const [letter] = await dlq.list();
      if (!letter) return "no dead letter";
      slowRedrives.add(letter.eventId!);
      await dlq.redrive(letter.id);
      const redriven = await waitFor(
        "redriven",
        async () => {
          const durable = await jsm.consumers.info(topology.deadLetterStream, "stock");
          const letters = await dlq.list();
          return durable.delivered.consumer_seq === 1 &&
            durable.num_ack_pending === 0 &&
            letters.length === 1 &&
            letters[0]!.stream === topology.stream("ORDERS")
            ? true
            : undefined;
        },
        { timeoutMs: 12_000 },
      ).catch((err: unknown) => `redrive: ${String(err)}`);
      if (redriven !== true) return redriven;
      for (const [command, answer] of [
        ["pause", "paused"],
        ["resume", "running"],
      ] as const) {
        const reply = await nc.request(controlSubject(topology, "stock"), command, { timeout: 3000 }).then(
          (m) => m.string(),
          (err: unknown) => String(err),
        );
        if (reply !== answer) return `${command}: ${reply}`;
      }
    } finally {
      await stop(svc);
    }
    await jsm.streams.update(topology.stream("STOCK"), { duplicate_window: 60_000_000_000 });
    try {
      await stop(await start());
    } catch (err) {
      return `start after drift: ${String(err)}`;
    }
    const window = (await jsm.streams.info(topology.stream("STOCK"))).config.duplicate_window;
    return window === 10 * 60_000_000_000 ? "ok" : `drift left: ${window}`;
  }

  it("the flow works with all of them and fails without any one", async () => {
    const results = new Map<string, string>();
    const queue = [...runs];
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) results.set(r.what, await flow(r.ns));
    };
    await Promise.all([worker(), worker(), worker()]);
    const report = runs.map((r) => `${r.what} removed: ${results.get(r.what)}`);
    expect(report[0], report.join("\n")).toBe("nothing removed: ok");
    expect(
      report.slice(1).filter((line) => line.endsWith(": ok")),
      report.join("\n"),
    ).toEqual([]);
  }, 180_000);
});

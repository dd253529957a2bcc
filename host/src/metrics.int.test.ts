import { execFileSync, spawnSync } from "node:child_process";
import { connect, headers } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { defineCatalog, defineEvent, mergeCatalogs, newEventId } from "@orderflow/events";
import { createOutbox } from "@orderflow/outbox";
import { publish, scrapeMetrics, testDatabase, testNats, waitFor, type Scrape } from "@orderflow/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineService, startService } from "./index.js";

const orders = defineCatalog({
  typePrefix: "orderflow",
  events: [
    defineEvent({
      name: "order.confirmed",
      context: "orders",
      aggregate: "order",
      event: "confirmed",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
  ],
});
const shipping = defineCatalog({
  typePrefix: "com.acme.shipping",
  events: [
    defineEvent({
      name: "shipment.requested",
      context: "shipping",
      aggregate: "shipment",
      event: "requested",
      schema: z.object({ orderId: z.string() }),
      key: "orderId",
    }),
  ],
});
/** A handler of order `hold` waits for this to be released: its message stays delivered and unacked. */
let release = () => {};
let held = Promise.resolve();
const shippingService = defineService<Record<string, never>>()({
  name: "shipping",
  database: "shipping",
  defaultPort: 0,
  migrations: {},
  publishes: shipping,
  consumes: mergeCatalogs(orders, shipping),
  handlers: () => ({
    "order.confirmed": async (e, { emit }) => {
      if (e.data.orderId === "hold") await held;
      await emit("shipment.requested", e.data);
    },
  }),
});

async function started() {
  const nats = await testNats();
  const database = await testDatabase("host");
  const svc = await startService(shippingService, {
    env: {
      NATS_URL: nats.url,
      SHIPPING_DATABASE_URL: database.url,
      SHIPPING_PORT: "0",
      RELAY_POLL_MS: "100",
    },
    logger: pino({ level: "silent" }),
  });
  const nc = await connect({ servers: nats.url });
  return {
    svc,
    js: jetstream(nc),
    nc,
    async [Symbol.asyncDispose]() {
      await nc.close();
      await svc.stop();
      await database[Symbol.asyncDispose]();
      await nats[Symbol.asyncDispose]();
    },
  };
}

const confirm = (js: JetStreamClient, orderId: string) =>
  publish(js, orders, "order.confirmed", { orderId }, { correlationId: orderId });

/** Scrapes until `check` holds (the gauges read elsewhere refresh at most once a second). */
const metricsWhere = (url: string, what: string, check: (m: Scrape) => boolean) =>
  waitFor(
    what,
    async () => {
      const m = await scrapeMetrics(url);
      return check(m) && m;
    },
    { intervalMs: 100 },
  );

/** promtool's complaints about the exposition's `orderflow_*` metrics (prom-client's own are not ours). */
function promtoolProblems(exposition: string): string[] {
  const r = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" });
  if (r.error) throw r.error;
  return `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.startsWith("orderflow_"));
}

describe("the runtime's metrics on a real service", () => {
  it("promtool check metrics finds nothing wrong with the orderflow_* metrics it exposes", async () => {
    execFileSync("promtool", ["--version"]); // fails loudly where infra/system-packages.sh has not run
    await using s = await started();
    await confirm(s.js, "o-lint");
    const m = await metricsWhere(
      s.svc.url,
      "a handled event and a relay publish",
      (x) => x.value("orderflow_relay_commit_to_ack_seconds_count") >= 1,
    );
    expect(promtoolProblems(m.text)).toEqual([]);
    // The filter sees promtool's complaints: a counter without `_total` is one.
    expect(promtoolProblems("# HELP orderflow_x x\n# TYPE orderflow_x counter\norderflow_x 1\n")).not.toEqual(
      [],
    );
  }, 30_000);

  it("each metric moves: handling, dead letters, ack pending while a handler holds, lag while the consumer is stopped, backlog while the relay is", async () => {
    await using s = await started();
    const url = s.svc.url;
    const confirmed = { event_type: "order.confirmed" };
    await metricsWhere(url, "the relay to lead", (m) => m.value("orderflow_relay_leader") === 1);

    await confirm(s.js, "o-1");
    await metricsWhere(
      url,
      "one event applied, timed, and its emitted event published",
      (m) =>
        m.value("orderflow_consumer_messages_total", { result: "applied", ...confirmed }) === 1 &&
        m.value("orderflow_consumer_handler_duration_seconds_count", confirmed) === 1 &&
        m.value("orderflow_relay_published_total") === 1 &&
        m.value("orderflow_relay_commit_to_ack_seconds_count") === 1,
    );

    // A body its schema refuses: dead-lettered, counted by result, and the DLQ depth says so.
    const good = orders.encode(
      "order.confirmed",
      { orderId: "o-bad" },
      { id: newEventId(), source: "/test", time: new Date(), correlationId: "o-bad" },
    );
    const h = headers();
    for (const [k, v] of Object.entries(good.headers)) h.set(k, v);
    await s.js.publish(good.subject, new TextEncoder().encode('{"orderId": 42}'), { headers: h });
    await metricsWhere(
      url,
      "a dead letter",
      (m) =>
        m.value("orderflow_consumer_messages_total", { result: "dead-lettered", ...confirmed }) === 1 &&
        m.value("orderflow_dead_letter_messages", { stream: "DLQ" }) === 1,
    );

    // Ack pending: delivered, held by its handler.
    const lag = { stream: "ORDERS", consumer: "shipping" };
    held = new Promise<void>((resolve) => (release = resolve));
    await confirm(s.js, "hold");
    await metricsWhere(url, "one held", (m) => m.value("orderflow_consumer_ack_pending_messages", lag) === 1);
    release();
    await metricsWhere(
      url,
      "none held",
      (m) => m.value("orderflow_consumer_ack_pending_messages", lag) === 0,
    );

    // Consumer lag: published while nobody reads.
    await metricsWhere(url, "no lag", (m) => m.value("orderflow_consumer_pending_messages", lag) === 0);
    await s.svc.consumer!.stop();
    for (const orderId of ["o-2", "o-3", "o-4"]) await confirm(s.js, orderId);
    await metricsWhere(url, "a lag of 3", (m) => m.value("orderflow_consumer_pending_messages", lag) === 3);

    // Outbox backlog: committed while the relay is stopped; leadership goes with it.
    await metricsWhere(url, "an empty outbox", (m) => m.value("orderflow_outbox_backlog") === 0);
    await s.svc.relay.stop();
    const outbox = createOutbox({ catalog: shipping, source: "/test" });
    await s.svc.db.transaction().execute(async (trx) => {
      await outbox.enqueue(trx, "shipment.requested", { orderId: "o-5" });
      await outbox.enqueue(trx, "shipment.requested", { orderId: "o-6" });
    });
    await metricsWhere(
      url,
      "a backlog of 2 with an age, and no leader",
      (m) =>
        m.value("orderflow_outbox_backlog") === 2 &&
        m.value("orderflow_outbox_oldest_unpublished_age_seconds") > 0 &&
        m.value("orderflow_relay_leader") === 0,
    );
    const m = await scrapeMetrics(url);
    expect(m.value("orderflow_metrics_refresh_failures_total")).toBe(0);
    // Label values stay within the catalog and the durables.
    const eventTypes = new Set(m.samples.flatMap((x) => (x.labels.event_type ? [x.labels.event_type] : [])));
    expect([...eventTypes]).toEqual(["order.confirmed"]);
  }, 30_000);
});

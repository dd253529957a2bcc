import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { catalog as orderflow } from "@orderflow/contracts";
import { startService, type RunningService } from "@orderflow/host";
import {
  consumerSettled,
  eventsOf,
  publish,
  testDatabase,
  testNats,
  waitFor,
  type TestDatabase,
  type TestNats,
} from "@orderflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shipping } from "../src/events.js";
import type { ShippingDb } from "../src/migrations.js";
import { definition } from "../src/service.js";

const run = promisify(execFile);

let nats: TestNats;
let database: TestDatabase;
let svc: RunningService<ShippingDb>;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let env: Record<string, string>;

beforeAll(async () => {
  nats = await testNats();
  database = await testDatabase("shipping");
  env = { NATS_URL: nats.url, SHIPPING_DATABASE_URL: database.url, SHIPPING_PORT: "0", LOG_LEVEL: "warn" };
  svc = await startService(definition, { env });
  nc = await connect({ servers: nats.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await svc?.stop();
  await database?.[Symbol.asyncDispose]();
  await nats?.[Symbol.asyncDispose]();
});

const shipments = () => svc.db.selectFrom("shipments").selectAll().orderBy("order_id").execute();

/** Every message published to ORDERS so far has been handled by shipping. */
const settled = () => consumerSettled(jsm, "ORDERS", "shipping");

/** The `orderflow` command this project installed, run on this project's orderflow.config.ts. */
async function cli(...args: string[]): Promise<unknown> {
  const { stdout } = await run(
    join(process.cwd(), "node_modules", ".bin", "orderflow"),
    [...args, "--json"],
    {
      env: { ...process.env, ...env, DATABASE_URL: database.url },
    },
  );
  return JSON.parse(stdout);
}

describe("shipping", () => {
  it("provisions only the streams it publishes to and consumes", async () => {
    const names: string[] = [];
    for await (const s of jsm.streams.list()) names.push(s.config.name);
    expect(names.sort()).toEqual(["DLQ", "ORDERS", "SHIPPING"]);
  });

  it("ships a confirmed order exactly once, publishing shipment.requested in the same transaction", async () => {
    const confirmed = { orderId: "o-1", customerId: "alice", totalCents: 1200 };
    const id = await publish(js, orderflow, "order.confirmed", confirmed, {
      correlationId: "o-1",
      source: "/orderflow/saga",
    });
    // A second copy JetStream's duplicate window did not catch: the inbox must drop it.
    await publish(js, orderflow, "order.confirmed", confirmed, {
      id,
      msgId: `${id}-again`,
      correlationId: "o-1",
      source: "/orderflow/saga",
    });
    await settled();

    expect(await shipments()).toEqual([
      { order_id: "o-1", customer_id: "alice", state: "requested", carrier: null },
    ]);
    const events = await waitFor("shipment.requested in SHIPPING", async () => {
      const found = await eventsOf(jsm, shipping, "SHIPPING", "o-1");
      return found.length > 0 && found;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      name: "shipment.requested",
      subject: "shipping.shipment.requested",
      correlationId: "o-1",
      causationId: id,
      data: { orderId: "o-1", customerId: "alice" },
    });
    const stored = await jsm.streams.getMessage("SHIPPING", { seq: events[0]!.seq });
    expect(stored?.header.get("ce-type")).toBe("com.acme.shipping.shipment.requested.v1");
    expect(stored?.header.get("ce-source")).toBe("/acme/shipping");
  });

  it("dispatches over HTTP once, answering 400 naming the field and 404 for an unknown order", async () => {
    const dispatch = (orderId: string, body: unknown) =>
      svc.app.inject({ method: "POST", url: `/shipments/${orderId}/dispatch`, payload: body as object });

    const bad = await dispatch("o-1", { carrier: "" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues[0].path).toBe("carrier");
    expect((await dispatch("o-404", { carrier: "dhl" })).statusCode).toBe(404);

    for (let i = 0; i < 2; i++) {
      const ok = await dispatch("o-1", { carrier: "dhl" });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ order_id: "o-1", state: "dispatched", carrier: "dhl" });
    }
    const events = await waitFor("shipment.dispatched in SHIPPING", async () => {
      const found = await eventsOf(jsm, shipping, "SHIPPING", "o-1");
      return found.length === 2 && found;
    });
    expect(events.map((e) => e.name)).toEqual(["shipment.requested", "shipment.dispatched"]);
  });

  it("describes its routes at GET /openapi.json, from their zod schemas", async () => {
    const doc = (await svc.app.inject({ method: "GET", url: "/openapi.json" })).json<{
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    }>();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths["/shipments/{orderId}"]?.get?.responses ?? {})).toEqual([
      "200",
      "400",
      "404",
      "503",
    ]);
    expect(Object.keys(doc.paths["/shipments/{orderId}/dispatch"]?.post?.responses ?? {})).toEqual([
      "200",
      "400",
      "404",
      "413",
      "415",
      "503",
    ]);
  });

  it("replays ORDERS through `orderflow replay` harmlessly: every event is a duplicate", async () => {
    await publish(
      js,
      orderflow,
      "order.confirmed",
      { orderId: "o-2", customerId: "bob", totalCents: 500 },
      {
        correlationId: "o-2",
        source: "/orderflow/saga",
      },
    );
    await settled();
    const before = await shipments();
    const shipped = (await jsm.streams.info("SHIPPING")).state.messages;

    const replay = await cli("replay", "--service", "shipping");
    expect(replay).toMatchObject([{ service: "shipping", read: 3, applied: 0, duplicate: 3, invalid: 0 }]);

    expect(await shipments()).toEqual(before);
    expect((await jsm.streams.info("SHIPPING")).state.messages).toBe(shipped);
  });

  it("rebuilds its database from SHIPPING through `orderflow rebuild`, pausing the running instance", async () => {
    const before = await shipments();
    expect(before).toHaveLength(2);

    const rebuild = await cli("rebuild", "shipping", "--yes");
    expect(rebuild).toMatchObject([{ service: "shipping", events: 3, applied: 3, coordinated: true }]);

    expect(await shipments()).toEqual(before);
    // The rebuilt inbox remembers what was handled: a late copy of an old input changes nothing.
    await publish(
      js,
      orderflow,
      "order.confirmed",
      { orderId: "o-1", customerId: "alice", totalCents: 1200 },
      {
        correlationId: "o-1",
        source: "/orderflow/saga",
        id: (await eventsOf(jsm, shipping, "SHIPPING", "o-1"))[0]!.causationId!,
        msgId: "late-copy",
      },
    );
    await settled();
    expect(await shipments()).toEqual(before);
  });

  it("refuses a rebuild aimed at another database than the running instance's (exit 2), pausing nothing", async () => {
    const elsewhere = new URL(database.url);
    elsewhere.pathname = "/shipping_elsewhere";
    const before = await shipments();
    const failed = await run(
      join(process.cwd(), "node_modules", ".bin", "orderflow"),
      ["rebuild", "shipping", "--yes"],
      {
        env: { ...process.env, ...env, SHIPPING_DATABASE_URL: elsewhere.toString() },
      },
    ).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain(
      `refused: this instance uses database "${database.name}", not "shipping_elsewhere"`,
    );
    expect(svc.consumer?.running).toBe(true);
    expect(await shipments()).toEqual(before);
  });
});

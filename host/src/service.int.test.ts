import { jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { defineCatalog, defineEvent, mergeCatalogs } from "@orderflow/events";
import { testDatabase, testNats } from "@orderflow/testing";
import {
  CONTROL_DATABASE_HEADER,
  controlSubject,
  databaseName,
  isOutboxError,
  Topology,
} from "@orderflow/outbox";
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
    defineEvent({
      name: "payment.charged",
      context: "billing",
      aggregate: "payment",
      event: "charged",
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

const shippingService = defineService<Record<string, never>>()({
  name: "shipping",
  database: "shipping",
  defaultPort: 0,
  migrations: {},
  publishes: shipping,
  consumes: mergeCatalogs(orders, shipping),
  handlers: () => ({
    "order.confirmed": async (e, { emit }) => void (await emit("shipment.requested", e.data)),
  }),
});

async function servers() {
  const nats = await testNats();
  const database = await testDatabase("host");
  const env = { NATS_URL: nats.url, SHIPPING_DATABASE_URL: database.url, SHIPPING_PORT: "0" };
  return {
    env,
    nats,
    database,
    async [Symbol.asyncDispose]() {
      await database[Symbol.asyncDispose]();
      await nats[Symbol.asyncDispose]();
    },
  };
}

describe("startService", () => {
  it("provisions only the streams the service publishes to or handles, plus the dead letters", async () => {
    await using s = await servers();
    const svc = await startService(shippingService, { env: s.env, logger: pino({ level: "silent" }) });
    try {
      const nc = await connect({ servers: s.nats.url });
      const names: string[] = [];
      for await (const info of (await jetstreamManager(nc)).streams.list()) names.push(info.config.name);
      await nc.close();
      // BILLING holds payment.charged, an event of a consumed catalog that no handler takes.
      expect(names.sort()).toEqual(["DLQ", "ORDERS", "SHIPPING"]);
    } finally {
      await svc.stop();
    }
  });

  it("refuses to start when a handler names an event of none of its catalogs", async () => {
    await using s = await servers();
    const typo = {
      ...shippingService,
      handlers: () => ({ "order.confirmd": async () => {} }),
    } as unknown as typeof shippingService;
    const err: unknown = await startService(typo, { env: s.env, logger: pino({ level: "silent" }) }).catch(
      (e: unknown) => e,
    );
    expect(isOutboxError(err) && err.code).toBe("UNKNOWN_EVENT");
    expect(String(err)).toMatch(
      /shipping: a handler names "order.confirmd", which is not an event of its catalogs/,
    );
  });

  it("pauses and resumes on its control subject, and refuses a pause aimed at another database", async () => {
    await using s = await servers();
    const svc = await startService(shippingService, { env: s.env, logger: pino({ level: "silent" }) });
    const nc = await connect({ servers: s.nats.url });
    try {
      const subject = controlSubject(new Topology(), "shipping");
      const ask = async (command: string, database?: string) => {
        const h = headers();
        if (database) h.set(CONTROL_DATABASE_HEADER, database);
        return (await nc.request(subject, command, { timeout: 5000, headers: h })).string();
      };
      const own = databaseName(s.database.url);

      expect(await ask("pause", "shipping")).toBe(
        `refused: this instance uses database "${own}", not "shipping"`,
      );
      expect(svc.consumer?.running).toBe(true);
      expect(await ask("pause", own)).toBe("paused");
      expect(await ask("resume")).toBe("running");
    } finally {
      await nc.close();
      await svc.stop();
    }
  });
});

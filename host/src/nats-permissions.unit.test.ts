import { defineCatalog, defineEvent, pickContexts } from "@orderflow/events";
import { isOutboxError } from "@orderflow/outbox";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineService, natsPermissions, operatorPermissions } from "./index.js";

const order = z.object({ orderId: z.string() });
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
      name: "order.cancelled",
      context: "orders",
      aggregate: "order",
      event: "cancelled",
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
      name: "stock.released",
      context: "stock",
      aggregate: "reservation",
      event: "released",
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
const stock = defineService<Record<string, never>>()({
  name: "stock",
  database: "stock",
  defaultPort: 0,
  migrations: {},
  publishes: pickContexts(shop, "stock"),
  consumes: shop,
  handlers: () => ({ "order.placed": async () => {}, "order.cancelled": async () => {} }),
});

describe("natsPermissions", () => {
  it("derives a service's subjects from its definition, namespaced", () => {
    expect(natsPermissions(stock, { namespace: "t1" })).toEqual({
      publish: {
        allow: [
          "t1.stock.reservation.reserved",
          "t1.stock.reservation.released",
          // Two handled events of ORDERS: the durable filters on the whole context.
          "t1.dlq.stock.orders.>",
          "$JS.API.INFO",
          "$JS.API.STREAM.INFO.t1_STOCK",
          "$JS.API.STREAM.CREATE.t1_STOCK",
          "$JS.API.STREAM.UPDATE.t1_STOCK",
          "$JS.API.STREAM.INFO.t1_ORDERS",
          "$JS.API.STREAM.CREATE.t1_ORDERS",
          "$JS.API.STREAM.INFO.t1_DLQ",
          "$JS.API.STREAM.CREATE.t1_DLQ",
          "$JS.API.CONSUMER.INFO.t1_ORDERS.stock",
          "$JS.API.CONSUMER.CREATE.t1_ORDERS.stock.t1.orders.>",
          "$JS.API.CONSUMER.MSG.NEXT.t1_ORDERS.stock",
          "$JS.ACK.t1_ORDERS.stock.>",
          // Its redrive durable: letters redriven to it alone.
          "$JS.API.CONSUMER.INFO.t1_DLQ.stock",
          "$JS.API.CONSUMER.CREATE.t1_DLQ.stock.t1.redrive.stock.>",
          "$JS.API.CONSUMER.MSG.NEXT.t1_DLQ.stock",
          "$JS.ACK.t1_DLQ.stock.>",
        ],
      },
      subscribe: { allow: ["t1._INBOX_stock.>", "t1.orderflow.control.stock"] },
      allow_responses: true,
    });
  });

  it("takes the handled events as given, or refuses a handlers factory that uses its deps", () => {
    const picky = {
      ...stock,
      handlers: ({ config }: { config: { x: string } }) => ({ [config.x]: () => {} }),
    };
    const err: unknown = (() => {
      try {
        return natsPermissions(picky as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isOutboxError(err) && err.message).toMatch(/stock: its handlers factory uses deps.config/);
    expect(natsPermissions(picky as never, { handles: ["order.placed"] }).publish.allow).toContain(
      "$JS.API.CONSUMER.CREATE.ORDERS.stock.orders.order.placed",
    );
  });
});

describe("operatorPermissions", () => {
  it("holds the JetStream API, the services' control subjects and their streams' subjects", () => {
    expect(operatorPermissions([stock])).toEqual({
      publish: { allow: ["$JS.API.>", "orderflow.control.stock", "stock.>", "orders.>", "redrive.*.>"] },
      subscribe: { allow: ["_INBOX_orderflow.>"] },
    });
  });
});

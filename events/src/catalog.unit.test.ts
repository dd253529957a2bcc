// Runtime and compile-time contract of a user-built catalog: `npm run typecheck` fails if an
// `@ts-expect-error` below stops being an error.
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  defineCatalog,
  defineEvent,
  EventsError,
  mergeCatalogs,
  pickContexts,
  type CloudEventOf,
  type EventDataOf,
  type EventNameOf,
} from "./index.js";

const shipmentRequested = defineEvent({
  name: "shipment.requested",
  context: "shipping",
  aggregate: "shipment",
  event: "requested",
  schema: z.object({ orderId: z.string().min(1), address: z.string() }),
  key: "orderId",
});
const shipmentDispatched = defineEvent({
  name: "shipment.dispatched",
  context: "shipping",
  aggregate: "shipment",
  event: "dispatched",
  schema: z.object({ orderId: z.string().min(1), carrier: z.string() }),
  key: "orderId",
});
const shipping = defineCatalog({
  typePrefix: "com.acme.shipping",
  events: [shipmentRequested, shipmentDispatched],
});
const orderConfirmed = defineEvent({
  name: "order.confirmed",
  context: "orders",
  aggregate: "order",
  event: "confirmed",
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
  key: "orderId",
});
const orders = defineCatalog({ typePrefix: "orderflow", events: [orderConfirmed] });

const meta = {
  id: "01900000-0000-7000-8000-000000000001",
  source: "/acme/shipping",
  time: new Date("2026-01-01T00:00:00Z"),
  correlationId: "o-1",
};
const incoming = (e: { subject: string; headers: Readonly<Record<string, string>>; data: Uint8Array }) => ({
  subject: e.subject,
  headers: { get: (k: string) => e.headers[k] },
  data: e.data,
});

describe("defineCatalog", () => {
  it("derives ce-types from its prefix, subjects and one stream per context", () => {
    expect(shipping.names).toEqual(["shipment.requested", "shipment.dispatched"]);
    expect(shipping.ceType("shipment.requested")).toBe("com.acme.shipping.shipment.requested.v1");
    expect(shipping.subject("shipment.dispatched")).toBe("shipping.shipment.dispatched");
    expect(shipping.streams).toEqual([{ name: "SHIPPING", subjects: ["shipping.>"] }]);
    const e = shipping.encode("shipment.requested", { orderId: "o-1", address: "Main St 1" }, meta);
    expect(e.headers["ce-type"]).toBe("com.acme.shipping.shipment.requested.v1");
    const d = shipping.decode(incoming(e));
    expect(d.ok && d.event.name).toBe("shipment.requested");
  });

  it("decodes only its own types: the same name under another prefix is unknown", () => {
    const e = orders.encode("order.confirmed", { orderId: "o-1", totalCents: 5 }, meta);
    const d = shipping.decode(incoming(e));
    expect(!d.ok && d.error.code).toBe("UNKNOWN_TYPE");
  });

  it("refuses a bad prefix, a duplicate name and two events on one subject", () => {
    expect(() => defineCatalog({ typePrefix: "Com.Acme", events: [] })).toThrow(EventsError);
    expect(() => defineCatalog({ typePrefix: "x", events: [shipmentRequested, shipmentRequested] })).toThrow(
      /declared twice/,
    );
    const clash = defineEvent({ ...shipmentDispatched, name: "shipment.sent", key: "orderId" });
    expect(() => defineCatalog({ typePrefix: "x", events: [shipmentDispatched, clash] })).toThrow(
      /share the subject/,
    );
  });

  it("types enqueue-style calls by the catalog's names and data", () => {
    expectTypeOf<EventNameOf<typeof shipping>>().toEqualTypeOf<
      "shipment.requested" | "shipment.dispatched"
    >();
    expectTypeOf<EventDataOf<typeof shipping, "shipment.dispatched">>().toEqualTypeOf<{
      orderId: string;
      carrier: string;
    }>();
    expectTypeOf<CloudEventOf<typeof shipping, "shipment.requested">["data"]["address"]>().toBeString();
    // @ts-expect-error not an event of this catalog
    expect(() => shipping.encode("order.confirmed", { orderId: "o", totalCents: 1 }, meta)).toThrow(
      EventsError,
    );
    // @ts-expect-error carrier belongs to shipment.dispatched
    expect(() => shipping.encode("shipment.requested", { orderId: "o", carrier: "x" }, meta)).toThrow(
      EventsError,
    );
  });
});

describe("mergeCatalogs", () => {
  it("holds the events of several catalogs, each keeping its own prefix", () => {
    const both = mergeCatalogs(orders, shipping);
    expect(both.ceType("order.confirmed")).toBe("orderflow.order.confirmed.v1");
    expect(both.ceType("shipment.requested")).toBe("com.acme.shipping.shipment.requested.v1");
    expect(both.contexts).toEqual(["orders", "shipping"]);
    const d = both.decode(
      incoming(orders.encode("order.confirmed", { orderId: "o-1", totalCents: 5 }, meta)),
    );
    expect(d.ok && d.event.name).toBe("order.confirmed");
    expectTypeOf<EventNameOf<typeof both>>().toEqualTypeOf<
      "order.confirmed" | "shipment.requested" | "shipment.dispatched"
    >();
  });

  it("refuses two different events of one name", () => {
    const other = defineCatalog({
      typePrefix: "com.other",
      events: [defineEvent({ ...orderConfirmed, schema: z.object({ orderId: z.string() }), key: "orderId" })],
    });
    expect(() => mergeCatalogs(orders, other)).toThrow(
      /two catalogs define an event named "order.confirmed"/,
    );
    expect(mergeCatalogs(orders, orders).names).toEqual(["order.confirmed"]);
  });
});

describe("pickContexts", () => {
  it("keeps the events of the given contexts, typed", () => {
    const both = mergeCatalogs(orders, shipping);
    const mine = pickContexts(both, "shipping");
    expect(mine.names).toEqual(["shipment.requested", "shipment.dispatched"]);
    expect(mine.ceType("shipment.requested")).toBe("com.acme.shipping.shipment.requested.v1");
    expectTypeOf<EventNameOf<typeof mine>>().toEqualTypeOf<"shipment.requested" | "shipment.dispatched">();
    // @ts-expect-error no such context
    expect(() => pickContexts(both, "billing")).toThrow(/no events in context billing/);
  });
});

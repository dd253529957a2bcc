// Compile-time contract of the runtime over a user's catalogs: `npm run typecheck` fails if an
// `@ts-expect-error` below stops being an error. The runtime checks guard the same calls from
// untyped callers.
import { defineCatalog, defineEvent, mergeCatalogs, type CloudEventOf } from "@orderflow/events";
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { createOutbox, PermanentError, type AnyTransaction, type Handlers } from "./index.js";

const theirs = defineCatalog({
  typePrefix: "orderflow",
  events: [
    defineEvent({
      name: "order.confirmed",
      context: "orders",
      aggregate: "order",
      event: "confirmed",
      schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
      key: "orderId",
    }),
  ],
});
const ours = defineCatalog({
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
const consumed = mergeCatalogs(theirs, ours);
const outbox = createOutbox({ catalog: ours, source: "/acme/shipping" });

describe("runtime types", () => {
  it("enqueue and prepare take only the outbox catalog's names, with their data", () => {
    // Never called: what matters is what compiles.
    const _calls = async (trx: AnyTransaction) => {
      await outbox.enqueue(trx, "shipment.requested", { orderId: "o-1" });
      // @ts-expect-error order.confirmed is another system's event: this outbox does not publish it
      await outbox.enqueue(trx, "order.confirmed", { orderId: "o-1", totalCents: 1 });
      // @ts-expect-error the data lacks orderId
      await outbox.enqueue(trx, "shipment.requested", { id: "o-1" });
    };
    expect(outbox.prepare("shipment.requested", { orderId: "o-1" }).subject).toBe(
      "shipping.shipment.requested",
    );
  });

  it("handlers take the consumed catalogs' events, typed, and emit only the service's own", () => {
    const handlers: Handlers<typeof consumed, typeof ours> = {
      "order.confirmed": async (event, { emit }) => {
        expectTypeOf(event).toEqualTypeOf<CloudEventOf<typeof consumed, "order.confirmed">>();
        expectTypeOf(event.data.totalCents).toBeNumber();
        await emit("shipment.requested", { orderId: event.data.orderId });
        // @ts-expect-error a handler emits only the service's own events
        await emit("order.confirmed", event.data);
      },
    };
    const _wrong: Handlers<typeof consumed, typeof ours> = {
      // @ts-expect-error no catalog of the service has this event
      "order.shipped": async () => {},
    };
    expect(Object.keys(handlers).every((name) => consumed.has(name))).toBe(true);
  });

  it("an untyped caller naming an event outside the catalog gets a PermanentError naming it", () => {
    const untyped = outbox as unknown as { prepare(name: string, data: unknown): unknown };
    expect(() => untyped.prepare("shipment.sent", { orderId: "o" })).toThrow(PermanentError);
    expect(() => untyped.prepare("shipment.sent", { orderId: "o" })).toThrow(
      /"shipment.sent" is not an event/,
    );
  });
});

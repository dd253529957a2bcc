// Compile-time contract: `npm run typecheck` fails if any `@ts-expect-error` below stops being an
// error or an `expectTypeOf` assertion stops holding. The runtime checks guard the same calls.
import { describe, expect, expectTypeOf, it } from "vitest";
import { incoming, meta, samples } from "../test/samples.js";
import { EventsError } from "@orderflow/events";
import { decode, encode, type CloudEvent, type EventData, type EventName } from "./index.js";

type Handlers = { [N in EventName]?: (event: CloudEvent<N>) => Promise<void> | void };

describe("types", () => {
  it("encode accepts only data of the named event's shape", () => {
    expect(() =>
      // @ts-expect-error currency is required by order.created (since v2)
      encode("order.created", { orderId: "o", customerId: "c", items: [], totalCents: 1 }, meta()),
    ).toThrow(EventsError);
    expect(() =>
      // @ts-expect-error totalCents is a number
      encode("order.confirmed", { orderId: "o", customerId: "c", totalCents: "1" }, meta()),
    ).toThrow(EventsError);
    // @ts-expect-error payment.charged data is not order.confirmed data
    expect(() => encode("order.confirmed", samples["payment.charged"], meta())).toThrow(EventsError);
    // @ts-expect-error not an event of the catalog
    expect(() => encode("order.shipped", { orderId: "o" }, meta())).toThrow();

    expectTypeOf(encode<"order.confirmed">)
      .parameter(1)
      .toEqualTypeOf<{ orderId: string; customerId: string; totalCents: number }>();
  });

  it("CloudEvent<N> carries the current version's data, typed", () => {
    expectTypeOf<CloudEvent<"order.created">["data"]>().toEqualTypeOf<{
      orderId: string;
      customerId: string;
      items: { sku: string; quantity: number; unitPriceCents: number }[];
      totalCents: number;
      currency: string;
      idempotency?: { key: string; requestHash: string } | undefined;
    }>();
    expectTypeOf<CloudEvent<"order.created">["name"]>().toEqualTypeOf<"order.created">();
    expectTypeOf<CloudEvent<"payment.declined">["data"]>().toEqualTypeOf<EventData<"payment.declined">>();
    // The unparameterised CloudEvent is a union discriminated by name.
    expectTypeOf<Extract<CloudEvent, { name: "order.created" }>>().toEqualTypeOf<
      CloudEvent<"order.created">
    >();

    const result = decode(incoming(encode("order.created", samples["order.created"], meta())));
    if (!result.ok) throw result.error;
    const event: CloudEvent = result.event;
    expect(event.name).toBe("order.created");
    if (event.name === "order.created") {
      expectTypeOf(event.data.currency).toBeString();
      expect(event.data.currency).toBe("EUR");
      // @ts-expect-error amountCents belongs to payment events
      expect(event.data.amountCents).toBeUndefined();
    }
  });

  it("a handler map rejects a handler for another event type", async () => {
    const handled: string[] = [];
    const handlers: Handlers = {
      "order.created": (e) => {
        expectTypeOf(e).toEqualTypeOf<CloudEvent<"order.created">>();
        handled.push(e.data.currency);
      },
    };
    const wrongType: Handlers = {
      // @ts-expect-error a payment.charged handler cannot handle order.confirmed
      "order.confirmed": (e: CloudEvent<"payment.charged">) => void handled.push(String(e.data.amountCents)),
    };
    const unknownName: Handlers = {
      // @ts-expect-error handlers are keyed by catalog names only
      "order.shipped": () => undefined,
    };
    expect(Object.keys({ ...wrongType, ...unknownName })).not.toContain("order.created");

    const result = decode(incoming(encode("order.created", samples["order.created"], meta())));
    if (!result.ok) throw result.error;
    // Dispatch by name: the one cast a runtime needs, since TS cannot correlate handlers[e.name] with e.
    const handler = handlers[result.event.name] as ((e: CloudEvent) => Promise<void> | void) | undefined;
    await handler?.(result.event);
    expect(handled).toEqual(["EUR"]);
  });
});

import { defineCatalog, defineEvent, SafeString } from "@orderflow/events";
import { z } from "zod";

const Id = SafeString.min(1).max(128);
const Sku = SafeString.min(1).max(64);
const Cents = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Reason = SafeString.min(1).max(500);

export const OrderLine = z.object({
  sku: Sku,
  quantity: z.number().int().positive().max(1_000_000),
  unitPriceCents: Cents,
});
export type OrderLine = z.infer<typeof OrderLine>;

const OrderCreatedV1 = z.object({
  orderId: Id,
  customerId: Id,
  items: z.array(OrderLine).min(1).max(100),
  totalCents: Cents,
});

/** v2 adds the currency: totals in different currencies must never be summed or charged blindly. */
const OrderCreatedV2 = OrderCreatedV1.extend({ currency: z.string().regex(/^[A-Z]{3}$/) });

const StockLine = z.object({ sku: Sku, quantity: z.number().int().positive() });

/**
 * The order system's events. Streams, subjects and types are derived from this list; ce-types keep
 * the `orderflow.` prefix the system has always had on the wire.
 */
export const catalog = defineCatalog({
  typePrefix: "orderflow",
  events: [
    defineEvent({
      name: "order.created",
      context: "orders",
      aggregate: "order",
      event: "created",
      version: 2,
      schema: OrderCreatedV2,
      key: "orderId",
      past: [
        {
          version: 1,
          schema: OrderCreatedV1,
          // Every v1 order was taken in USD, the only currency before v2.
          upcast: (d) => ({ ...(d as object), currency: "USD" }),
        },
      ],
    }),
    defineEvent({
      name: "order.confirmed",
      context: "orders",
      aggregate: "order",
      event: "confirmed",
      schema: z.object({ orderId: Id, customerId: Id, totalCents: Cents }),
      key: "orderId",
    }),
    defineEvent({
      name: "order.cancelled",
      context: "orders",
      aggregate: "order",
      event: "cancelled",
      schema: z.object({ orderId: Id, customerId: Id, reason: Reason }),
      key: "orderId",
    }),

    defineEvent({
      name: "inventory.reserved",
      context: "inventory",
      aggregate: "reservation",
      event: "reserved",
      schema: z.object({ orderId: Id, items: z.array(StockLine).min(1) }),
      key: "orderId",
    }),
    defineEvent({
      name: "inventory.rejected",
      context: "inventory",
      aggregate: "reservation",
      event: "rejected",
      schema: z.object({ orderId: Id, sku: SafeString, reason: Reason }),
      key: "orderId",
    }),
    defineEvent({
      name: "inventory.released",
      context: "inventory",
      aggregate: "reservation",
      event: "released",
      schema: z.object({ orderId: Id, items: z.array(StockLine) }),
      key: "orderId",
    }),
    defineEvent({
      name: "inventory.committed",
      context: "inventory",
      aggregate: "reservation",
      event: "committed",
      schema: z.object({ orderId: Id, items: z.array(StockLine) }),
      key: "orderId",
    }),

    // Operator changes (PUT /stock, PUT /accounts) are events too: a service's state is the fold of
    // the events it published, which is what `orderflow rebuild` replays.
    defineEvent({
      name: "stock.set",
      context: "inventory",
      aggregate: "stock",
      event: "set",
      schema: z.object({ sku: Sku, available: z.number().int().nonnegative() }),
      key: "sku",
    }),

    defineEvent({
      name: "payment.charged",
      context: "billing",
      aggregate: "payment",
      event: "charged",
      schema: z.object({ orderId: Id, customerId: Id, amountCents: Cents }),
      key: "orderId",
    }),
    defineEvent({
      name: "payment.declined",
      context: "billing",
      aggregate: "payment",
      event: "declined",
      schema: z.object({ orderId: Id, customerId: Id, amountCents: Cents, reason: Reason }),
      key: "orderId",
    }),
    defineEvent({
      name: "payment.refunded",
      context: "billing",
      aggregate: "payment",
      event: "refunded",
      schema: z.object({ orderId: Id, customerId: Id, amountCents: Cents }),
      key: "orderId",
    }),

    defineEvent({
      name: "account.balance.set",
      context: "billing",
      aggregate: "account",
      event: "balance-set",
      schema: z.object({ customerId: Id, balanceCents: Cents }),
      key: "customerId",
    }),

    // The saga's decisions and compensation requests: imperative, addressed to one service each.
    defineEvent({
      name: "order.approve.requested",
      context: "saga",
      aggregate: "order",
      event: "approve",
      schema: z.object({ orderId: Id }),
      key: "orderId",
    }),
    defineEvent({
      name: "order.cancel.requested",
      context: "saga",
      aggregate: "order",
      event: "cancel",
      schema: z.object({ orderId: Id, reason: Reason }),
      key: "orderId",
    }),
    defineEvent({
      name: "inventory.release.requested",
      context: "saga",
      aggregate: "inventory",
      event: "release",
      schema: z.object({ orderId: Id, reason: Reason }),
      key: "orderId",
    }),
    defineEvent({
      name: "payment.refund.requested",
      context: "saga",
      aggregate: "payment",
      event: "refund",
      schema: z.object({ orderId: Id, reason: Reason }),
      key: "orderId",
    }),
  ],
});

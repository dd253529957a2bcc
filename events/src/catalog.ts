import { z } from "zod";
import { defineEvent } from "./define.js";

/**
 * Text that PostgreSQL can store and JSON carries faithfully: no NUL character (a `text` column
 * refuses it) and no lone UTF-16 surrogate (it would be stored as U+FFFD). Every string of an
 * event and of an HTTP request builds on it, so that bad input is a validation issue naming the
 * field, not a database error.
 * @example SafeString.min(1).max(64).safeParse("a\u0000b").success // false
 */
export const SafeString = z
  .string()
  .refine((s) => !s.includes("\0"), "must not contain a NUL character")
  .refine((s) => !/\p{Surrogate}/u.test(s), "must be well-formed Unicode (found a lone surrogate)");

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

/** The system's events. Streams, subjects and types are derived from this list. */
export const catalog = {
  "order.created": defineEvent({
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
  "order.confirmed": defineEvent({
    name: "order.confirmed",
    context: "orders",
    aggregate: "order",
    event: "confirmed",
    schema: z.object({ orderId: Id, customerId: Id, totalCents: Cents }),
    key: "orderId",
  }),
  "order.cancelled": defineEvent({
    name: "order.cancelled",
    context: "orders",
    aggregate: "order",
    event: "cancelled",
    schema: z.object({ orderId: Id, customerId: Id, reason: Reason }),
    key: "orderId",
  }),

  "inventory.reserved": defineEvent({
    name: "inventory.reserved",
    context: "inventory",
    aggregate: "reservation",
    event: "reserved",
    schema: z.object({ orderId: Id, items: z.array(StockLine).min(1) }),
    key: "orderId",
  }),
  "inventory.rejected": defineEvent({
    name: "inventory.rejected",
    context: "inventory",
    aggregate: "reservation",
    event: "rejected",
    schema: z.object({ orderId: Id, sku: SafeString, reason: Reason }),
    key: "orderId",
  }),
  "inventory.released": defineEvent({
    name: "inventory.released",
    context: "inventory",
    aggregate: "reservation",
    event: "released",
    schema: z.object({ orderId: Id, items: z.array(StockLine) }),
    key: "orderId",
  }),
  "inventory.committed": defineEvent({
    name: "inventory.committed",
    context: "inventory",
    aggregate: "reservation",
    event: "committed",
    schema: z.object({ orderId: Id, items: z.array(StockLine) }),
    key: "orderId",
  }),

  // Operator changes (PUT /stock, PUT /accounts) are events too: a service's state is the fold of
  // the events it published, which is what `orderflow rebuild` replays.
  "stock.set": defineEvent({
    name: "stock.set",
    context: "inventory",
    aggregate: "stock",
    event: "set",
    schema: z.object({ sku: Sku, available: z.number().int().nonnegative() }),
    key: "sku",
  }),

  "payment.charged": defineEvent({
    name: "payment.charged",
    context: "billing",
    aggregate: "payment",
    event: "charged",
    schema: z.object({ orderId: Id, customerId: Id, amountCents: Cents }),
    key: "orderId",
  }),
  "payment.declined": defineEvent({
    name: "payment.declined",
    context: "billing",
    aggregate: "payment",
    event: "declined",
    schema: z.object({ orderId: Id, customerId: Id, amountCents: Cents, reason: Reason }),
    key: "orderId",
  }),
  "payment.refunded": defineEvent({
    name: "payment.refunded",
    context: "billing",
    aggregate: "payment",
    event: "refunded",
    schema: z.object({ orderId: Id, customerId: Id, amountCents: Cents }),
    key: "orderId",
  }),

  "account.balance.set": defineEvent({
    name: "account.balance.set",
    context: "billing",
    aggregate: "account",
    event: "balance-set",
    schema: z.object({ customerId: Id, balanceCents: Cents }),
    key: "customerId",
  }),

  // The saga's decisions and compensation requests: imperative, addressed to one service each.
  "order.approve.requested": defineEvent({
    name: "order.approve.requested",
    context: "saga",
    aggregate: "order",
    event: "approve",
    schema: z.object({ orderId: Id }),
    key: "orderId",
  }),
  "order.cancel.requested": defineEvent({
    name: "order.cancel.requested",
    context: "saga",
    aggregate: "order",
    event: "cancel",
    schema: z.object({ orderId: Id, reason: Reason }),
    key: "orderId",
  }),
  "inventory.release.requested": defineEvent({
    name: "inventory.release.requested",
    context: "saga",
    aggregate: "inventory",
    event: "release",
    schema: z.object({ orderId: Id, reason: Reason }),
    key: "orderId",
  }),
  "payment.refund.requested": defineEvent({
    name: "payment.refund.requested",
    context: "saga",
    aggregate: "payment",
    event: "refund",
    schema: z.object({ orderId: Id, reason: Reason }),
    key: "orderId",
  }),
} as const;

export type Catalog = typeof catalog;
export type EventName = keyof Catalog;
export type EventData<N extends EventName> = z.infer<Catalog[N]["schema"]>;
export type Context = Catalog[EventName]["context"];
export const eventNames = Object.keys(catalog) as EventName[];

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

/**
 * v3 carries the request's `Idempotency-Key` and the hash of the request as sent, when it had one:
 * they are state of the order service, which `orderflow rebuild order` restores from its events.
 */
const OrderCreatedV3 = OrderCreatedV2.extend({
  idempotency: z
    .object({ key: z.string().min(1).max(255), requestHash: z.string().regex(/^[0-9a-f]{64}$/) })
    .optional(),
});

const SagaStatus = z.enum(["AWAITING", "APPROVED", "CONFIRMED", "COMPENSATING", "CANCELLED"]);
const InventoryStep = z.enum(["PENDING", "RESERVED", "REJECTED", "TIMED_OUT", "RELEASE_REQUESTED", "RELEASED"]);
const PaymentStep = z.enum(["PENDING", "CHARGED", "DECLINED", "TIMED_OUT", "REFUND_REQUESTED", "REFUNDED"]);
const TraceHeader = z.string().max(512);

/**
 * One transition of an order's saga, with the state after it: the saga's journal (ce-time is when it
 * happened), which `orderflow rebuild saga` folds. No service consumes it.
 */
const SagaTransitioned = z.object({
  orderId: Id,
  /** The input: a consumed event's name, or `deadline`. */
  event: SafeString.min(1).max(64),
  from: SagaStatus,
  to: SagaStatus,
  inventory: InventoryStep,
  payment: PaymentStep,
  /** Names of the commands the transition sent. */
  sent: z.array(SafeString.min(1).max(64)).max(10),
  reason: Reason.optional(),
  order: z.object({ customerId: Id, totalCents: Cents, currency: z.string().regex(/^[A-Z]{3}$/) }).optional(),
  cancelRequested: z.boolean(),
  orderCancelled: z.boolean(),
  /** Set on the transition that taught the saga its order: when it stops waiting for replies. */
  deadlineAt: z.iso.datetime().optional(),
  /** The input's W3C trace context: the saga keeps the first, for its deadline's commands. */
  traceparent: TraceHeader.optional(),
  tracestate: TraceHeader.optional(),
});

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
      version: 3,
      schema: OrderCreatedV3,
      key: "orderId",
      past: [
        {
          version: 1,
          schema: OrderCreatedV1,
          // Every v1 order was taken in USD, the only currency before v2.
          upcast: (d) => ({ ...(d as object), currency: "USD" }),
        },
        // A v2 order carries no idempotency key: none is restored for it.
        { version: 2, schema: OrderCreatedV2, upcast: (d) => d },
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
      name: "price.set",
      context: "orders",
      aggregate: "price",
      event: "set",
      schema: z.object({ sku: Sku, unitPriceCents: Cents }),
      key: "sku",
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

    // Operator changes (PUT /stock, PUT /accounts, PUT /prices) are events too: a service's state is the fold of
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
    defineEvent({
      name: "saga.transitioned",
      context: "saga",
      aggregate: "saga",
      event: "transitioned",
      schema: SagaTransitioned,
      key: "orderId",
    }),
  ],
});

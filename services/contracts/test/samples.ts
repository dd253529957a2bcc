import type { EncodedEvent, EventMeta, HeaderSource, IncomingMessage } from "@orderflow/events";
import type { EventData, EventName } from "../src/index.js";

/** Valid data for every event; the mapped type makes a new catalog entry a compile error here. */
export const samples: { [N in EventName]: EventData<N> } = {
  "order.created": {
    orderId: "ord-1",
    customerId: "cus-1",
    items: [{ sku: "sku-1", quantity: 2, unitPriceCents: 1250 }],
    totalCents: 2500,
    currency: "EUR",
    idempotency: {
      key: "checkout-7f3a",
      requestHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    },
  },
  "order.confirmed": { orderId: "ord-1", customerId: "cus-1", totalCents: 2500 },
  "order.cancelled": { orderId: "ord-1", customerId: "cus-1", reason: "payment declined" },
  "price.set": { sku: "sku-1", unitPriceCents: 1250 },
  "inventory.reserved": { orderId: "ord-1", items: [{ sku: "sku-1", quantity: 2 }] },
  "inventory.rejected": { orderId: "ord-1", sku: "sku-1", reason: "out of stock" },
  "inventory.released": { orderId: "ord-1", items: [{ sku: "sku-1", quantity: 2 }] },
  "inventory.committed": { orderId: "ord-1", items: [{ sku: "sku-1", quantity: 2 }] },
  "stock.set": { sku: "sku-1", available: 40 },
  "account.balance.set": { customerId: "cus-1", balanceCents: 100000 },
  "payment.charged": { orderId: "ord-1", customerId: "cus-1", amountCents: 2500 },
  "payment.declined": {
    orderId: "ord-1",
    customerId: "cus-1",
    amountCents: 2500,
    reason: "insufficient funds",
  },
  "payment.refunded": { orderId: "ord-1", customerId: "cus-1", amountCents: 2500 },
  "order.approve.requested": { orderId: "ord-1" },
  "order.cancel.requested": { orderId: "ord-1", reason: "inventory rejected" },
  "inventory.release.requested": { orderId: "ord-1", reason: "payment declined" },
  "payment.refund.requested": { orderId: "ord-1", reason: "inventory rejected" },
  "saga.transitioned": {
    orderId: "ord-1",
    event: "payment.charged",
    from: "AWAITING",
    to: "APPROVED",
    inventory: "RESERVED",
    payment: "CHARGED",
    sent: ["order.approve.requested"],
    order: { customerId: "cus-1", totalCents: 2500, currency: "EUR" },
    cancelRequested: false,
    orderCancelled: false,
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  },
};

/** order.created as a v2 producer wrote it: no idempotency key. */
export const orderCreatedV2 = {
  orderId: "ord-2",
  customerId: "cus-1",
  items: [{ sku: "sku-1", quantity: 1, unitPriceCents: 900 }],
  totalCents: 900,
  currency: "USD",
};

/** order.created as a v1 producer wrote it: no currency. */
export const orderCreatedV1 = {
  orderId: "ord-0",
  customerId: "cus-1",
  items: [{ sku: "sku-1", quantity: 1, unitPriceCents: 900 }],
  totalCents: 900,
};

export const meta = (overrides: Partial<EventMeta> = {}): EventMeta => ({
  id: "01900000-0000-7000-8000-000000000001",
  source: "/orderflow/order",
  time: new Date("2025-01-02T03:04:05.678Z"),
  correlationId: "ord-1",
  causationId: "01900000-0000-7000-8000-000000000000",
  ...overrides,
});

/** Headers as a plain map; `get` answers undefined for absent names, as a header source may. */
export const headerSource = (headers: Readonly<Record<string, string>>): HeaderSource => ({
  get: (name) => (Object.hasOwn(headers, name) ? headers[name] : undefined),
});

/** An encoded event as a consumer receives it, with optional changes to headers, subject or body. */
export function incoming(
  encoded: EncodedEvent,
  change: { headers?: Record<string, string | undefined>; subject?: string; data?: Uint8Array | string } = {},
): IncomingMessage {
  const headers: Record<string, string> = { ...encoded.headers };
  for (const [name, value] of Object.entries(change.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  const data =
    typeof change.data === "string" ? new TextEncoder().encode(change.data) : (change.data ?? encoded.data);
  return { subject: change.subject ?? encoded.subject, headers: headerSource(headers), data };
}

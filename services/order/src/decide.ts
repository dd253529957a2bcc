import type { EventData } from "@orderflow/events";
import type { OrderStatus } from "./migrations.js";

export interface OrderState {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly totalCents: number;
}

export type OrderDecision =
  | { name: "order.approve.requested"; data: EventData<"order.approve.requested"> }
  | { name: "order.cancel.requested"; data: EventData<"order.cancel.requested"> };

export type OrderEvent =
  | { name: "order.confirmed"; data: EventData<"order.confirmed"> }
  | { name: "order.cancelled"; data: EventData<"order.cancelled"> };

/** An order leaves PENDING once; a second decision, whichever it is, changes nothing. */
export function decide(decision: OrderDecision, order: OrderState): OrderEvent[] {
  if (order.status !== "PENDING") return [];
  switch (decision.name) {
    case "order.approve.requested":
      return [{ name: "order.confirmed", data: { orderId: order.orderId, customerId: order.customerId, totalCents: order.totalCents } }];
    case "order.cancel.requested":
      return [{ name: "order.cancelled", data: { orderId: order.orderId, customerId: order.customerId, reason: decision.data.reason } }];
    default: {
      const never: never = decision;
      return never;
    }
  }
}

export function evolve(order: OrderState, event: OrderEvent): OrderState & { reason?: string } {
  switch (event.name) {
    case "order.confirmed":
      return { ...order, status: "CONFIRMED" };
    case "order.cancelled":
      return { ...order, status: "CANCELLED", reason: event.data.reason };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** Σ quantity × unit price, in minor units. */
export const totalOf = (items: readonly { quantity: number; unitPriceCents: number }[]): number =>
  items.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);

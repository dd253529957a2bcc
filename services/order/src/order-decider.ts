import type { EventData } from "@orderflow/contracts";

export type OrderStatus = "PENDING" | "CONFIRMED" | "CANCELLED";

export interface OrderState {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly totalCents: number;
  readonly reason?: string | undefined;
}

/** The saga's decisions, addressed to this service. */
export type OrderCommand =
  | { readonly name: "order.approve.requested"; readonly data: EventData<"order.approve.requested"> }
  | { readonly name: "order.cancel.requested"; readonly data: EventData<"order.cancel.requested"> };

/** What this service publishes about an order's outcome. */
export type OrderEvent =
  | { readonly name: "order.confirmed"; readonly data: EventData<"order.confirmed"> }
  | { readonly name: "order.cancelled"; readonly data: EventData<"order.cancelled"> };

/**
 * An order leaves PENDING once, to CONFIRMED or CANCELLED; any later decision changes nothing.
 *
 * @example
 * const events = decide({ name: "order.cancel.requested", data: { orderId, reason } }, order);
 * const next = events.reduce(evolve, order); // CANCELLED with the reason
 */
export function decide(command: OrderCommand, order: OrderState): OrderEvent[] {
  if (order.status !== "PENDING") return [];
  const { orderId, customerId, totalCents } = order;
  switch (command.name) {
    case "order.approve.requested":
      return [{ name: "order.confirmed", data: { orderId, customerId, totalCents } }];
    case "order.cancel.requested":
      return [{ name: "order.cancelled", data: { orderId, customerId, reason: command.data.reason } }];
    default: {
      const never: never = command;
      return never;
    }
  }
}

export function evolve(order: OrderState, event: OrderEvent): OrderState {
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

/**
 * Why a command changes nothing, for the log: a repeat of the decision already applied is routine,
 * the opposite decision (cancel after confirm, approve after cancel) is a conflict worth a warning.
 * Undefined when the command applies.
 */
export function ignoredBecause(
  command: OrderCommand,
  order: OrderState,
): { conflict: boolean; message: string } | undefined {
  if (order.status === "PENDING") return undefined;
  const wanted: OrderStatus = command.name === "order.approve.requested" ? "CONFIRMED" : "CANCELLED";
  return wanted === order.status
    ? { conflict: false, message: `order already ${order.status}` }
    : { conflict: true, message: `${command.name} ignored: order already ${order.status}` };
}

/** Σ quantity × unit price, in minor units. */
export const totalOf = (items: readonly { quantity: number; unitPriceCents: number }[]): number =>
  items.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);

import type { EventData } from "@orderflow/events";

/** What inventory knows when it decides: the stock of the SKUs involved and the order's reservation. */
export interface InventoryState {
  readonly stock: ReadonlyMap<string, { available: number; reserved: number }>;
  /** The order's reservation lines, or undefined when it has none. */
  readonly reservation?: { state: "reserved" | "released" | "committed"; items: { sku: string; quantity: number }[] };
}

export type InventoryInput =
  | { name: "order.created"; data: EventData<"order.created"> }
  | { name: "order.approve.requested"; data: EventData<"order.approve.requested"> }
  | { name: "inventory.release.requested"; data: EventData<"inventory.release.requested"> };

/** The events inventory publishes about its own state; `evolve` folds them. */
export type InventoryEvent =
  | { name: "stock.set"; data: EventData<"stock.set"> }
  | { name: "inventory.reserved"; data: EventData<"inventory.reserved"> }
  | { name: "inventory.rejected"; data: EventData<"inventory.rejected"> }
  | { name: "inventory.released"; data: EventData<"inventory.released"> }
  | { name: "inventory.committed"; data: EventData<"inventory.committed"> };

/** Sums the quantities of lines that name the same SKU; sorted by SKU. */
export function linesBySku(items: readonly { sku: string; quantity: number }[]): { sku: string; quantity: number }[] {
  const sums = new Map<string, number>();
  for (const l of items) sums.set(l.sku, (sums.get(l.sku) ?? 0) + l.quantity);
  return [...sums].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, quantity]) => ({ sku, quantity }));
}

/**
 * Reserve all lines or none; release or commit only a live reservation, and only once.
 * A request for an order without a live reservation decides nothing: replies and requests may be
 * duplicated or reordered, and the saga asks to release only what it saw reserved.
 */
export function decide(input: InventoryInput, state: InventoryState): InventoryEvent[] {
  switch (input.name) {
    case "order.created": {
      if (state.reservation) return [];
      const lines = linesBySku(input.data.items);
      for (const { sku, quantity } of lines) {
        const available = state.stock.get(sku)?.available ?? 0;
        if (available < quantity) {
          return [
            {
              name: "inventory.rejected",
              data: {
                orderId: input.data.orderId,
                sku,
                reason: `insufficient stock for ${sku}: requested ${quantity}, available ${available}`,
              },
            },
          ];
        }
      }
      return [{ name: "inventory.reserved", data: { orderId: input.data.orderId, items: lines } }];
    }
    case "inventory.release.requested":
      return state.reservation?.state === "reserved"
        ? [{ name: "inventory.released", data: { orderId: input.data.orderId, items: state.reservation.items } }]
        : [];
    case "order.approve.requested":
      return state.reservation?.state === "reserved"
        ? [{ name: "inventory.committed", data: { orderId: input.data.orderId, items: state.reservation.items } }]
        : [];
    default: {
      const never: never = input;
      return never;
    }
  }
}

/** Folds one of inventory's own events into its state. */
export function evolve(state: InventoryState, event: InventoryEvent): InventoryState {
  const stock = new Map(state.stock);
  const adjust = (sku: string, dAvailable: number, dReserved: number) => {
    const s = stock.get(sku) ?? { available: 0, reserved: 0 };
    stock.set(sku, { available: s.available + dAvailable, reserved: s.reserved + dReserved });
  };
  switch (event.name) {
    case "stock.set": {
      const s = stock.get(event.data.sku) ?? { available: 0, reserved: 0 };
      stock.set(event.data.sku, { ...s, available: event.data.available });
      return { ...state, stock };
    }
    case "inventory.reserved":
      for (const l of event.data.items) adjust(l.sku, -l.quantity, l.quantity);
      return { stock, reservation: { state: "reserved", items: event.data.items } };
    case "inventory.released":
      for (const l of event.data.items) adjust(l.sku, l.quantity, -l.quantity);
      return { stock, reservation: { state: "released", items: event.data.items } };
    case "inventory.committed":
      for (const l of event.data.items) adjust(l.sku, 0, -l.quantity);
      return { stock, reservation: { state: "committed", items: event.data.items } };
    case "inventory.rejected":
      return state;
    default: {
      const never: never = event;
      return never;
    }
  }
}

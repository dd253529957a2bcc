import type { EventData } from "@orderflow/contracts";

export interface StockLine {
  readonly sku: string;
  readonly quantity: number;
}

export interface StockLevel {
  /** What can still be reserved. */
  readonly available: number;
  /** Held by live reservations: neither sellable nor gone. */
  readonly reserved: number;
}

/**
 * What inventory knows of one order: its decision (reserved, then released or committed; or
 * rejected), or a tombstone — a release request that came before the order itself.
 */
export type Reservation =
  | {
      readonly orderId: string;
      readonly status: "reserved" | "released" | "committed";
      readonly items: readonly StockLine[];
    }
  | { readonly orderId: string; readonly status: "rejected"; readonly sku: string; readonly reason: string }
  | { readonly orderId: string; readonly status: "tombstone"; readonly reason: string };

/**
 * What a decision needs: the stock of the SKUs involved (a SKU missing from the map has no stock
 * row) and the order's reservation, if inventory already decided on the order.
 */
export interface InventoryState {
  readonly stock: ReadonlyMap<string, StockLevel>;
  readonly reservation?: Reservation | undefined;
}

/** What inventory is asked to do: the events it consumes, and the operator's `PUT /stock/:sku`. */
export type InventoryCommand =
  | { readonly name: "order.created"; readonly data: EventData<"order.created"> }
  | { readonly name: "order.approve.requested"; readonly data: EventData<"order.approve.requested"> }
  | { readonly name: "inventory.release.requested"; readonly data: EventData<"inventory.release.requested"> }
  | { readonly name: "set-stock"; readonly data: EventData<"stock.set"> };

/** The events inventory publishes. */
export type PublishedInventoryEvent =
  | { readonly name: "stock.set"; readonly data: EventData<"stock.set"> }
  | { readonly name: "inventory.reserved"; readonly data: EventData<"inventory.reserved"> }
  | { readonly name: "inventory.rejected"; readonly data: EventData<"inventory.rejected"> }
  | { readonly name: "inventory.released"; readonly data: EventData<"inventory.released"> }
  | { readonly name: "inventory.committed"; readonly data: EventData<"inventory.committed"> };

/**
 * A release request arrived for an order inventory has not seen: kept locally so that the order,
 * when it comes, is rejected instead of reserved. Not published — nobody else needs it, and no
 * catalog event fits (see the README on what a rebuild does with it).
 */
export interface TombstoneRecorded {
  readonly name: "tombstone.recorded";
  readonly data: { readonly orderId: string; readonly reason: string };
}

/** Everything that changes inventory's state; its state is their fold. */
export type InventoryEvent = PublishedInventoryEvent | TombstoneRecorded;

/** The names of the events inventory publishes, which `orderflow rebuild` replays. */
export const inventoryEventNames: ReadonlySet<string> = new Set<PublishedInventoryEvent["name"]>([
  "stock.set",
  "inventory.reserved",
  "inventory.rejected",
  "inventory.released",
  "inventory.committed",
]);

export const isPublished = (e: InventoryEvent): e is PublishedInventoryEvent =>
  e.name !== "tombstone.recorded";

/** Reasons travel in events whose schema caps them at 500 characters. */
const clip = (s: string) => (s.length <= 500 ? s : `${s.slice(0, 499)}…`);

/** One line per SKU (repeated SKUs summed), sorted by SKU. */
export function linesBySku(items: readonly StockLine[]): StockLine[] {
  const sums = new Map<string, number>();
  for (const l of items) sums.set(l.sku, (sums.get(l.sku) ?? 0) + l.quantity);
  return [...sums]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => ({ sku, quantity }));
}

/**
 * The first line (in SKU order) the stock cannot cover, with the reason; undefined when every line
 * fits. A SKU without a stock row has 0 available.
 */
function shortfall(lines: readonly StockLine[], stock: InventoryState["stock"]) {
  for (const { sku, quantity } of lines) {
    const available = stock.get(sku)?.available ?? 0;
    if (available < quantity) {
      return { sku, reason: `insufficient stock for ${sku}: requested ${quantity}, available ${available}` };
    }
  }
  return undefined;
}

/**
 * Reserves all of an order's lines or none, once per order; releases or commits only a live
 * reservation, once. A command that finds nothing to act on decides nothing: requests may be
 * duplicated, and the saga asks to release or commit only what it saw reserved. The one exception
 * is a release request for an order not seen yet: it leaves a tombstone, and the order, if it
 * comes later, is rejected (so nothing is reserved that nobody would ever release).
 *
 * @example
 * const events = decide({ name: "order.created", data }, state); // [inventory.reserved] or [inventory.rejected]
 * const next = events.reduce(evolve, state);
 */
export function decide(command: InventoryCommand, state: InventoryState): InventoryEvent[] {
  switch (command.name) {
    case "order.created": {
      const { orderId } = command.data;
      const lines = linesBySku(command.data.items);
      const r = state.reservation;
      if (r?.status === "tombstone" && r.orderId === orderId) {
        const reason = clip(`release requested before the order was reserved (${r.reason})`);
        return [{ name: "inventory.rejected", data: { orderId, sku: lines[0]?.sku ?? "", reason } }];
      }
      if (r) return [];
      const short = shortfall(lines, state.stock);
      return short
        ? [{ name: "inventory.rejected", data: { orderId, ...short } }]
        : [{ name: "inventory.reserved", data: { orderId, items: lines } }];
    }
    case "inventory.release.requested": {
      const r = state.reservation;
      if (!r) return [{ name: "tombstone.recorded", data: { ...command.data } }];
      return r.status === "reserved" && r.orderId === command.data.orderId
        ? [{ name: "inventory.released", data: { orderId: r.orderId, items: [...r.items] } }]
        : [];
    }
    case "order.approve.requested": {
      const r = state.reservation;
      return r?.status === "reserved" && r.orderId === command.data.orderId
        ? [{ name: "inventory.committed", data: { orderId: r.orderId, items: [...r.items] } }]
        : [];
    }
    case "set-stock": {
      const { sku, available } = command.data;
      return state.stock.get(sku)?.available === available
        ? []
        : [{ name: "stock.set", data: { sku, available } }];
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}

/** Folds one of inventory's events: the live path after `decide` and `orderflow rebuild` both use it. */
export function evolve(state: InventoryState, event: InventoryEvent): InventoryState {
  const adjust = (lines: readonly StockLine[], sign: { available: number; reserved: number }) => {
    const stock = new Map(state.stock);
    for (const { sku, quantity } of lines) {
      const s = stock.get(sku) ?? { available: 0, reserved: 0 };
      stock.set(sku, {
        available: s.available + sign.available * quantity,
        reserved: s.reserved + sign.reserved * quantity,
      });
    }
    return stock;
  };
  switch (event.name) {
    case "stock.set": {
      const stock = new Map(state.stock);
      const { sku, available } = event.data;
      stock.set(sku, { available, reserved: state.stock.get(sku)?.reserved ?? 0 });
      return { ...state, stock };
    }
    case "inventory.reserved": {
      const { orderId, items } = event.data;
      return {
        stock: adjust(items, { available: -1, reserved: 1 }),
        reservation: { orderId, status: "reserved", items },
      };
    }
    case "inventory.rejected": {
      const { orderId, sku, reason } = event.data;
      return { ...state, reservation: { orderId, status: "rejected", sku, reason } };
    }
    case "tombstone.recorded": {
      const { orderId, reason } = event.data;
      return { ...state, reservation: { orderId, status: "tombstone", reason } };
    }
    case "inventory.released": {
      const { orderId, items } = event.data;
      return {
        stock: adjust(items, { available: 1, reserved: -1 }),
        reservation: { orderId, status: "released", items },
      };
    }
    case "inventory.committed": {
      const { orderId, items } = event.data;
      return {
        stock: adjust(items, { available: 0, reserved: -1 }),
        reservation: { orderId, status: "committed", items },
      };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

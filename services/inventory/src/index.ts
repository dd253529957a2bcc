export { definition } from "./service.js";
export { decide, evolve, linesBySku, inventoryEventNames, isPublished } from "./inventory-decider.js";
export type {
  InventoryState,
  InventoryCommand,
  InventoryEvent,
  PublishedInventoryEvent,
  TombstoneRecorded,
  Reservation,
  StockLevel,
  StockLine,
} from "./inventory-decider.js";
export { applyOwnEvent } from "./inventory-store.js";
export type { StockView } from "./inventory-store.js";
export type { InventoryDb } from "./migrations.js";

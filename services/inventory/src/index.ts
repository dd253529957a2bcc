export { definition } from "./service.js";
export { decide, evolve, linesBySku } from "./decide.js";
export type { InventoryState, InventoryInput, InventoryEvent } from "./decide.js";
export { applyOwnEvent } from "./store.js";
export type { InventoryDb } from "./migrations.js";

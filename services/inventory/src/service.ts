import {
  catalog,
  sourceOf,
  inventoryEvents,
  type OrderflowCatalog,
  type InventoryEvents,
} from "@orderflow/contracts";
import type { ServiceDefinition } from "@orderflow/host";
import { inventoryHandlers } from "./inventory-handlers.js";
import { applyOwnEvent, lockBatch } from "./inventory-store.js";
import { migrations, type InventoryDb } from "./migrations.js";
import { stockRoutes } from "./stock-routes.js";

/** Stock per SKU and a reservation per order: reserve all or none, then release or commit once. */
export const definition: ServiceDefinition<InventoryDb, {}, InventoryEvents, OrderflowCatalog> = {
  name: "inventory",
  source: sourceOf("inventory"),
  publishes: inventoryEvents,
  consumes: catalog,
  database: "inventory",
  defaultPort: 3001,
  migrations,
  handlers: inventoryHandlers,
  lockBatch,
  routes: stockRoutes,
  projection: {
    context: "inventory",
    apply: applyOwnEvent,
  },
};
